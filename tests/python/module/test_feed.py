import json
import subprocess

import h5py
import numpy as np
import pytest

import physynth
from conftest import CLI, text, FLEET, FLEET_SET, cli, cli_set


def file_windows(directory, split="train"):
    f = h5py.File(directory / f"windows-{split}.h5", "r")
    return {k: f[k][:] for k in ("x", "y", "sample", "end_time", "time")}, f


def test_window_files_describe_themselves(fleet_files):
    w, f = file_windows(fleet_files)
    d = json.loads((fleet_files / "windows-train.json").read_text())
    assert json.loads(f.attrs["description"]) == d
    assert d["x"]["channels"] == ["temperature_sensor"] and d["x"]["units"] == ["degC"]
    assert d["y"]["label"] == "rul" and d["y"]["units"] == "h" and "clipped" in d["y"]["definition"]
    assert d["time"]["units"] == "h" and d["count"] == len(w["y"]) > 0
    assert [text(c) for c in f["x"].attrs["units"]] == d["x"]["units"]
    assert text(f["time"].attrs["units"]) == "h"
    # The NPY files hold the same, unit ids and times included.
    for k, npy in (("x", "x"), ("y", "y"), ("sample", "sample"), ("time", "time")):
        assert np.array_equal(np.load(fleet_files / f"windows-train.{npy}.npy"), w[k], equal_nan=True), k
    # A window's time is its last reading's time, not its index.
    assert np.all(np.diff(w["time"][w["sample"] == w["sample"][0]]) > 0)
    # A provenance card per channel: its equation, sensor model and where parameters came from.
    card = d["x"]["cards"][0]
    assert card["name"] == "temperature_sensor" and card["units"] == "degC" and card["model"] == "bearing_degradation"
    assert card["equation"].startswith("temperature") and card["sensor"]["additive_sd"] == 0.2
    assert "parameter distributions" in card["parameters"]


def test_split_manifest_lists_every_unit_once(fleet_files):
    rows = [line.split(",") for line in (fleet_files / "splits.csv").read_text().splitlines()[1:]]
    assert [int(r[0]) for r in rows] == list(range(60))
    for split in ("train", "validation", "test"):
        w, _ = file_windows(fleet_files, split)
        units, counts = np.unique(w["sample"], return_counts=True)
        listed = {int(r[0]): int(r[2]) for r in rows if r[1] == split}
        assert set(units) <= set(listed)
        assert all(listed[u] == c for u, c in zip(units, counts))
        assert all(n == 0 for u, n in listed.items() if u not in set(units))


def test_feed_iterator_equals_the_files(fleet_files):
    w, _ = file_windows(fleet_files, "validation")
    batches = list(physynth.feed(FLEET, split="validation", set=FLEET_SET))
    assert all(len(y) <= 128 for _, y, _ in batches)
    for key, got in (("x", np.concatenate([b[0] for b in batches])), ("y", np.concatenate([b[1] for b in batches])),
                     ("sample", np.concatenate([b[2]["sample"] for b in batches])),
                     ("time", np.concatenate([b[2]["time"] for b in batches])),
                     ("end_time", np.concatenate([b[2]["reading"] for b in batches]))):
        assert np.array_equal(got, w[key], equal_nan=True), key


def test_feed_dataset_over_two_workers_yields_each_window_once(fleet_files):
    torch = pytest.importorskip("torch")
    import physynth.torch
    w, _ = file_windows(fleet_files)
    ds = physynth.torch.FeedDataset(FLEET, split="train", set=FLEET_SET, batch_size=50)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    xs, ys, samples, readings = [], [], [], []
    for x, y, meta in loader:
        assert x.shape[0] <= 50 and x.dtype == torch.float32
        xs.append(x.numpy()), ys.append(y.numpy()), samples.append(meta["sample"].numpy())
        readings.append(meta["reading"].numpy())
    sample, reading = np.concatenate(samples), np.concatenate(readings)
    order = np.lexsort((reading, sample))  # the files' canonical order: by unit, then reading
    assert len(sample) == len(w["sample"])
    assert np.array_equal(sample[order], w["sample"]) and np.array_equal(reading[order], w["end_time"])
    assert np.array_equal(np.concatenate(xs)[order], w["x"], equal_nan=True)
    assert np.array_equal(np.concatenate(ys)[order], w["y"])
    # Both workers had work: the units came from more than one shard.
    assert len(set((sample // 25).tolist())) > 1


def test_stream_from_a_real_pipe_equals_the_files(fleet_files):
    w, _ = file_windows(fleet_files)
    n = 3
    proc = subprocess.Popen([CLI, "feed", str(FLEET), "--stdout", "--endless", *cli_set(FLEET_SET)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    got = []
    for batch in physynth.read_batches(proc.stdout):
        got.append(batch)
        if len(got) == n:
            break
    proc.kill()
    proc.wait()
    x, y, sample, time = (np.concatenate([b[k] for b in got]) for k in range(4))
    assert len(y) == n * 128 <= len(w["y"])
    assert np.array_equal(x, w["x"][:len(y)], equal_nan=True) and np.array_equal(y, w["y"][:len(y)])
    assert np.array_equal(sample, w["sample"][:len(y)]) and np.array_equal(time, w["time"][:len(y)])


def test_cmapss_units_are_numbered_without_gaps(tmp_path):
    path = tmp_path / "fleet.txt"
    cli("feed", FLEET, "--cmapss", path, *cli_set(FLEET_SET))
    rows = np.loadtxt(path)
    side = json.loads((tmp_path / "fleet.txt.json").read_text())
    units = np.unique(rows[:, 0]).astype(int)
    assert list(units) == list(range(1, len(units) + 1)) == [u["unit"] for u in side["units"]]
    assert len(units) < 60  # some units were censored; still no gaps
    for u in side["units"]:
        cycles = rows[rows[:, 0] == u["unit"], 1]
        assert list(cycles) == list(range(1, u["cycles"] + 1))
        assert side["cycle_times"][u["cycles"] - 1] <= u["failure_time"]
    # A file physynth did not write is never replaced.
    mine = tmp_path / "mine.txt"
    mine.write_text("my data\n")
    r = subprocess.run([CLI, "feed", str(FLEET), "--cmapss", str(mine)], capture_output=True, text=True)
    assert r.returncode == 2 and "not written by physynth" in r.stderr and mine.read_text() == "my data\n"


def test_feed_of_a_run_folder_is_the_feed_of_its_scenario(tmp_path):
    run = physynth.run(FLEET, out=tmp_path / "run", set=FLEET_SET)
    a = list(physynth.feed(run, split="test"))
    b = list(physynth.feed(FLEET, split="test", set=FLEET_SET))
    assert len(a) == len(b) > 0
    for (xa, ya, ma), (xb, yb, mb) in zip(a, b):
        assert np.array_equal(xa, xb, equal_nan=True) and np.array_equal(ya, yb)
        assert np.array_equal(ma["sample"], mb["sample"])


def test_feed_window_and_batch_size_arguments():
    x, y, meta = next(physynth.feed(FLEET, split="train", window=5, batch_size=7, set=FLEET_SET))
    assert x.shape == (7, 5, 1) and len(y) == 7 and meta["split"] == "train"
    with pytest.raises(physynth.ScenarioError, match="feed.window"):
        next(physynth.feed(FLEET, window=0, set=FLEET_SET))
