import json
import warnings

import h5py
import numpy as np
import pytest

import physynth
from conftest import text, FLEET, FLEET_SET, SOURCE


def test_a_bad_scenario_raises_with_file_line_and_column():
    with pytest.raises(physynth.ScenarioError) as e:
        physynth.load_scenario(SOURCE / "tests/fixtures/bad/negative_rtol.yaml")
    errors = [d for d in e.value.diagnostics if d.severity == "error"]
    assert errors, e.value.diagnostics
    assert errors[0].file.endswith("negative_rtol.yaml") and errors[0].line > 0 and errors[0].column > 0
    assert "solver.rtol" in str(e.value) and "nothing was run" in str(e.value)


def test_set_overrides_and_their_errors():
    s = physynth.load_scenario(FLEET, set={"sampling.samples": 7, "solver.rtol": 1e-7})
    assert s.samples == 7 and s.resolved["solver"]["rtol"] == 1e-7
    with pytest.raises(physynth.ScenarioError) as e:
        physynth.load_scenario(FLEET, set={"solver.rtol": -1})
    assert any(d.file == "--set" for d in e.value.diagnostics), e.value.diagnostics


def test_a_missing_file_is_a_scenario_error():
    with pytest.raises(physynth.ScenarioError, match="no_such.yaml"):
        physynth.load_scenario("no_such.yaml")


def h5_shards(directory):
    return sorted(directory.glob("shard-*.h5"))


def test_run_in_memory_equals_the_folder_and_open_run_equals_the_hdf5_files(tmp_path):
    s = physynth.load_scenario(FLEET, set=FLEET_SET)
    memory = physynth.run(s, threads=2)
    folder = physynth.run(s, out=tmp_path / "run", threads=1)
    assert folder.manifest["status"] == "complete" and memory.directory is None
    files = h5_shards(tmp_path / "run")
    assert len(files) == 3
    h5 = [h5py.File(f, "r") for f in files]
    for name in ("states", "parameters", "labels", "record_labels", "status", "t_reached", "sample"):
        from_files = np.concatenate([f[name][:] for f in h5])
        assert np.array_equal(getattr(folder, name), from_files, equal_nan=True), name
        assert np.array_equal(getattr(memory, name), from_files, equal_nan=True), name
    assert np.array_equal(folder.time, h5[0]["time"][:])
    assert folder.states.shape == (60, len(folder.time), len(folder.state_names))
    for name, c in folder.observations.items():
        values = np.concatenate([f["observations"][name]["values"][:] for f in h5])
        assert np.array_equal(c["values"], values, equal_nan=True), name
        assert np.array_equal(memory.observations[name]["values"], values, equal_nan=True), name
        assert c["units"] == text(h5[0]["observations"][name]["values"].attrs["units"])
    assert folder.state_names == [text(n) for n in h5[0]["states"].attrs["names"]]
    # The arrays are numpy arrays that own their memory through the engine's vectors.
    assert folder.states.flags["C_CONTIGUOUS"] and folder.states.dtype == np.float64


def test_run_refuses_a_folder_that_holds_a_run(tmp_path):
    s = physynth.load_scenario(FLEET, set={"sampling.samples": 2})
    physynth.run(s, out=tmp_path / "r")
    with pytest.raises(RuntimeError, match="--overwrite|overwrite"):
        physynth.run(s, out=tmp_path / "r")
    physynth.run(s, out=tmp_path / "r", overwrite=True)


def test_open_run_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(RuntimeError, match="manifest.json"):
        physynth.open_run(tmp_path)


def test_tidy_frames():
    pd = pytest.importorskip("pandas")
    run = physynth.run(FLEET, set={"sampling.samples": 4})
    obs = run.to_pandas()
    assert list(obs.columns) == ["sample", "channel", "time", "value", "units"]
    n = sum(c["values"].size for c in run.observations.values())
    assert len(obs) == n
    first = next(iter(run.observations))
    one = obs[(obs.channel == first) & (obs["sample"] == 2)]
    assert np.array_equal(one.value.to_numpy(), run.observations[first]["values"][2], equal_nan=True)
    assert run.to_pandas("parameters").shape == (4, len(run.parameter_names))
    assert len(run.to_pandas("states")) == run.states.size


def test_waveforms_come_back_as_written(tmp_path):
    s = physynth.load_scenario(SOURCE / "scenarios/manufacturing/mixed_fleet.yaml",
                               set={"sampling.samples": 5, "output.shard_size": 3, "output.waveforms": {"every": 20}})
    folder = physynth.run(s, out=tmp_path / "run")
    memory = physynth.run(s)
    files = h5_shards(tmp_path / "run")
    signal = np.concatenate([h5py.File(f, "r")["waveforms/signal"][:] for f in files])
    w = folder.waveforms
    assert w["signal"].shape == signal.shape == (5, 4, 5000) and w["signal"].dtype == np.float32
    assert np.array_equal(w["signal"], signal, equal_nan=True)
    assert np.array_equal(memory.waveforms["signal"], signal, equal_nan=True)
    ds = h5py.File(files[0], "r")["waveforms/signal"]
    assert ds.chunks == (1, 1, 5000) and ds.attrs["sample_rate_hz"] == w["sample_rate_hz"] == 20000
    assert text(ds.attrs["units"]) == w["units"] == "g"
    assert list(w["time"]) == [0, 1000, 2000, 3000]
    # Where a unit had ended, its snapshots are NaN; where it ran, the RMS is the recorded feature's.
    rows = np.searchsorted(folder.observations["vib_rms"]["time"], w["time"])
    rms = folder.observations["vib_rms"]["values"][:, rows]
    ran = ~np.isnan(w["signal"][:, :, 0])
    assert np.array_equal(ran, ~np.isnan(rms))
    assert np.allclose(np.sqrt((w["signal"][ran].astype(np.float64) ** 2).mean(axis=1)), rms[ran], rtol=1e-6)


