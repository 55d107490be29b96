#!/bin/sh
# The closed loop and the hybrid mixes on NASA milling remaining life, tested on real tools the
# anchor never saw (issue 29). The wear model is calibrated on cases 1-8 (physynth anchor); the
# loop generates tools from that calibration and trains on windows of the wear readings (with
# depth of cut and feed, known settings); every round it scores the model on the real cases 9-16:
# the time left until flank wear reaches 0.4 mm (every case crosses it), at each real reading
# before then (examples/milling_rul.py derives it). Then, per seed, the hybrid mixes: the real
# cases 1-8 plus synthetic rows at 0 to 32 per real row, and synthetic rows alone, on 9-16.
#   bench/active_milling.sh SEEDS BUDGET ROUNDS [extra physynth active flags]
# Prints bench/active_learning.sh's table (test and real RMSE per strategy and round), then the
# mixes' mean real RMSE over seeds.
set -e
seeds=${1:-5} budget=${2:-800} rounds=${3:-4}
shift 3 || shift $#
cli=${PHYSYNTH:-build/apps/physynth}
here=$(dirname "$0")
work=runs/active_milling
/usr/bin/python3 "$here/../examples/milling_rul.py" data/manufacturing/nasa_milling/wear.csv "$work"
"$cli" anchor scenarios/manufacturing/nasa_milling.yaml --data "$work/cases_1-8.csv" -o "$work/anchor" -q
# The calibrated scenario as a remaining-life task: the run stops at 0.4 mm, readings every 3 time
# units (the NASA spacing is 1 to 7), windows of 4 readings.
set -- --set 'labels=[{name: rul, remaining_until: worn_out}]' \
  --set 'feed={channels: [wear_reading], target: rul, window: 4}' --set 'events[0].threshold=0.4' \
  --set 'observations[0].sample_interval=3' --set 'time.end=200' --set 'time.points=201' \
  --covariates depth_of_cut,feed --real "$work/cases_9-16_rul.csv" "$@"
"$here/active_learning.sh" "$work/anchor/calibrated.yaml" rul "$budget" "$rounds" "$seeds" "$@"
for seed in $(seq 1 "$seeds"); do
  "$cli" active "$work/anchor/calibrated.yaml" --target rul --mix "$work/cases_1-8_rul.csv" -q \
    -o "$work/mix/$seed" --set sampling.seed="$seed" "$@"
done
/usr/bin/python3 - "$work/mix" "$seeds" <<'PY'
import csv, statistics, sys
rows = {}
for seed in range(1, int(sys.argv[2]) + 1):
    for r in csv.DictReader(open(f"{sys.argv[1]}/{seed}/mix.csv")):
        rows.setdefault(r["ratio"], []).append((int(r["real_rows"]), int(r["synthetic_rows"]), float(r["rmse"])))
print("ratio,real_rows,synthetic_rows,real_rmse_mean,real_rmse_sd,seeds")
for ratio, v in rows.items():
    e = [x[2] for x in v]
    print(f"{ratio},{v[0][0]},{v[0][1]},{statistics.mean(e):.4g},{statistics.stdev(e) if len(e) > 1 else 0:.2g},{len(e)}")
PY
