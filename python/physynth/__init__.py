"""physynth from Python: load a scenario, generate its data, open a run, feed a training loop.

    import physynth
    s = physynth.load_scenario("scenarios/manufacturing/bearing_fleet.yaml", set={"sampling.samples": 40})
    run = physynth.run(s)                 # in memory; physynth.run(s, out="DIR") writes a run folder
    run.observations["vib_rms"]["values"] # numpy, samples x readings
    for x, y, meta in physynth.feed(s, split="train"):
        ...                               # x: windows x window x channels, y: targets, meta: unit, time

The engine is C++ (physynth._physynth); arrays come back without copies and the GIL is released
while it works. docs/python.md has the whole API.
"""
import json as _json
import os as _os
import warnings as _warnings
from typing import NamedTuple as _NamedTuple

from . import _physynth
from .stream import read_batches

__version__ = _physynth.__version__
__all__ = ["load_scenario", "run", "open_run", "feed", "anchor", "audit", "read_batches", "Scenario", "Run",
           "ScenarioError", "DataError", "Diagnostic"]


class Diagnostic(_NamedTuple):
    severity: str  # "error" or "warning"
    file: str
    line: int      # 1-based; 0 when unknown
    column: int
    message: str

    def __str__(self):
        where = self.file + (f":{self.line}" if self.line else "") + (f":{self.column}" if self.column else "")
        return f"{where}: {self.severity}: {self.message}"


class ScenarioError(ValueError):
    """A scenario that does not load: str(e) is the report physynth validate prints, e.diagnostics
    the individual errors and warnings with file, line and column."""

    def __init__(self, report, diagnostics):
        super().__init__(report)
        self.diagnostics = diagnostics


class DataError(ValueError):
    """Real data or a calibration problem that is refused: str(e) is the report the command
    prints, e.diagnostics the individual findings with file, line and column."""

    def __init__(self, report, diagnostics):
        super().__init__(report)
        self.diagnostics = diagnostics


def _refused(result):
    value, items, report = result
    if value is None:
        raise DataError(report.rstrip("\n"), [Diagnostic(*d) for d in items])
    return value


def _override(key, value):
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:  # lists and mappings as YAML flow (JSON is YAML)
        text = _json.dumps(value)
    return f"{key}={text}"


class Scenario:
    """A validated scenario (physynth.load_scenario)."""

    def __init__(self, handle, warnings=()):
        self._handle = handle
        self.warnings = list(warnings)

    file = property(lambda self: self._handle.file)
    name = property(lambda self: self._handle.name)
    domain = property(lambda self: self._handle.domain)
    samples = property(lambda self: self._handle.samples)
    seed = property(lambda self: self._handle.seed)
    time_units = property(lambda self: self._handle.time_units)
    overrides = property(lambda self: list(self._handle.overrides))

    @property
    def resolved(self):
        """The scenario after defaults and overrides, as a dict (what the manifest records)."""
        return _json.loads(self._handle.resolved_json)

    @property
    def feed_channels(self):
        return list(self._handle.feed_channels)

    @property
    def feed_target(self):
        return self._handle.feed_target

    @property
    def feed_batch_size(self):
        return self._handle.feed_batch_size

    # The model itself, to use beside other tools (SciPy's solve_ivp, a user's own code). p has
    # one value per parameter_names entry (a run's "parameters" rows are such vectors), y one per
    # state_names entry; the Jacobian is exact (automatic differentiation).
    @property
    def state_names(self):
        return list(self._handle.state_names)

    @property
    def parameter_names(self):
        return list(self._handle.parameter_names)

    def initial_state(self, p):
        """y0(p)."""
        return self._handle.initial_state(p)

    def rhs(self, t, y, p):
        """dy/dt = f(t, y, p)."""
        return self._handle.rhs(float(t), y, p)

    def jacobian(self, t, y, p):
        """df/dy at (t, y, p), n x n (row i: df_i/dy)."""
        return self._handle.jacobian(float(t), y, p)

    def __repr__(self):
        return f"<physynth.Scenario {self.name!r} from {self.file!r}: {self.samples} samples>"


