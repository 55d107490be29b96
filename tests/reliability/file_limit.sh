#!/usr/bin/env bash
# Under a file-size limit (ulimit -f, as a full disk) the run fails with exit 1 and a message
# naming the file and the cause, and leaves no data file that looks complete: no shard by its
# final name, no .partial file, no manifest.json. The same for an output folder it cannot create.
# usage: file_limit.sh PHYSYNTH SCENARIO OUT_DIR
PHYSYNTH=$1 SCENARIO=$2 OUT=$3
. "$(dirname "$0")/common.sh"
rm -rf "$OUT"
# A first shard of 12 or more samples is larger than the limit (12: 251 KB). On 2 threads the
# first shard is written while the second is solved: its failure still stops the run.
out=$(bash -c 'ulimit -f 200; exec "$0" run "$1" -q -j 2 -o "$2" --set sampling.samples=$3 --set output.shard_size=$4 --set output.compression=0' \
      "$PHYSYNTH" "$SCENARIO" "$OUT" "$(scaled 100)" "$(scaled 50)" 2>&1); rc=$?
echo "$out"
[ "$rc" -eq 1 ] || fail "exit code $rc, expected 1"
echo "$out" | grep -q "shard-000000.h5.partial: File too large" || fail "the message does not name the file and cause"
ls "$OUT" | grep -qE '^shard-|\.partial$|^manifest.json$|^audit.json$' && fail "left: $(ls "$OUT")"
# Lift the limit and resume: the journal lets the run go on.
"$PHYSYNTH" run --resume "$OUT" -q || fail "resume after the limit"
grep -q '"status": "complete"' "$OUT/manifest.json" || fail "not complete after resume"
# A folder that cannot be created (/proc is read-only).
out=$("$PHYSYNTH" run "$SCENARIO" -q -o /proc/physynth-out --set sampling.samples=2 2>&1); rc=$?
[ "$rc" -eq 1 ] || fail "read-only place: exit $rc"
echo "$out" | grep -q "cannot create output directory '/proc/physynth-out'" || fail "unclear: $out"
echo ok
