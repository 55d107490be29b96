"""Reads a physynth run with independent readers (h5py, numpy, csv) and checks
that the three formats hold the same numbers and the manifest's checksums."""
import csv
import hashlib
import json
import math
import sys
from pathlib import Path

import h5py
import numpy as np

run = Path(sys.argv[1])
manifest = json.loads((run / "manifest.json").read_text())
for shard in manifest["shards"]:
    for f in shard["files"]:
        data = (run / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["path"]
        assert len(data) == f["bytes"], f["path"]

h5 = h5py.File(run / "shard-000000.h5", "r")
states = h5["states"][:]
names = [n.decode() if isinstance(n, bytes) else n for n in h5["states"].attrs["names"]]
assert np.array_equal(np.load(run / "shard-000000.states.npy"), states, equal_nan=True)
assert np.array_equal(np.load(run / "shard-000000.parameters.npy"), h5["parameters"][:])
assert np.array_equal(np.load(run / "shard-000000.time.npy"), h5["time"][:])
assert np.array_equal(np.load(run / "shard-000000.status.npy"), h5["status"][:])
for name in h5["observations"]:
    assert np.array_equal(np.load(run / f"shard-000000.obs.{name}.npy"),
                          h5["observations"][name]["values"][:], equal_nan=True)

with open(run / "shard-000000.csv", newline="") as fh:
    rows = list(csv.DictReader(fh))
T = h5["time"].shape[0]
assert len(rows) == states.shape[0] * T
for row in rows:
    i = int(row["sample"])
    k = int(np.searchsorted(h5["time"][:], float(row["time"])))
    for n, name in enumerate(names):
        value = float(row[name]) if row[name] else math.nan
        assert value == states[i, k, n] or (math.isnan(value) and math.isnan(states[i, k, n]))
print(f"readback ok: {states.shape[0]} samples, {T} times, {len(names)} states, "
      f"{sum(len(s['files']) for s in manifest['shards'])} files checksummed")
