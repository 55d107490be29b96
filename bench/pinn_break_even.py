"""Break-even of the PINN backend against the integrators, on michaelis_menten_pinn: samples per
second (10,000 samples in one shard, 2 threads, HDF5, sampling and solve only, as `physynth run`
reports it) and each trajectory's error, for the PINN (prediction plus its 64-point residual, no
gate or verification; its layers in float64 and in float32, pinn.precision), Rodas5P and CVODES
at several tolerances; the error of a trajectory is the relative L2 norm of its difference from
Rodas5P at rtol 1e-11 over all states and output times (median and largest over the samples).
With the PINN's training time, the sample count at which training plus generation beats the
integrator of the same or smaller error, or "never".

    /usr/bin/python3 bench/pinn_break_even.py MODEL.pt TRAINING_SECONDS [BUILD_DIR]
"""
import os
import re
import subprocess
import sys
import tempfile

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(here, "..", "scenarios", "kinetics", "michaelis_menten_pinn.yaml")
SAMPLES = 10000


def run(build, out, sets):
    cmd = [os.path.join(build, "apps", "physynth"), "run", SCENARIO, "-o", out, "-j", "2",
           "--set", f"sampling.samples={SAMPLES}", "--set", "output.formats=[hdf5]", "--set", "output.shard_size=10000"]
    for s in sets:
        cmd += ["--set", s]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    solve = float(re.search(r"solve ([0-9.]+) s", text).group(1))
    with h5py.File(os.path.join(out, "shard-000000.h5")) as f:
        return solve, f["states"][:]


def main():
    model, training_s = os.path.abspath(sys.argv[1]), float(sys.argv[2])
    build = sys.argv[3] if len(sys.argv) > 3 else os.path.join(here, "..", "build")
    work = tempfile.mkdtemp()
    _, ref = run(build, os.path.join(work, "ref"), ["backend=cvode", "solver.method=rosenbrock", "solver.rtol=1e-11",
                                                    "solver.atol=1e-15"])
    rows = []
    configs = [(f"PINN, {layers} layers", ["backend=pinn", f"pinn.model={model}", "pinn.verify=0", "pinn.gate_residual=0",
                                            f"pinn.precision={layers}"]) for layers in ("float64", "float32")]
    for method, name in (("rosenbrock", "Rodas5P"), ("bdf", "CVODES BDF")):
        for rtol in (1e-3, 1e-4, 1e-6, 1e-8):
            configs.append((f"{name}, rtol {rtol:g}", ["backend=cvode", f"solver.method={method}", f"solver.rtol={rtol:g}",
                                                        f"solver.atol={rtol * 1e-4:g}"]))
    for label, sets in configs:
        seconds, y = run(build, os.path.join(work, str(len(rows))), sets)
        err = np.linalg.norm((y - ref).reshape(SAMPLES, -1), axis=1) / np.linalg.norm(ref.reshape(SAMPLES, -1), axis=1)
        rows.append((label, SAMPLES / seconds, float(np.median(err)), float(err.max())))
    print("| generator | samples/s (2 threads) | median error | largest error |")
    print("|---|---:|---:|---:|")
    for label, rate, med, big in rows:
        print(f"| {label} | {rate:,.0f} | {med:.1e} | {big:.1e} |")
    print(f"\nPINN training: {training_s:.0f} s.")
    for pinn in (r for r in rows if r[0].startswith("PINN")):
        print(f"\n{pinn[0]}:")
        for label, rate, med, big in (r for r in rows if not r[0].startswith("PINN")):
            if big > pinn[3]:
                continue  # less accurate than the PINN: no comparison at equal error
            if pinn[1] <= rate:
                print(f"- against {label} (largest error {big:.1e} <= the PINN's {pinn[3]:.1e}): never; "
                      f"the integrator generates faster ({rate:,.0f} against {pinn[1]:,.0f} per second).")
            else:
                n = training_s / (1.0 / rate - 1.0 / pinn[1])
                print(f"- against {label}: after {n:,.0f} samples.")


if __name__ == "__main__":
    main()