def _load(path, overrides, warn=False):
    """The one way in: a Scenario from a file and --set texts, or ScenarioError."""
    handle, items, report = _physynth.load_scenario(_os.fspath(path), list(overrides))
    diagnostics = [Diagnostic(*d) for d in items]
    if handle is None:
        raise ScenarioError(report.rstrip("\n"), diagnostics)
    warned = [d for d in diagnostics if d.severity == "warning"]
    if warn:
        for d in warned:
            _warnings.warn(str(d), stacklevel=3)
    return Scenario(handle, warned)


def load_scenario(path, set=None):
    """Reads and validates a scenario file, as `physynth validate` does. `set` overrides values
    ({"sampling.samples": 100, "solver.rtol": 1e-8}, like --set). Raises ScenarioError with the
    file:line:col diagnostics; warnings go through the warnings module."""
    return _load(path, [_override(k, v) for k, v in (set or {}).items()], warn=True)


def _scenario(s, set=None):
    """A Scenario from a Scenario, a file name, or a run folder's Run (its manifest names the
    scenario file and the --set values it ran with; the same seed gives the same data)."""
    if isinstance(s, Scenario):
        return s
    if isinstance(s, Run):
        if not s.manifest:
            raise ValueError("a Run computed in memory has no scenario file; pass the Scenario")
        m = s.manifest["scenario"]
        return _load(m["file"], list(m["overrides"]) + [_override(k, v) for k, v in (set or {}).items()])
    return load_scenario(s, set=set)


class Run:
    """A run's data as numpy arrays: from physynth.run (in memory or a folder) or physynth.open_run.

    time (T), states (samples x T x states), parameters (samples x parameters), labels
    (samples x labels), record_labels (samples x T x record labels), status (0 ok, 1 stopped by
    its event, 2 failed), t_reached, solver_stats, observations {name: {time, values, units}},
    with the names and units of each; sample (the sample index of each row); manifest and audit
    (dicts, for a folder; audit["health_indicators"] rates each channel of a fleet run to
    failure) and directory (None in memory).
    """

    def __init__(self, arrays, manifest=None, directory=None):
        self.__dict__.update(arrays)
        self.manifest = manifest
        self.directory = directory
        self.audit = None

    @property
    def num_samples(self):
        return len(self.sample)

    def to_pandas(self, what="observations"):
        """A tidy DataFrame (needs pandas): what="observations" gives sample, channel, time,
        value, units; "states" gives sample, state, time, value, units; "parameters" one row per
        sample with a column per parameter; "labels" likewise."""
        import numpy as np
        import pandas as pd
        if what == "parameters":
            return pd.DataFrame(self.parameters, columns=self.parameter_names, index=pd.Index(self.sample, name="sample"))
        if what == "labels":
            return pd.DataFrame(self.labels, columns=self.label_names, index=pd.Index(self.sample, name="sample"))
        frames = []
        if what == "observations":
            for name, c in self.observations.items():
                S, R = c["values"].shape
                frames.append(pd.DataFrame({"sample": np.repeat(self.sample, R), "channel": name,
                                            "time": np.tile(c["time"], S), "value": c["values"].reshape(-1),
                                            "units": c["units"]}))
        elif what == "states":
            S, T, N = self.states.shape
            for k, name in enumerate(self.state_names):
                frames.append(pd.DataFrame({"sample": np.repeat(self.sample, T), "state": name,
                                            "time": np.tile(self.time, S), "value": self.states[:, :, k].reshape(-1),
                                            "units": self.state_units[k]}))
        else:
            raise ValueError(f"to_pandas: what={what!r}; one of 'observations', 'states', 'parameters', 'labels'")
        return pd.concat(frames, ignore_index=True)

    def __repr__(self):
        where = self.directory or "memory"
        return f"<physynth.Run {self.num_samples} samples, {len(self.time)} times, in {where}>"


