#!/usr/bin/env bash
# The two example user-defined models (scenarios/equations/) through every command a user runs:
# run (byte-identical on 1 and 2 threads), anchor on readings made with known parameters (the
# truth inside every 95 % interval), train-pinn and a backend-pinn run, and report.
# Usage: user_models.sh PHYSYNTH SOURCE_DIR OUT_DIR
PHYSYNTH=$1
SRC=$2
OUT=$3
. "$(dirname "$0")/common.sh"
rm -rf "$OUT" && mkdir -p "$OUT"
have_report=0
"$PHYSYNTH" --help | grep -q '^  report' && have_report=1
have_pinn=0
"$PHYSYNTH" --help | grep -q '^  train-pinn' && have_pinn=1

# inside FIT PARAM VALUE: the calibrated interval of PARAM in fit.json FIT holds VALUE.
inside() {
  awk -v p="\"$2\"" -v v="$3" '
    $0 ~ "\"name\": " p { found = 1 }
    found && /"lower"/ { gsub(/[",]/, "", $2); lo = $2 }
    found && /"upper"/ { gsub(/[",]/, "", $2); hi = $2; exit }
    END { if (!(lo + 0 <= v + 0 && v + 0 <= hi + 0)) { print "interval [" lo ", " hi "] misses " v; exit 1 } }' "$1" ||
    fail "$2 in $1"
}

for model in battery_fade pump_wear; do
  S=$SRC/scenarios/equations/$model.yaml
  "$PHYSYNTH" run "$S" -q -o "$OUT/$model-1" -j 1 --set sampling.samples=40 || fail "run $model"
  "$PHYSYNTH" run "$S" -q -o "$OUT/$model-2" -j 2 --set sampling.samples=40 || fail "run $model -j 2"
  same_data "$OUT/$model-1" "$OUT/$model-2"
  grep -q '"failed": 0' "$OUT/$model-1/audit.json" || fail "$model: failed samples"
  if [ "$have_report" -eq 1 ]; then
    "$PHYSYNTH" report "$OUT/$model-1" -q --format vtk || fail "report $model"
    test -s "$OUT/$model-1/report.html" || fail "$model: no report.html"
  fi
done

# Schedules (a new impeller at 10,000 h) and operating regimes (speed and slurry drawn every
# 1,000 h; the two parameters leave the parameters section) work on a user's model as on any.
P=$SRC/scenarios/equations/pump_wear.yaml
"$PHYSYNTH" run "$P" -q -o "$OUT/schedule" --set sampling.samples=8 --set events=[] --set labels=[] \
  --set 'model.schedule=[{at: 10000, set: {w: 0}}]' || fail "schedule"
grep -v '^  N:\|^  solids:' "$P" > "$OUT/regimes.yaml"
printf 'regimes: {parameters: [N, solids], conditions: [[1450, 5], [1750, 25]], every: 1000}\n' >> "$OUT/regimes.yaml"
"$PHYSYNTH" run "$OUT/regimes.yaml" -q -o "$OUT/regimes" --set sampling.samples=8 || fail "regimes"
grep -q '"failed": 0' "$OUT/regimes/audit.json" || fail "regimes: failed samples"

"$PHYSYNTH" anchor "$SRC/scenarios/equations/pump_wear.yaml" -q -o "$OUT/pump_anchor" \
  --data "$SRC/tests/fixtures/equations/pumps_known_truth.csv" || fail "anchor pump"
inside "$OUT/pump_anchor/fit.json" c_wear 3.0e-7
inside "$OUT/pump_anchor/fit.json" H_static 21.5
"$PHYSYNTH" anchor "$SRC/scenarios/equations/battery_fade.yaml" -q -o "$OUT/battery_anchor" \
  --data "$SRC/tests/fixtures/equations/cells_known_truth.csv" || fail "anchor battery"
inside "$OUT/battery_anchor/fit.json" k_ref 1.5e-5
inside "$OUT/battery_anchor/fit.json" Ea 50000
inside "$OUT/battery_anchor/fit.json" beta 1.5e-5
# The calibrated scenario runs.
"$PHYSYNTH" run "$OUT/pump_anchor/calibrated.yaml" -q -o "$OUT/pump_calibrated" --set sampling.samples=8 ||
  fail "run calibrated pump"

if [ "$have_pinn" -eq 1 ]; then
  for model in battery_fade pump_wear; do
    S=$SRC/scenarios/equations/$model.yaml
    "$PHYSYNTH" train-pinn "$S" -q -o "$OUT/$model.pt" --set pinn.train.adam_steps=300 \
      --set pinn.train.lbfgs_iterations=200 --set pinn.train.validation_samples=10 || fail "train-pinn $model"
    test -s "$OUT/$model.json" || fail "$model: no sidecar"
    "$PHYSYNTH" run "$S" -q -o "$OUT/$model-pinn" --set backend=pinn --set pinn.model="$OUT/$model.pt" \
      --set sampling.samples=16 --set events=[] --set labels=[] || fail "backend pinn $model"
    test -s "$OUT/$model-pinn/pinn_audit.csv" || fail "$model: no pinn_audit.csv"
  done
fi
echo "user models: run, anchor, train-pinn and report work"
