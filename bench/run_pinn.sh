#!/usr/bin/env bash
# The PINN training step side by side: physynth (C++ LibTorch) and the same network, loss and
# batch in Python PyTorch 1.13 (Debian's python3-torch), each forward- and reverse-mode.
#   bench/run_pinn.sh [BUILD_DIR] [points] [steps] [dtype]   (docs/PERFORMANCE.md)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
points=${2:-4096}
steps=${3:-30}
dtype=${4:-float32}
threads=$(nproc)
echo "# $(date -u +%Y-%m-%d) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads"
echo "# BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
"$build/bench/pinn_bench" scenarios/kinetics/michaelis_menten_pinn.yaml "$points" "$steps" "$dtype"
/usr/bin/python3 bench/pinn_step.py "$points" "$steps" "$dtype" "$threads"
# The same Python step with the allocator settings physynth makes for itself (pinn.cpp,
# tune_allocator): like for like.
MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=268435456 \
  /usr/bin/python3 bench/pinn_step.py "$points" "$steps" "$dtype" "$threads" | sed 's/"impl": "\([^"]*\)"/"impl": "\1, glibc mmap threshold 64 MiB"/'
