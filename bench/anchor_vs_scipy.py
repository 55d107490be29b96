"""Calibration wall time: physynth anchor (CVODES sensitivities, Ceres) against SciPy's
least_squares with finite-difference Jacobians (solve_ivp, BDF with the analytic Jacobian), on
the same model, data, bounds, noise model and starts, run side by side.

    /usr/bin/python3 bench/anchor_vs_scipy.py [BUILD_DIR]

The data: bench/anchor/mm_progress.yaml's progress curves P(t) at S0 = 2, 5, 10, 20 uM from
kon = 0.5, koff = 1, kcat = 0.3 with N(0, 0.05^2) noise (numpy seed 7). Both fit ln kon, ln koff,
ln kcat within the bounds from every start physynth lists in fit.json (a Sobol design plus the
priors' medians), one thread each, and report the best cost they reach.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import datetime

import numpy as np
import scipy
from scipy.integrate import solve_ivp
from scipy.optimize import least_squares

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from scipy_kinetics import michaelis_menten  # noqa: E402  (one definition of the SciPy model)

TRUE = {"kon": 0.5, "koff": 1.0, "kcat": 0.3, "E0": 1.0}
LOADS = [2.0, 5.0, 10.0, 20.0]
TIMES = np.linspace(2.0, 60.0, 30)
SIGMA = 0.05
RTOL, ATOL = 1e-8, 1e-10


def simulate(p, s0):
    f, jac, y0 = michaelis_menten(dict(p, S0=s0))
    sol = solve_ivp(f, (0.0, TIMES[-1]), y0, method="BDF", t_eval=TIMES, rtol=RTOL, atol=ATOL, jac=jac)
    if not sol.success:
        return np.full(TIMES.shape, np.nan)
    return sol.y[3]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build")
    physynth = os.path.join(build, "apps", "physynth")
    rng = np.random.default_rng(7)
    data = {s0: simulate(TRUE, s0) + SIGMA * rng.standard_normal(TIMES.size) for s0 in LOADS}
    work = tempfile.mkdtemp()
    csv = os.path.join(work, "progress.csv")
    with open(csv, "w") as f:
        f.write("unit,time,observable,value,S0\n")
        for s0, y in data.items():
            for t, v in zip(TIMES, y):
                f.write(f"S0_{s0:g},{t!r},P,{v!r},{s0!r}\n")

    scenario = os.path.join(here, "anchor", "mm_progress.yaml")
    ours = {}
    for threads in (1, 2):
        out = os.path.join(work, f"fit{threads}")
        t0 = time.perf_counter()
        subprocess.run([physynth, "anchor", scenario, "--data", csv, "-o", out, "-j", str(threads), "-q"], check=True)
        ours[threads] = (time.perf_counter() - t0, json.load(open(os.path.join(out, "fit.json"))))
    fit = ours[1][1]
    names = [e["name"] for e in fit["shared"]]
    starts = [dict(zip(names, s["start"])) for s in fit["starts"]]
    lo, hi = np.log([0.01] * 3), np.log([10.0] * 3)

    def residuals(x):
        p = dict(TRUE, **dict(zip(names, np.exp(x))))
        r = np.concatenate([(simulate(p, s0) - data[s0]) / SIGMA for s0 in LOADS])
        return np.where(np.isfinite(r), r, 1e6)

    t0 = time.perf_counter()
    best = None
    solves = 0
    for s in starts:
        x0 = np.clip(np.log([s[n] for n in names]), lo, hi)
        res = least_squares(residuals, x0, bounds=(lo, hi), method="trf", jac="2-point", x_scale="jac")
        solves += res.nfev + res.njev * 3 if res.njev else res.nfev
        if best is None or res.cost < best.cost:
            best = res
    scipy_s = time.perf_counter() - t0

    # physynth's cost with a known sigma: -log-likelihood less its constants.
    n = sum(len(v) for v in data.values())
    ours_cost = -(fit["log_likelihood"] + n * (0.5 * np.log(2 * np.pi) + np.log(SIGMA)))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"Machine: {cpu}, {os.cpu_count()} cores; {datetime.date.today()}; SciPy {scipy.__version__}, "
          f"NumPy {np.__version__}, Python {platform.python_version()}\n")
    print(f"{len(starts)} starts, {len(LOADS)} progress curves, {n} readings, 3 parameters (ln kon, ln koff, ln kcat)\n")
    print("| | wall time (s) | best cost ½Σr² | kon | koff | kcat | starts at the best |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    est = {e["name"]: e["estimate"] for e in fit["shared"]}
    for threads in (1, 2):
        print(f"| physynth anchor, {threads} thread{'s' if threads > 1 else ''} (process start included) | "
              f"{ours[threads][0]:.2f} | {ours_cost:.4f} | {est['kon']:.4f} | {est['koff']:.4f} | {est['kcat']:.4f} | "
              f"{ours[threads][1]['starts_at_best']}/{len(starts)} |")
    b = dict(zip(names, np.exp(best.x)))
    print(f"| SciPy least_squares (trf, 2-point FD Jacobian, solve_ivp BDF), 1 thread | {scipy_s:.2f} | {best.cost:.4f} | "
          f"{b['kon']:.4f} | {b['koff']:.4f} | {b['kcat']:.4f} | |")
    print(f"\nSpeed-up, 1 thread each: {scipy_s / ours[1][0]:.1f}x; SciPy used about {solves} ODE solves.")


if __name__ == "__main__":
    main()
