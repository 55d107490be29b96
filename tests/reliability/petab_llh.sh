#!/bin/bash
# physynth petab --llh: the Boehm STAT5 problem's log-likelihood at its nominal parameters is
# AMICI's reference (-138.22199693517703, the benchmark collection's) to 1e-4, the last line is
# 'log-likelihood: VALUE', and the tolerances were tightened until it settled; an empty noise
# parameter is named by its file and line (exit 1), a missing file is bad input (exit 2).
# --gradient adjoint and forward print the same gradient before that last line; --gradient
# without --llh is bad input.
# usage: petab_llh.sh PHYSYNTH SOURCE_DIR OUT_DIR
set -u
PHYSYNTH=$1 SRC=$2 OUT=$3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"
out=$("$PHYSYNTH" petab "$SRC/data/kinetics/boehm/Boehm_JProteomeRes2014.yaml" --llh) || fail "exit $?: $out"
echo "$out"
last=$(echo "$out" | tail -1)
echo "$last" | grep -Eq '^log-likelihood: -?[0-9.]+(e[-+]?[0-9]+)?$' || fail "last line: $last"
awk -v v="${last#log-likelihood: }" 'BEGIN { d = v - (-138.22199693517703); exit !(d < 1e-4 && d > -1e-4) }' ||
  fail "not AMICI's -138.22199693517703: $last"
echo "$out" | grep -q "(change " || fail "no tightening reported"

for method in adjoint forward; do
  out=$("$PHYSYNTH" petab "$SRC/data/kinetics/boehm/Boehm_JProteomeRes2014.yaml" --llh --gradient $method) ||
    fail "--gradient $method: exit $?: $out"
  echo "$out" | grep -q "^gradient by $method sensitivities" || fail "--gradient $method: $out"
  echo "$out" | tail -1 | grep -q '^log-likelihood: ' || fail "--gradient $method: last line"
  echo "$out" | grep -E '^  k_exp_hetero: ' >"$OUT/k_exp_hetero.$method" || fail "no k_exp_hetero: $out"
done
awk 'NR == FNR { a = $2; next } { d = (a - $2) / $2; exit !(d < 1e-5 && d > -1e-5) }' "$OUT/k_exp_hetero.adjoint" \
  "$OUT/k_exp_hetero.forward" || fail "adjoint and forward gradients differ: $(cat "$OUT"/k_exp_hetero.*)"
out=$("$PHYSYNTH" petab "$SRC/data/kinetics/boehm/Boehm_JProteomeRes2014.yaml" --calibrate -o "$OUT/cal" --gradient adjoint 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "--gradient without --llh: exit $rc: $out"
echo "$out" | grep -q "goes with --llh" || fail "$out"

cp -r "$SRC/data/kinetics/boehm" "$OUT/empty_noise"
m="$OUT/empty_noise/measurementData_Boehm_JProteomeRes2014.tsv"
awk -F'\t' -v OFS='\t' 'NR == 3 { $7 = "" } { print }' "$m" >"$m.new" && mv "$m.new" "$m"
out=$("$PHYSYNTH" petab "$OUT/empty_noise/Boehm_JProteomeRes2014.yaml" --llh 2>&1); rc=$?
[ "$rc" -eq 1 ] || fail "empty noise parameter: exit $rc: $out"
echo "$out" | grep -q "measurementData_Boehm_JProteomeRes2014.tsv:3: observable pSTAT5A_rel" || fail "row not named: $out"
echo "$out" | grep -q "sigma must be a positive number" || fail "reason not given: $out"
echo "$out" | grep -q "nan" && fail "a nan reported: $out"

out=$("$PHYSYNTH" petab "$OUT/none.yaml" --llh 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "missing file: exit $rc"
echo "$out" | grep -q "cannot open PEtab problem file" || fail "$out"
echo ok