def test_anchor_and_audit_as_the_commands_do(tmp_path):
    import subprocess
    from conftest import CLI
    puromycin = SOURCE / "scenarios/kinetics/puromycin.yaml"
    result = physynth.anchor(puromycin, out=tmp_path / "fit")
    assert result["success"] and result["log_likelihood_after"] >= result["log_likelihood_before"]
    subprocess.run([CLI, "anchor", str(puromycin), "-q", "-o", str(tmp_path / "cli")], check=True)
    cli_fit = json.loads((tmp_path / "cli" / "fit.json").read_text())
    assert result["fit"]["shared"] == cli_fit["shared"]  # the same estimates, to the bit
    calibrated = physynth.run(result["calibrated"], out=tmp_path / "run")
    real = SOURCE / "data/kinetics/puromycin/treated.csv"
    a = physynth.audit(calibrated, real, permutations=50)
    subprocess.run([CLI, "audit", str(tmp_path / "run"), "--real", str(real), "--permutations", "50", "-q"], check=True)
    assert a == json.loads((tmp_path / "run" / "fidelity_audit.json").read_text())
    # A user's folder is not calibrated into; refused data name their line.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="not written by physynth|physynth did not write|notes.txt"):
        physynth.anchor(puromycin, out=mine)
    assert (mine / "notes.txt").read_text() == "mine"
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,time,observable,value\nA,0,rate,abc\n")
    with pytest.raises(physynth.DataError) as e:
        physynth.anchor(puromycin, out=tmp_path / "fit2", data=bad)
    assert any(d.line == 2 for d in e.value.diagnostics), e.value.diagnostics
    with pytest.raises(ValueError, match="run folder"):
        physynth.audit(physynth.run(puromycin, set={"sampling.samples": 2}), real)


def test_the_model_itself_for_other_tools():
    # Michaelis-Menten from elementary steps: f by hand, the Jacobian against central differences,
    # and solve_ivp on physynth's f and J against physynth's own run of the same sample.
    s = physynth.load_scenario(SOURCE / "scenarios/kinetics/michaelis_menten.yaml", set={"sampling.samples": 1})
    assert s.state_names == ["E", "S", "ES", "P"]
    names = s.parameter_names
    run = physynth.run(s)
    p = np.asarray(run.parameters[0], dtype=float)
    v = dict(zip(names, p))
    y0 = s.initial_state(p)
    assert np.allclose(y0, [v["E0"], v["S0"], 0.0, 0.0])
    y = np.array([0.04, 20.0, 0.01, 3.0])
    v1 = v["kon"] * y[0] * y[1] - v["koff"] * y[2]
    v2 = v["kcat"] * y[2]
    assert np.allclose(s.rhs(0.0, y, p), [-v1 + v2, -v1, v1 - v2, v2], rtol=1e-14)
    J = s.jacobian(0.0, y, p)
    h = 1e-6
    fd = np.column_stack([(s.rhs(0, y + h * e, p) - s.rhs(0, y - h * e, p)) / (2 * h) for e in np.eye(4)])
    assert np.allclose(J, fd, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="one value per parameter"):
        s.rhs(0.0, y, p[:-1])
    with pytest.raises(ValueError, match="one value per state"):
        s.jacobian(0.0, y[:2], p)
    from scipy.integrate import solve_ivp

    t = np.asarray(run.time, dtype=float)
    sol = solve_ivp(lambda tt, yy: s.rhs(tt, yy, p), (t[0], t[-1]), y0, method="LSODA", t_eval=t,
                    jac=lambda tt, yy: s.jacobian(tt, yy, p), rtol=1e-10, atol=1e-13)
    states = np.asarray(run.states[0], dtype=float)
    assert np.allclose(sol.y.T, states, rtol=1e-6, atol=1e-9)


def test_a_conditioned_scenario_runs_through_the_rare_event_sampler(tmp_path):
    # tests/fixtures/rare_event/lognormal_tail.yaml: P(y(2) > 1) = 1.0204e-4 in closed form.
    fixture = SOURCE / "tests/fixtures/rare_event/lognormal_tail.yaml"
    run = physynth.run(fixture, out=tmp_path / "tail", set={"sampling.samples": 500})
    rare = run.manifest["rare_event"]
    assert rare["reached"] and abs(rare["probability"] / 1.0204e-4 - 1) < 0.15
    labels, names = run.labels, list(run.label_names)
    event, weight = labels[:, names.index("event")], labels[:, names.index("prior_weight")]
    assert np.isclose(np.mean(event * weight), rare["probability"], rtol=1e-12)
    with pytest.raises(Exception, match="sampling.condition"):
        physynth.run(fixture)  # in memory: not the sampler's samples
