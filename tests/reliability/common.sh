# Helpers for the reliability tests (sourced). $PHYSYNTH is the program.
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
# Every data file and audit.json of run $1 equals run $2's, byte for byte.
same_data() {
  local a=$1 b=$2 n=0
  for f in "$a"/shard-* "$a"/audit.json; do
    [ -e "$f" ] || fail "$a has no $(basename "$f")"
    cmp -s "$f" "$b/$(basename "$f")" || fail "$b/$(basename "$f") differs from $f"
    n=$((n + 1))
  done
  [ "$(ls "$b" | grep -c '^shard-')" -eq "$(ls "$a" | grep -c '^shard-')" ] || fail "$a and $b hold different shard counts"
  echo "same bytes: $n files of $a and $b"
}
# scaled N: N samples, or a quarter of them in the sanitizer build (PHYSYNTH_INSTRUMENTED, set by
# scripts/sanitize.sh), whose programs run 5-10 times slower: the same paths with fewer samples.
scaled() { if [ -n "${PHYSYNTH_INSTRUMENTED:-}" ]; then echo $(($1 / 4)); else echo "$1"; fi; }
