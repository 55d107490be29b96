#!/bin/bash
# Start-up of the program, side by side in one run: `physynth` (LibTorch and VTK opened on demand)
# against `physynth_linked` (the same objects linking both at start, as physynth did before).
# Median of N starts of `--version` and of `validate` on a CVODES scenario, and ldd's counts.
# Usage: bench/startup.sh [BUILD_DIR] [N]
set -euo pipefail
build=${1:-build}
n=${2:-21}
scenario=$(dirname "$0")/../scenarios/kinetics/michaelis_menten.yaml
TIMEFORMAT=%3R
median() {  # median wall seconds of n runs of "$@" (bash's time, in ms)
  for _ in $(seq "$n"); do
    { time "$@" > /dev/null 2>&1; } 2>&1 || true
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
printf "%-18s %10s %12s %14s %12s\n" program "libraries" "torch+vtk" "--version (s)" "validate (s)"
for p in physynth physynth_linked; do
  exe=$build/apps/$p
  [ -x "$exe" ] || exe=$build/bench/$p
  libs=$(ldd "$exe" | wc -l)
  heavy=$(ldd "$exe" | grep -cE 'libtorch|libc10[.]so|libvtk' || true)
  printf "%-18s %10s %12s %14s %12s\n" "$p" "$libs" "$heavy" "$(median "$exe" --version)" "$(median "$exe" validate "$scenario")"
done
echo "($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F))"
