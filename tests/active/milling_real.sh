#!/bin/sh
# physynth active on real NASA milling tools, end to end: the wear model anchored on cases 1-8,
# the loop scored every round on the real cases 9-16 (--real), then the hybrid mixes of cases 1-8
# with synthetic rows (--mix); with a fourth argument "report", the report of both folders.
#   milling_real.sh PHYSYNTH SOURCE_DIR OUT_DIR [report]
set -eu
cli=$1 src=$2 out=$3 report=${4:-}
rm -rf "$out"
/usr/bin/python3 "$src/examples/milling_rul.py" "$src/data/manufacturing/nasa_milling/wear.csv" "$out"
"$cli" anchor "$src/scenarios/manufacturing/nasa_milling.yaml" --data "$out/cases_1-8.csv" -o "$out/anchor" -q
active() {
  "$cli" active "$out/anchor/calibrated.yaml" --target rul --covariates depth_of_cut,feed --epochs 20 --members 2 -q \
    --set 'labels=[{name: rul, remaining_until: worn_out}]' --set 'feed={channels: [wear_reading], target: rul, window: 4}' \
    --set 'events[0].threshold=0.4' --set 'observations[0].sample_interval=3' --set 'time.end=200' \
    --set 'time.points=201' --real "$out/cases_9-16_rul.csv" "$@"
}
active --budget 40 --rounds 2 --test 40 -o "$out/loop"
# rounds.csv: a header and a row per trained round (2) per strategy (3), each with a real RMSE.
test "$(grep -c . "$out/loop/rounds.csv")" -eq 7
head -1 "$out/loop/rounds.csv" | grep -q ',real_rmse,'
awk -F, 'NR > 1 && !($11 > 0) { exit 1 }' "$out/loop/rounds.csv"
grep -q '"final_real_rmse"' "$out/loop/active.json"
grep -q '"units": 8' "$out/loop/active.json"
active --mix "$out/cases_1-8_rul.csv" --ratios 0,2 -o "$out/mix"
test "$(grep -c . "$out/mix/mix.csv")" -eq 4
grep -q '^0,[1-9][0-9]*,0,' "$out/mix/mix.csv"
grep -q '^synthetic_only,0,' "$out/mix/mix.csv"
if [ "$report" = report ]; then
  unset DISPLAY
  "$cli" report "$out/loop" -q
  test -s "$out/loop/plots/active-real_rmse.png"
  grep -q 'real RMSE' "$out/loop/report.html"
  "$cli" report "$out/mix" -q
  test -s "$out/mix/plots/active-mix.png"
  grep -q 'Hybrid mixes' "$out/mix/report.html"
fi
echo "milling_real: ok"
