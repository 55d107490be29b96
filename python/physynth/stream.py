"""Reads `physynth feed --stdout`: per batch four NPY arrays back to back (x, y, sample, time),
from a pipe or any stream that cannot seek, with numpy alone (np.load needs to seek)."""
import ast

import numpy as np


def read_array(stream):
    """One NPY (format 1.0) array from a binary stream; None at the end of the stream."""
    prefix = stream.read(10)  # b"\x93NUMPY", version 1.0, header length (uint16, little-endian)
    if not prefix:
        return None
    if len(prefix) < 10 or prefix[:6] != b"\x93NUMPY":
        raise ValueError("not an NPY array (the stream is not physynth feed's, or was cut)")
    header = ast.literal_eval(stream.read(int.from_bytes(prefix[8:10], "little")).decode("latin1"))
    dtype, shape = np.dtype(header["descr"]), header["shape"]
    count = int(np.prod(shape))
    data = stream.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError("the stream ended inside an array")
    return np.frombuffer(data, dtype).reshape(shape)


def read_batches(stream):
    """Yields (x, y, sample, time) per batch until the stream ends."""
    while (x := read_array(stream)) is not None:
        yield x, read_array(stream), read_array(stream), read_array(stream)
