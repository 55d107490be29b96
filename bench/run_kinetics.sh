#!/usr/bin/env bash
# Runs the kinetics benchmark and the SciPy comparison side by side and prints Markdown tables
# for docs/PERFORMANCE.md.
#   bench/run_kinetics.sh [BUILD_DIR] [SCIPY_TRAJECTORIES] [ROUNDS]
# In each of ROUNDS rounds (5 by default) each scenario is run by physynth (kinetics_bench: one
# timed run of each configuration after an untimed one) and right after by SciPy's LSODA (one pass
# over the first SCIPY_TRAJECTORIES of the same samples, 40 by default), so that the two rates of
# a ratio are measured seconds apart: a slow or fast spell of a shared machine moves both. The
# tables give each rate's median over the rounds and the median of the rounds' ratios. SciPy's
# BDF (a column for reference, written in Python) is timed once, after the rounds.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$here/build}
n_scipy=${2:-40}
rounds=${3:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scenarios=(michaelis_menten reversible_binding robertson)

for round in $(seq 1 "$rounds"); do
  for s in "${scenarios[@]}"; do
    "$build/bench/kinetics_bench" "$here/scenarios/kinetics" "$out/runs" 1 "$s" | sed "s/^{/{\"round\":$round,/" >> "$out/physynth.jsonl"
    /usr/bin/python3 "$here/bench/scipy_kinetics.py" "$s" "$out/runs/$s" "$n_scipy" 1 LSODA |
      sed "s/^{/{\"round\":$round,/" >> "$out/scipy.jsonl"
  done
done
for s in "${scenarios[@]}"; do
  /usr/bin/python3 "$here/bench/scipy_kinetics.py" "$s" "$out/runs/$s" "$n_scipy" 1 BDF >> "$out/scipy.jsonl"
done

/usr/bin/python3 - "$out/physynth.jsonl" "$out/scipy.jsonl" "$rounds" <<'PY'
import json, sys, platform, subprocess, datetime, statistics
ours = [json.loads(l) for l in open(sys.argv[1])]
peer = [json.loads(l) for l in open(sys.argv[2])]
rounds = int(sys.argv[3])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
import scipy, numpy
print(f"Machine: {cpu}, {subprocess.check_output(['nproc']).decode().strip()} cores; "
      f"{datetime.date.today()}; SciPy {scipy.__version__}, NumPy {numpy.__version__}, Python {platform.python_version()}; "
      f"{rounds} rounds, medians over them\n")
med = statistics.median


def runs(s, threads, lanes):
    return [r for r in ours if r["scenario"] == s and r["threads"] == threads and r["lanes"] == lanes]


def per_round(s, threads, lanes, key):
    return {r["round"]: r[key] for r in runs(s, threads, lanes)}


def lsoda(s):
    return {r["round"]: r for r in peer if r["scenario"] == s and r["method"] == "LSODA"}


print("| scenario | physynth 1 thread (traj/s) | physynth 2 threads (traj/s) | 2-thread speed-up | 1 thread, samples one at a time (traj/s) | SciPy LSODA (traj/s) | SciPy BDF (traj/s) | physynth 1 thread / LSODA | lowest and highest round | max rel. difference LSODA vs physynth |")
print("|---|---|---|---|---|---|---|---|---|---|")
names = ["michaelis_menten", "reversible_binding", "robertson"]
for s in names:
    one = per_round(s, 1, True, "trajectories_per_s")
    two = per_round(s, 2, True, "trajectories_per_s")
    alone = per_round(s, 1, False, "trajectories_per_s")
    peers = lsoda(s)
    bdf = next(r for r in peer if r["scenario"] == s and r["method"] == "BDF")
    ratios = [one[k] / peers[k]["trajectories_per_s"] for k in one]
    speedups = [two[k] / one[k] for k in one]
    first = runs(s, 1, True)[0]
    print(f"| {s} ({first['samples']} samples, {first['output_times']} output times, rtol {first['rtol']:g}) "
          f"| {med(one.values()):.0f} | {med(two.values()):.0f} | {med(speedups):.2f} | {med(alone.values()):.0f} "
          f"| {med(r['trajectories_per_s'] for r in peers.values()):.1f} | {bdf['trajectories_per_s']:.1f} "
          f"| {med(ratios):.0f}x | {min(ratios):.0f}x-{max(ratios):.0f}x "
          f"| {max(r['max_difference_vs_physynth_relative_to_state_range'] for r in peers.values()):.1e} |")
print("\nEnd to end, the same runs: the HDF5 shards written too (deflate level 4, the default; "
      "4 shards of 1024 samples), as a user waits for them; each shard is written while the next is "
      "solved (the default), or before the next is begun:\n")
print("| scenario | physynth 1 thread (traj/s) | physynth 2 threads (traj/s) | 2-thread speed-up | 2 threads, time beyond the solving alone | 2 threads, each shard written before the next (traj/s) | physynth 1 thread / LSODA |")
print("|---|---|---|---|---|---|---|")
for s in names:
    one = per_round(s, 1, True, "end_to_end_per_s")
    two = per_round(s, 2, True, "end_to_end_per_s")
    two_runs = runs(s, 2, True)
    peers = lsoda(s)
    print(f"| {s} | {med(one.values()):.0f} | {med(two.values()):.0f} | {med(two[k] / one[k] for k in one):.2f} "
          f"| {med(1 - r['solve_s_median'] / r['wall_s_median'] for r in two_runs):.0%} "
          f"| {med(r['samples'] / r['wall_written_after_each_shard_s_median'] for r in two_runs):.0f} "
          f"| {med(one[k] / peers[k]['trajectories_per_s'] for k in one):.0f}x |")
PY
