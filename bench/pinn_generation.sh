#!/usr/bin/env bash
# Generation throughput, PINN backend against CVODES, in one run (docs/PERFORMANCE.md): the
# tool_wear_pinn scenario, 4000 samples on its 121-point grid, HDF5, no verification or gate. The
# solving is timed with each shard written before the next is solved (--write-in-turn), so that
# the writing does not compete for the cores.
#   bench/pinn_generation.sh MODEL.pt [BUILD_DIR] [samples]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(realpath "$1")
build=${2:-build}
samples=${3:-4000}
scenario=scenarios/manufacturing/tool_wear_pinn.yaml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "# $(date -u +%Y-%m-%d) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) threads"
for backend in cvode pinn; do
  "$build/apps/physynth" run "$scenario" -o "$out/$backend" --set backend=$backend --set pinn.model="$model" \
    --set pinn.verify=0 --set pinn.gate_residual=0 --set sampling.samples="$samples" \
    --set 'output.formats=[hdf5]' --set output.shard_size=1000 --write-in-turn >"$out/$backend.log"
  solve=$(sed -n 's/^ *solve \([0-9.]*\) s,.*/\1/p' "$out/$backend.log")
  echo "{\"backend\": \"$backend\", \"samples\": $samples, \"solve_s\": $solve, \"per_second\": $(echo "$samples / $solve" | bc)}"
done
