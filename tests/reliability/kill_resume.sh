#!/usr/bin/env bash
# A run killed with SIGKILL partway resumes from its journal to the bytes of an uninterrupted
# run; one stopped with SIGTERM exits 143 with a manifest of the shards done, which the
# report refuses until the run is resumed; a journal that names a damaged shard file recomputes it.
# usage: kill_resume.sh PHYSYNTH SCENARIO OUT_DIR
PHYSYNTH=$1 SCENARIO=$2 OUT=$3
. "$(dirname "$0")/common.sh"
rm -rf "$OUT" && mkdir -p "$OUT"
set_=(--set sampling.samples=$(scaled 200) --set output.shard_size=$(scaled 10))
"$PHYSYNTH" run "$SCENARIO" -q -o "$OUT/whole" -j 2 "${set_[@]}" || fail "uninterrupted run"
# Each shard written before the next is solved: the same bytes.
"$PHYSYNTH" run "$SCENARIO" -q -o "$OUT/in_turn" -j 2 --write-in-turn "${set_[@]}" || fail "run with --write-in-turn"
same_data "$OUT/whole" "$OUT/in_turn"

# Starts a run (one thread unless a second argument says) in the background and waits for its
# first finished shard.
start_partway() {
  "$PHYSYNTH" run "$SCENARIO" -q -o "$1" -j "${2:-1}" "${set_[@]}" 2>"$1.stderr" &
  pid=$!
  for _ in $(seq 1 600); do
    [ -e "$1/journal/shard-000000.json" ] && return 0
    sleep 0.05
  done
  fail "no shard finished in 30 s"
}

# SIGKILL: nothing gets a chance to clean up.
start_partway "$OUT/killed"
kill -KILL "$pid"; wait "$pid" 2>/dev/null
[ -e "$OUT/killed/manifest.json" ] && fail "the run finished before the kill; give it more samples"
ls "$OUT/killed"/*.partial >/dev/null 2>&1 && echo "(a .partial file was left; resume removes it)"
done_before=$(ls "$OUT/killed/journal" | grep -c '^shard-')
# Damage one finished shard: resume must notice (SHA-256) and compute it again.
printf 'X' | dd of="$OUT/killed/shard-000000.h5" bs=1 seek=100 conv=notrunc 2>/dev/null
"$PHYSYNTH" run --resume "$OUT/killed" -j 2 >"$OUT/killed.out" || fail "resume after SIGKILL"
grep -q "shard 0: .*shard-000000.h5 does not match its recorded SHA-256" "$OUT/killed/manifest.json" || fail "the damaged shard is not named in shards_recomputed"
grep -q '"shards_resumed": '"$((done_before - 1))" "$OUT/killed/manifest.json" ||
  fail "expected $((done_before - 1)) shards kept (one damaged): $(grep shards_resumed "$OUT/killed/manifest.json")"
[ -e "$OUT/killed/journal" ] && fail "the journal outlived the complete run"
same_data "$OUT/whole" "$OUT/killed"

# SIGTERM: a clean stop with a consistent manifest. On 2 threads, where a shard may be in the
# writing while the next is solved: it is finished before the run stops.
start_partway "$OUT/term" 2
kill -TERM "$pid"; wait "$pid"; rc=$?
[ "$rc" -eq 143 ] || fail "SIGTERM exit code $rc, expected 143"
grep -q '"status": "interrupted"' "$OUT/term/manifest.json" || fail "no interrupted manifest"
/usr/bin/python3 - "$OUT/term" <<'PY' || fail "the interrupted manifest does not match the files"
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
listed = {f["path"]: f for s in m["shards"] for f in s["files"]}
on_disk = {f for f in os.listdir(d) if f.startswith("shard-")}
assert set(listed) == on_disk, (sorted(listed), sorted(on_disk))
for name, f in listed.items():
    assert hashlib.sha256(open(os.path.join(d, name), "rb").read()).hexdigest() == f["sha256"], name
assert sum(s["samples"] for s in m["shards"]) == sum(m["counts"].values())
assert not os.path.exists(os.path.join(d, "audit.json"))
PY
"$PHYSYNTH" report "$OUT/term" --format vtk -q 2>/dev/null && fail "report accepted an interrupted run"
"$PHYSYNTH" run --resume "$OUT/term" -q || fail "resume after SIGTERM"
grep -q '"status": "complete"' "$OUT/term/manifest.json" || fail "resumed manifest not complete"
same_data "$OUT/whole" "$OUT/term"

# Resuming with another scenario is refused (exit 2), the run left as it was.
start_partway "$OUT/other"
kill -KILL "$pid"; wait "$pid" 2>/dev/null
out=$("$PHYSYNTH" run "$SCENARIO" --resume "$OUT/other" --set sampling.seed=99 -q 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "resume with another seed: exit $rc"
echo "$out" | grep -q "is not the one the run started with" || fail "unclear message: $out"
echo ok