def run(scenario, out=None, threads=0, overwrite=False, set=None):
    """Generates a scenario's samples. out=None: in memory (nothing written), returns a Run.
    out=DIR: writes the run folder exactly as `physynth run -o DIR` does (the same bytes) and
    returns open_run(DIR). `scenario` is a Scenario or a file name (then `set` applies). A
    scenario with sampling.condition (rare events) needs out=DIR: its samples come from the
    rare-event sampler, and the manifest's "rare_event" holds the event's probability."""
    s = _scenario(scenario, set)
    if out is None:
        return Run(_physynth.Generator(s._handle, threads).all())
    summary = _physynth.run(s._handle, _os.fspath(out), threads, overwrite)
    if not summary["completed"]:
        raise RuntimeError(f"physynth.run: {summary['message']}")
    return open_run(summary["directory"])


def open_run(directory):
    """A run folder's manifest and audit (dicts; audit None for an unfinished run) and data
    (every HDF5 shard, in sample order)."""
    manifest, arrays = _physynth.open_run(_os.fspath(directory))
    run = Run(arrays, _json.loads(manifest), _os.fspath(directory))
    audit = _os.path.join(_os.fspath(directory), "audit.json")
    if _os.path.exists(audit):
        with open(audit) as f:
            run.audit = _json.load(f)
    return run


def _reloaded(s, values):
    """The scenario again from its file, with its own overrides and these values on top."""
    if not values:
        return s
    return _load(s.file, s.overrides + [_override(k, v) for k, v in values.items()])


def feed(scenario, split="train", window=None, batch_size=None, endless=False, threads=0, set=None):
    """Batches of training windows, computed on the fly (as `physynth feed --stdout`) for a
    Scenario, a scenario file or a run folder's Run (its scenario and --set values): yields
    (x, y, meta) with x windows x window x channels (float32, NaN where a reading is missing),
    y the targets (float32) and meta {"sample", "time", "reading", "split"}: each window's unit,
    the time of its last reading (scenario time unit) and its index. `window` (readings per
    window) and `batch_size` (windows per batch; the last may hold fewer) default to the
    scenario's feed section; endless=True goes on past the scenario's samples (random and Sobol
    designs)."""
    s = _scenario(scenario, set)
    s = _reloaded(s, {k: v for k, v in (("feed.window", window), ("feed.batch_size", batch_size)) if v is not None})
    stream = _physynth.Feed(s._handle, split, endless, threads)
    while True:
        b = stream.next()
        if b is None:
            return
        yield b["x"], b["y"], {"sample": b["sample"], "time": b["time"], "reading": b["reading"], "split": split}


def anchor(scenario, out, data=None, starts=0, threads=0, set=None):
    """Calibrates a scenario on real data (its anchor.data, or `data`, a tidy CSV) into the folder
    `out`, as `physynth anchor -o out` does: fit.json, calibrated.yaml, fidelity.md, ... A folder
    holding a user's files is refused (RuntimeError); refused data raise DataError with their
    locations. Returns a dict: success, message, seconds, files, log-likelihood before and after,
    fit (fit.json) and calibrated (the calibrated scenario's path)."""
    s = _scenario(scenario, set)
    result = _refused(_physynth.anchor(s._handle, _os.fspath(data) if data else "", _os.fspath(out), starts, threads))
    fit = _os.path.join(_os.fspath(out), "fit.json")
    if _os.path.exists(fit):
        with open(fit) as f:
            result["fit"] = _json.load(f)
    result["calibrated"] = _os.path.join(_os.fspath(out), "calibrated.yaml")
    if not result["success"]:
        raise RuntimeError(f"physynth.anchor: the calibration failed: {result['message']}")
    return result


def audit(run, real, label=None, permutations=500, seed=0, max_units=2000, neighbours=5):
    """The fidelity audit of a run folder (a Run from a folder, or its path) against real data
    (a tidy CSV), as `physynth audit` computes it; returned as a dict, nothing written."""
    directory = run.directory if isinstance(run, Run) else _os.fspath(run)
    if directory is None:
        raise ValueError("physynth.audit needs a run folder: physynth.run(scenario, out=DIR)")
    text = _refused(_physynth.audit(directory, _os.fspath(real), label or "", permutations, seed, max_units,
                                    neighbours))
    return _json.loads(text)
