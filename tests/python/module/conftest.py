"""Shared fixtures of the physynth module's tests (run by ctest: PYTHONPATH names the build's
python/ folder, PHYSYNTH_CLI the program, PHYSYNTH_SOURCE_DIR the repository)."""
import os
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(os.environ.get("PHYSYNTH_SOURCE_DIR", Path(__file__).resolve().parents[3]))
CLI = os.environ.get("PHYSYNTH_CLI", "physynth")
FLEET = SOURCE / "scenarios/manufacturing/bearing_fleet.yaml"
# A fleet small enough for a test, in three shards, drawn at random (an endless feed needs it).
FLEET_SET = {"sampling.samples": 60, "sampling.design": "random", "output.shard_size": 25}


def text(v):
    """An HDF5 string attribute as str, whether h5py gives bytes or str."""
    return v.decode() if isinstance(v, bytes) else str(v)


def cli(*args, **kwargs):
    return subprocess.run([CLI, *map(str, args)], check=True, capture_output=True, **kwargs)


def cli_set(values):
    out = []
    for k, v in values.items():
        out += ["--set", f"{k}={v}"]
    return out


@pytest.fixture(scope="session")
def fleet_files(tmp_path_factory):
    """`physynth feed -o` of the small fleet: the window files the module must reproduce."""
    d = tmp_path_factory.mktemp("feed")
    cli("feed", FLEET, "-o", d, *cli_set(FLEET_SET))
    return d
