"""Work-precision diagram: time per trajectory against the error reached, for Rodas5P, the NDF and CVODES
(bench/work_precision.cpp, C++) and SciPy's LSODA, over rtol 1e-4 .. 1e-10, on the Robertson,
Michaelis-Menten and Boehm STAT5 scenarios: their own models, parameter samples, output grids and
atol (scaled with rtol), one thread. LSODA calls physynth's compiled model (Scenario.rhs and its
exact Jacobian) from Python, as a SciPy user of physynth would; the first LSODA_SAMPLES samples.
Writes the table to stdout and the plot (SVG, no plotting library needed) to SVG_PATH.

    /usr/bin/python3 bench/work_precision.py [BUILD_DIR] [SVG_PATH] [SAMPLES] [LSODA_SAMPLES]
"""
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
from scipy.integrate import solve_ivp

here = os.path.dirname(os.path.abspath(__file__))
RTOLS = [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]


def lsoda(build, data, count):
    sys.path.insert(0, os.path.join(build, "python"))
    import physynth

    s = physynth.load_scenario(data["file"], set={"sampling.samples": 1})
    n = len(s.state_names)
    P = np.asarray(data["parameters"]).reshape(-1, len(s.parameter_names))[:count]
    t = np.asarray(data["times"])
    ref = np.asarray(data["reference"]).reshape(-1, len(t), n)[:count]
    floor = np.asarray(data["floor"])
    rows = []
    for rtol in RTOLS:
        atol = np.asarray(data["atol"]) * rtol / data["rtol"]
        worst, start, ok = 0.0, time.perf_counter(), True
        for k, p in enumerate(P):
            sol = solve_ivp(lambda tt, y: s.rhs(tt, y, p), (t[0], t[-1]), s.initial_state(p), method="LSODA",
                            t_eval=t, rtol=rtol, atol=atol, jac=lambda tt, y: s.jacobian(tt, y, p))
            if not sol.success or sol.y.shape[1] != len(t):
                ok = False
                break
            worst = max(worst, float(np.max(np.abs(sol.y.T - ref[k]) / (np.abs(ref[k]) + floor))))
        seconds = (time.perf_counter() - start) / len(P)
        rows.append({"scenario": data["scenario"], "integrator": "SciPy LSODA", "rtol": rtol,
                     **({"seconds_per_trajectory": seconds, "error": worst} if ok else {"failed": True})})
    return rows


def svg(rows, path):
    """One panel per scenario: log10 error (x) against log10 seconds per trajectory (y); errors over
    10 (a solve that went wrong, as CVODES' Robertson at rtol 1e-4 and 1e-5) are left off the plot
    and stay in the table."""
    scenarios = ["robertson", "michaelis_menten", "boehm_stat5"]
    colours = {"Rodas5P": "#1b6ac9", "NDF": "#8a4fbf", "CVODES BDF": "#d1495b", "SciPy LSODA": "#3c8d2f"}
    W, H, pad = 330, 300, 55
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W * 3}" height="{H + 40}" '
             f'font-family="sans-serif" font-size="11">', '<rect width="100%" height="100%" fill="white"/>']
    for i, sc in enumerate(scenarios):
        pts = [r for r in rows if r["scenario"] == sc and not r.get("failed") and 0 < r["error"] <= 10]
        x0 = i * W
        ex = [math.log10(r["error"]) for r in pts]
        ey = [math.log10(r["seconds_per_trajectory"]) for r in pts]
        xmin, xmax = math.floor(min(ex)), math.ceil(max(ex))
        ymin, ymax = math.floor(min(ey)), math.ceil(max(ey))
        X = lambda v: x0 + pad + (v - xmin) / (xmax - xmin) * (W - pad - 15)
        Y = lambda v: H - pad + 15 - (v - ymin) / (ymax - ymin) * (H - pad - 15)
        parts.append(f'<text x="{x0 + W / 2}" y="14" text-anchor="middle" font-weight="bold">{sc}</text>')
        parts.append(f'<rect x="{x0 + pad}" y="15" width="{W - pad - 15}" height="{H - pad}" fill="none" stroke="#888"/>')
        for v in range(xmin, xmax + 1):
            parts.append(f'<text x="{X(v)}" y="{H - pad + 30}" text-anchor="middle">1e{v}</text>')
        for v in range(ymin, ymax + 1):
            parts.append(f'<text x="{x0 + pad - 4}" y="{Y(v) + 4}" text-anchor="end">1e{v}</text>')
        parts.append(f'<text x="{x0 + pad + (W - pad) / 2}" y="{H - pad + 45}" text-anchor="middle">'
                     'largest relative error</text>')
        parts.append(f'<text x="{x0 + 14}" y="{15 + (H - pad) / 2}" text-anchor="middle" '
                     f'transform="rotate(-90 {x0 + 14} {15 + (H - pad) / 2})">seconds per trajectory</text>')
        for name, colour in colours.items():
            line = sorted((r for r in pts if r["integrator"] == name), key=lambda r: -r["rtol"])
            xy = [(X(math.log10(r["error"])), Y(math.log10(r["seconds_per_trajectory"]))) for r in line]
            if xy:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="'
                             + " ".join(f"{a:.1f},{b:.1f}" for a, b in xy) + '"/>')
                parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{colour}"/>' for a, b in xy]
    for k, (name, colour) in enumerate(colours.items()):
        parts.append(f'<rect x="{20 + k * 150}" y="{H + 22}" width="12" height="4" fill="{colour}"/>'
                     f'<text x="{36 + k * 150}" y="{H + 28}">{name}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build")
    svg_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(tempfile.gettempdir(), "work-precision.svg")
    samples = sys.argv[3] if len(sys.argv) > 3 else "100"
    lsoda_samples = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    work = tempfile.mkdtemp()
    out = subprocess.run([os.path.join(build, "bench", "work_precision"), os.path.join(here, "..", "scenarios", "kinetics"),
                          work, samples], check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    for sc in ["robertson", "michaelis_menten", "boehm_stat5"]:
        with open(os.path.join(work, sc + ".json")) as f:
            rows += lsoda(build, json.load(f), lsoda_samples)
    svg(rows, svg_path)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"Machine: {cpu}, {os.cpu_count()} cores; {datetime.date.today()}; SciPy {scipy.__version__}, "
          f"Python {platform.python_version()}; C++ integrators on {samples} samples, LSODA on the first "
          f"{lsoda_samples}; plot: {svg_path}\n")
    print("| scenario | rtol | Rodas5P (µs/traj) | error | NDF (µs/traj) | error | CVODES BDF (µs/traj) | error | SciPy LSODA (µs/traj) | error |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    cell = lambda r: ("failed", "") if r.get("failed") else (f"{r['seconds_per_trajectory'] * 1e6:,.0f}", f"{r['error']:.1e}")
    for sc in ["robertson", "michaelis_menten", "boehm_stat5"]:
        for rtol in RTOLS:
            got = {r["integrator"]: r for r in rows if r["scenario"] == sc and r["rtol"] == rtol}
            cols = [c for name in ("Rodas5P", "NDF", "CVODES BDF", "SciPy LSODA") for c in cell(got[name])]
            print(f"| {sc} | {rtol:g} | " + " | ".join(cols) + " |")


if __name__ == "__main__":
    main()
