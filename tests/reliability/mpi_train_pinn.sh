#!/usr/bin/env bash
# train-pinn under mpirun -n 2 trains data-parallel: each rank its own collocation points, the
# gradients averaged, and the trainer checks at the end that both ranks hold the same network
# (it fails otherwise). Rank 0 alone writes the model; the network fits the problem.
# usage: mpi_train_pinn.sh PHYSYNTH SCENARIO OUT_DIR
PHYSYNTH=$1 SCENARIO=$2 OUT=$3
. "$(dirname "$0")/common.sh"
# In the sanitizer build (scripts/sanitize.sh) memory errors still stop the ranks, but leak
# checking is off: Open MPI's plugins leave allocations behind at exit that cannot be told apart.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$OUT" && mkdir -p "$OUT"
mpirun -n 2 --oversubscribe "$PHYSYNTH" train-pinn "$SCENARIO" -o "$OUT/net.pt" -q \
  --set pinn.train.test_samples=20 || fail "mpirun -n 2 train-pinn"
/usr/bin/python3 - "$OUT/net.json" <<'PY' || fail "sidecar"
import json, sys
t = json.load(open(sys.argv[1]))["training"]
assert t["ranks"] == 2, t["ranks"]
assert t["test"]["worst"] < 0.05, t["test"]
print("2 ranks; held-out worst relative L2 error", t["test"]["worst"])
PY
echo ok
