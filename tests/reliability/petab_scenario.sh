#!/bin/bash
# physynth petab --scenario: Boehm's PEtab problem as a scenario and tidy data; the scenario
# validates and runs, and anchored from its first start it reaches the same maximum likelihood as
# the hand-written scenarios/kinetics/boehm_stat5.yaml (and the benchmark's best, -138.22199694, to
# 1e-4); what a scenario cannot express (preequilibration, a formula the scenario's expressions
# cannot write) is refused with the file and line, and nothing is written; a user's file under
# either name is refused before anything is written, and physynth's own are replaced.
# usage: petab_scenario.sh PHYSYNTH SOURCE_DIR OUT_DIR
set -u
PHYSYNTH=$1 SRC=$2 OUT=$3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"
"$PHYSYNTH" petab "$SRC/data/kinetics/boehm/Boehm_JProteomeRes2014.yaml" --scenario -o "$OUT/boehm.yaml" ||
  fail "--scenario: exit $?"
[ -s "$OUT/boehm_data.csv" ] || fail "no data file"
[ "$(wc -l <"$OUT/boehm_data.csv")" -eq 49 ] || fail "48 measurements expected"
"$PHYSYNTH" validate "$OUT/boehm.yaml" || fail "validate"
"$PHYSYNTH" run "$OUT/boehm.yaml" -q -o "$OUT/run" || fail "run"
llh() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['log_likelihood'])" "$1"; }
"$PHYSYNTH" anchor "$OUT/boehm.yaml" -q -o "$OUT/fit_generated" --starts 1 || fail "anchor (generated)"
"$PHYSYNTH" anchor "$SRC/scenarios/kinetics/boehm_stat5.yaml" -q -o "$OUT/fit_written" --starts 1 ||
  fail "anchor (hand-written)"
a=$(llh "$OUT/fit_generated/fit.json") b=$(llh "$OUT/fit_written/fit.json")
echo "log-likelihood: generated $a, hand-written $b"
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4 && a > -138.22199694 - 1e-4) }' ||
  fail "generated $a, hand-written $b, benchmark -138.22199694"

out=$("$PHYSYNTH" petab "$SRC/tests/fixtures/petab/preequilibration/problem.yaml" --scenario -o "$OUT/pre.yaml" 2>&1)
rc=$?
[ "$rc" -eq 2 ] || fail "preequilibration: exit $rc: $out"
echo "$out" | grep -q "measurements.tsv:2: error: preequilibration (3 measurements)" || fail "$out"
[ ! -e "$OUT/pre.yaml" ] && [ ! -e "$OUT/pre_data.csv" ] || fail "files written for a refused problem"
cp -r "$SRC/tests/fixtures/petab/preequilibration" "$OUT/pow"
# pow(), log of a state that starts at 0 (-inf on both sides) and ^ are written as they are and
# checked against PEtab's reading; a function a scenario has not (factorial) is refused.
printf 'observableId\tobservableFormula\tnoiseFormula\nobs_B\tpow(B, 2) + log(B + 1) + 2^B\tsd_B\n' >"$OUT/pow/observables.tsv"
printf 'observableId\tsimulationConditionId\tmeasurement\ttime\nobs_B\tsim\t0.66\t0.5\n' >"$OUT/pow/measurements.tsv"
out=$("$PHYSYNTH" petab "$OUT/pow/problem.yaml" --scenario -o "$OUT/pow.yaml" 2>&1) || fail "pow: $out"
grep -q 'expression: "pow(B, 2) + log(B + 1) + 2^B"' "$OUT/pow.yaml" || fail "pow: $(cat "$OUT/pow.yaml")"
printf 'observableId\tobservableFormula\tnoiseFormula\nobs_B\tfactorial(B)\tsd_B\n' >"$OUT/pow/observables.tsv"
out=$("$PHYSYNTH" petab "$OUT/pow/problem.yaml" --scenario -o "$OUT/factorial.yaml" 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "factorial: exit $rc: $out"
echo "$out" | grep -q "observables.tsv:2: error: observable 'obs_B': the formula 'factorial(B)' cannot be written" || fail "$out"
[ ! -e "$OUT/factorial.yaml" ] || fail "files written for a refused problem"
mkdir -p "$OUT/mine" && echo "my notes" >"$OUT/mine/boehm.yaml"
out=$("$PHYSYNTH" petab "$SRC/data/kinetics/boehm/Boehm_JProteomeRes2014.yaml" --scenario -o "$OUT/mine/boehm.yaml" 2>&1)
rc=$?
[ "$rc" -eq 2 ] || fail "a user's file: exit $rc: $out"
[ "$(cat "$OUT/mine/boehm.yaml")" = "my notes" ] && [ ! -e "$OUT/mine/boehm_data.csv" ] || fail "a user's file touched, or half written"
"$PHYSYNTH" petab "$SRC/data/kinetics/boehm/Boehm_JProteomeRes2014.yaml" --scenario -o "$OUT/boehm.yaml" >/dev/null ||
  fail "writing over its own scenario"
out=$("$PHYSYNTH" petab "$SRC/data/kinetics/boehm/Boehm_JProteomeRes2014.yaml" --scenario -o "$OUT/x.txt" 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "-o not .yaml: exit $rc"
echo ok
