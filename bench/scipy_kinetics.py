"""The same kinetics problems with SciPy's solve_ivp (LSODA and BDF, analytic
Jacobians), on the same parameter samples, tolerances and output grids as a
physynth run. Reads the run's first HDF5 shard, times SciPy's solves (the
median of 3 passes, as physynth's runs are timed, after one solve untimed), and
reports how far SciPy's answers are from physynth's.

    /usr/bin/python3 bench/scipy_kinetics.py SCENARIO RUN_DIR N_TRAJECTORIES [PASSES [METHOD...]]

PASSES defaults to 3 and METHODs to LSODA and BDF; bench/run_kinetics.sh asks for one pass of
LSODA in each of its rounds, right after physynth's run of the same scenario.
"""
import json
import sys
import time

import h5py
import numpy as np
from scipy.integrate import solve_ivp


def michaelis_menten(p):
    kon, koff, kcat = p["kon"], p["koff"], p["kcat"]

    def f(t, y):
        E, S, ES, P = y
        v1 = kon * E * S - koff * ES
        v2 = kcat * ES
        return [-v1 + v2, -v1, v1 - v2, v2]

    def jac(t, y):
        E, S, ES, P = y
        return [[-kon * S, -kon * E, koff + kcat, 0],
                [-kon * S, -kon * E, koff, 0],
                [kon * S, kon * E, -koff - kcat, 0],
                [0, 0, kcat, 0]]

    y0 = [p["E0"], p["S0"], 0.0, 0.0]
    return f, jac, y0


def reversible_binding(p):
    kon, koff = p["kon"], p["koff"]

    def f(t, y):
        A, B, AB = y
        v = kon * A * B - koff * AB
        return [-v, -v, v]

    def jac(t, y):
        A, B, AB = y
        return [[-kon * B, -kon * A, koff], [-kon * B, -kon * A, koff], [kon * B, kon * A, -koff]]

    return f, jac, [p["A0"], p["B0"], 0.0]


def robertson(p):
    k1, k2, k3 = p["k1"], p["k2"], p["k3"]

    def f(t, y):
        A, B, C = y
        return [-k1 * A + k3 * B * C, k1 * A - k3 * B * C - k2 * B * B, k2 * B * B]

    def jac(t, y):
        A, B, C = y
        return [[-k1, k3 * C, k3 * B], [k1, -k3 * C - 2 * k2 * B, -k3 * B], [0, 2 * k2 * B, 0]]

    return f, jac, [1.0, 0.0, 0.0]


MODELS = {"michaelis_menten": michaelis_menten, "reversible_binding": reversible_binding, "robertson": robertson}


def main():
    scenario, run_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n_passes = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    methods = sys.argv[5:] or ["LSODA", "BDF"]
    manifest = json.load(open(f"{run_dir}/manifest.json"))
    solver = manifest["scenario"]["resolved"]["solver"]
    rtol = solver["rtol"]
    atol = solver.get("atol_per_state", solver["atol"])
    h5 = h5py.File(f"{run_dir}/shard-000000.h5", "r")
    names = [x.decode() if isinstance(x, bytes) else x for x in h5["parameters"].attrs["names"]]
    params = h5["parameters"][:]
    times = h5["time"][:]
    states = h5["states"][:]
    n = min(n, params.shape[0])
    for method in methods:
        # Timed as physynth is: the median of the passes over the same trajectories, each pass the
        # sum of the solves alone (the comparison with physynth's answer is outside the timing).
        worst, passes = 0.0, []
        # One solve untimed first, as kinetics_bench runs each scenario once before timing it.
        f, jac, y0 = MODELS[scenario](dict(zip(names, params[0])))
        solve_ivp(f, (times[0], times[-1]), y0, method=method, t_eval=times, rtol=rtol, atol=atol, jac=jac)
        for repeat in range(n_passes):
            elapsed = 0.0
            for i in range(n):
                start = time.perf_counter()
                f, jac, y0 = MODELS[scenario](dict(zip(names, params[i])))
                sol = solve_ivp(f, (times[0], times[-1]), y0, method=method, t_eval=times, rtol=rtol, atol=atol,
                                jac=jac)
                elapsed += time.perf_counter() - start
                if not sol.success:
                    raise SystemExit(f"{scenario} sample {i}: SciPy {method} failed: {sol.message}")
                if repeat == 0:
                    ours = states[i].T
                    scale = np.abs(ours).max(axis=1, keepdims=True) + 1e-300
                    worst = max(worst, float(np.max(np.abs(sol.y - ours) / scale)))
            passes.append(elapsed)
        elapsed = sorted(passes)[len(passes) // 2]
        print(json.dumps({"scenario": scenario, "method": method, "trajectories": n, "seconds": elapsed,
                          "seconds_each_pass": passes, "trajectories_per_s": n / elapsed,
                          "max_difference_vs_physynth_relative_to_state_range": worst}), flush=True)


if __name__ == "__main__":
    main()
