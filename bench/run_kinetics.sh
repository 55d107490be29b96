#!/usr/bin/env bash
# Runs the kinetics benchmark and the SciPy comparison in one go and prints a
# Markdown table for docs/PERFORMANCE.md.
#   bench/run_kinetics.sh [BUILD_DIR] [SCIPY_TRAJECTORIES]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$here/build}
n_scipy=${2:-40}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/bench/kinetics_bench" "$here/scenarios/kinetics" "$out/runs" 3 > "$out/physynth.jsonl"
for s in michaelis_menten reversible_binding robertson; do
  /usr/bin/python3 "$here/bench/scipy_kinetics.py" "$s" "$out/runs/$s" "$n_scipy" >> "$out/scipy.jsonl"
done

/usr/bin/python3 - "$out/physynth.jsonl" "$out/scipy.jsonl" <<'PY'
import json, sys, platform, subprocess, datetime
ours = [json.loads(l) for l in open(sys.argv[1])]
peer = [json.loads(l) for l in open(sys.argv[2])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
import scipy, numpy
print(f"Machine: {cpu}, {subprocess.check_output(['nproc']).decode().strip()} cores; "
      f"{datetime.date.today()}; SciPy {scipy.__version__}, NumPy {numpy.__version__}, Python {platform.python_version()}\n")
print("| scenario | physynth 1 thread (traj/s) | physynth 2 threads (traj/s) | 2-thread speed-up | 1 thread, samples one at a time (traj/s) | SciPy LSODA (traj/s) | SciPy BDF (traj/s) | physynth 1 thread / LSODA | max rel. difference LSODA vs physynth |")
print("|---|---|---|---|---|---|---|---|---|")
for s in ["michaelis_menten", "reversible_binding", "robertson"]:
    one = next(r for r in ours if r["scenario"] == s and r["threads"] == 1 and r["lanes"])
    two = next(r for r in ours if r["scenario"] == s and r["threads"] == 2 and r["lanes"])
    alone = next(r for r in ours if r["scenario"] == s and r["threads"] == 1 and not r["lanes"])
    lsoda = next(r for r in peer if r["scenario"] == s and r["method"] == "LSODA")
    bdf = next(r for r in peer if r["scenario"] == s and r["method"] == "BDF")
    print(f"| {s} ({one['samples']} samples, {one['output_times']} output times, rtol {one['rtol']:g}) "
          f"| {one['trajectories_per_s']:.0f} | {two['trajectories_per_s']:.0f} "
          f"| {two['trajectories_per_s'] / one['trajectories_per_s']:.2f} | {alone['trajectories_per_s']:.0f} "
          f"| {lsoda['trajectories_per_s']:.1f} | {bdf['trajectories_per_s']:.1f} "
          f"| {one['trajectories_per_s'] / lsoda['trajectories_per_s']:.0f}x "
          f"| {lsoda['max_difference_vs_physynth_relative_to_state_range']:.1e} |")
print("\nEnd to end, the same runs: the HDF5 shards written too (deflate level 4, the default; "
      "4 shards of 1024 samples), as a user waits for them; each shard is written while the next is "
      "solved (the default), or before the next is begun:\n")
print("| scenario | physynth 1 thread (traj/s) | physynth 2 threads (traj/s) | 2-thread speed-up | 2 threads, time beyond the solving alone | 2 threads, each shard written before the next (traj/s) | physynth 1 thread / LSODA |")
print("|---|---|---|---|---|---|---|")
for s in ["michaelis_menten", "reversible_binding", "robertson"]:
    one = next(r for r in ours if r["scenario"] == s and r["threads"] == 1 and r["lanes"])
    two = next(r for r in ours if r["scenario"] == s and r["threads"] == 2 and r["lanes"])
    lsoda = next(r for r in peer if r["scenario"] == s and r["method"] == "LSODA")
    print(f"| {s} | {one['end_to_end_per_s']:.0f} | {two['end_to_end_per_s']:.0f} "
          f"| {two['end_to_end_per_s'] / one['end_to_end_per_s']:.2f} "
          f"| {1 - two['solve_s_median'] / two['wall_s_median']:.0%} "
          f"| {two['samples'] / two['wall_written_after_each_shard_s_median']:.0f} "
          f"| {one['end_to_end_per_s'] / lsoda['trajectories_per_s']:.0f}x |")
PY
