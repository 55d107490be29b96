#!/usr/bin/env bash
# physynth run under mpirun -n 2 and -n 3 (oversubscribed) writes the same data files and
# audit.json, byte for byte, as one process with one and with two threads.
# usage: mpi_identical.sh PHYSYNTH SCENARIO OUT_DIR
PHYSYNTH=$1 SCENARIO=$2 OUT=$3
. "$(dirname "$0")/common.sh"
# In the sanitizer build (scripts/sanitize.sh) memory errors still stop the ranks, but leak
# checking is off: Open MPI's plugins leave allocations behind at exit that cannot be told apart.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$OUT" && mkdir -p "$OUT"
set_=(--set sampling.samples=$(scaled 60) --set output.shard_size=$(scaled 10) --set output.formats=[hdf5,csv,npy])
"$PHYSYNTH" run "$SCENARIO" -q -o "$OUT/one" -j 1 "${set_[@]}" || fail "single process"
"$PHYSYNTH" run "$SCENARIO" -q -o "$OUT/threads" -j 2 "${set_[@]}" || fail "two threads"
mpirun -n 2 "$PHYSYNTH" run "$SCENARIO" -q -o "$OUT/ranks2" "${set_[@]}" || fail "mpirun -n 2"
mpirun -n 3 --oversubscribe "$PHYSYNTH" run "$SCENARIO" -q -o "$OUT/ranks3" -j 1 "${set_[@]}" || fail "mpirun -n 3"
grep -q '"ranks": 3' "$OUT/ranks3/manifest.json" || fail "the -n 3 manifest does not say 3 ranks"
for d in threads ranks2 ranks3; do same_data "$OUT/one" "$OUT/$d"; done
# Other commands refuse to run on several ranks.
out=$(mpirun -n 2 "$PHYSYNTH" validate "$SCENARIO" 2>&1) && fail "validate ran on 2 ranks"
echo "$out" | grep -q "only 'physynth run' and 'train-pinn' split their work" || fail "no clear message: $out"
echo ok
