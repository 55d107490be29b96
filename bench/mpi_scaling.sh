#!/usr/bin/env bash
# Throughput of physynth run (sampling, CVODES, observations and the HDF5 writing, end to end)
# with threads and with MPI ranks, side by side in one go; prints a Markdown table for
# docs/PERFORMANCE.md. Each configuration runs REPEATS times (median wall time), and every
# run's data files are checked to be byte-identical with the first.
#   bench/mpi_scaling.sh [BUILD_DIR] [SCENARIO] [SAMPLES] [REPEATS]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$here/build}
scenario=${2:-$here/scenarios/kinetics/robertson.yaml}
samples=${3:-8192}
repeats=${4:-3}
physynth=$build/apps/physynth
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sets=(--set sampling.samples="$samples" --set output.shard_size=256)

configs=("1 process, 1 thread|$physynth run $scenario -q -j 1"
         "1 process, 2 threads|$physynth run $scenario -q -j 2"
         "mpirun -n 1, 1 thread|mpirun -n 1 $physynth run $scenario -q -j 1"
         "mpirun -n 2, 1 thread each|mpirun -n 2 $physynth run $scenario -q -j 1"
         "mpirun -n 2, 2 threads each (oversubscribed)|mpirun -n 2 --oversubscribe $physynth run $scenario -q -j 2")
reference=""
echo "| configuration | wall time (s, median of $repeats) | samples per second | against 1 process, 1 thread |"
echo "|---|---|---|---|"
base=""
for c in "${configs[@]}"; do
  name=${c%%|*} cmd=${c#*|}
  times=()
  for r in $(seq 1 "$repeats"); do
    dir=$out/run
    rm -rf "$dir"
    start=$(date +%s.%N)
    $cmd -o "$dir" "${sets[@]}"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
    if [ -z "$reference" ]; then reference=$out/reference; cp -r "$dir" "$reference"; fi
    for f in "$reference"/shard-* "$reference"/audit.json; do cmp -s "$f" "$dir/$(basename "$f")" || { echo "$name: $(basename "$f") differs" >&2; exit 1; }; done
  done
  median=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (repeats + 1) / 2 ))p")
  [ -z "$base" ] && base=$median
  printf '| %s | %.2f | %.0f | %.2fx |\n' "$name" "$median" "$(echo "$samples / $median" | bc -l)" "$(echo "$base / $median" | bc -l)"
done
echo
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date +%F); $(mpirun --version | head -1); $samples samples of $(basename "$scenario"), shards of 256"
