#!/bin/bash
# physynth petab --calibrate: on the hand-made A <-> B problem with preequilibration
# (tests/fixtures/petab/preequilibration), the fit's log-likelihood is at least the nominal one,
# the same on 1 and 2 threads, and the calibrated problem it writes gives that value to --llh;
# the same starts give the same fit.json; a file of the user's in the output folder stays and
# is not replaced; no -o is bad input. L-BFGS-B (--optimizer lbfgsb, adjoint and forward
# gradients) reaches the same log-likelihood, with the same bits on 1 and 2 threads; --gradient
# with least squares and --jacobian differences with L-BFGS-B are bad input; --max-iterations
# stops each start there.
# usage: petab_calibrate.sh PHYSYNTH SOURCE_DIR OUT_DIR
set -u
PHYSYNTH=$1 SRC=$2 OUT=$3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"
P="$SRC/tests/fixtures/petab/preequilibration/problem.yaml"
nominal=$("$PHYSYNTH" petab "$P" --llh | tail -1) || fail "--llh: $nominal"
out=$("$PHYSYNTH" petab "$P" --calibrate -o "$OUT/fit1" --starts 3 -j 1) || fail "exit $?: $out"
echo "$out"
last=$(echo "$out" | tail -1)
echo "$last" | grep -Eq '^log-likelihood: -?[0-9.]+(e[-+]?[0-9]+)?$' || fail "last line: $last"
awk -v a="${last#log-likelihood: }" -v b="${nominal#log-likelihood: }" 'BEGIN { exit !(a >= b - 1e-6) }' ||
  fail "calibrated $last below nominal $nominal"
for f in fit.json problem.yaml report.md calibrated_1_parameters.tsv; do [ -s "$OUT/fit1/$f" ] || fail "no $f"; done
again=$("$PHYSYNTH" petab "$OUT/fit1/problem.yaml" --llh | tail -1) || fail "--llh of the calibrated problem: $again"
awk -v a="${last#log-likelihood: }" -v b="${again#log-likelihood: }" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }' ||
  fail "the calibrated problem gives $again, the fit said $last"
"$PHYSYNTH" petab "$P" --calibrate -o "$OUT/fit2" --starts 3 -j 2 >/dev/null || fail "2 threads"
strip() { grep -v '"seconds"' "$1"; }
cmp <(strip "$OUT/fit1/fit.json") <(strip "$OUT/fit2/fit.json") || fail "fit.json differs between 1 and 2 threads"

same() { awk -v a="${1#log-likelihood: }" -v b="${2#log-likelihood: }" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }'; }
for g in adjoint forward; do
  lb=$("$PHYSYNTH" petab "$P" --calibrate -o "$OUT/lbfgsb_$g" --starts 3 -j 1 --optimizer lbfgsb --gradient $g) ||
    fail "L-BFGS-B, $g: exit $?: $lb"
  echo "$lb" | grep -q "^optimizer: L-BFGS-B$" || fail "L-BFGS-B, $g: $lb"
  echo "$lb" | grep -q "^gradients: $g sensitivities" || fail "L-BFGS-B's gradient, $g: $lb"
  grep -q '"optimizer": "L-BFGS-B' "$OUT/lbfgsb_$g/fit.json" || fail "fit.json does not name L-BFGS-B"
  same "$(echo "$lb" | tail -1)" "$last" || fail "L-BFGS-B ($g) ends at $(echo "$lb" | tail -1), least squares at $last"
done
"$PHYSYNTH" petab "$P" --calibrate -o "$OUT/lbfgsb_2" --starts 3 -j 2 --optimizer lbfgsb --gradient adjoint >/dev/null ||
  fail "L-BFGS-B on 2 threads"
cmp <(strip "$OUT/lbfgsb_adjoint/fit.json") <(strip "$OUT/lbfgsb_2/fit.json") ||
  fail "L-BFGS-B's fit.json differs between 1 and 2 threads"
"$PHYSYNTH" petab "$P" --calibrate -o "$OUT/one_iteration" --starts 2 --optimizer lbfgsb --max-iterations 1 >/dev/null ||
  fail "--max-iterations 1"
grep -q '"message": "L-BFGS-B: iteration limit (1)"' "$OUT/one_iteration/fit.json" || fail "--max-iterations 1 not kept"
for bad in "--optimizer least-squares --gradient adjoint" "--optimizer lbfgsb --jacobian differences"; do
  out=$("$PHYSYNTH" petab "$P" --calibrate -o "$OUT/bad" --starts 2 $bad 2>&1); rc=$?
  [ "$rc" -eq 2 ] || fail "$bad: exit $rc: $out"
  [ ! -e "$OUT/bad" ] || fail "$bad: wrote $OUT/bad"
done

mkdir -p "$OUT/mine" && echo "my notes" >"$OUT/mine/fit.json"
out=$("$PHYSYNTH" petab "$P" --calibrate -o "$OUT/mine" --starts 2 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "a user's folder: exit $rc: $out"
[ "$(cat "$OUT/mine/fit.json")" = "my notes" ] || fail "the user's fit.json was touched"
out=$("$PHYSYNTH" petab "$P" --calibrate 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "no -o: exit $rc"
echo "$out" | grep -q -- "--calibrate needs -o DIR" || fail "$out"
echo ok
