#!/bin/sh
# Learning curves of the closed loop (physynth active) against uniform random and Sobol batches
# at equal budgets, over seeds: each seed a fresh test set, fresh probes and fresh networks.
#   bench/active_learning.sh SCENARIO TARGET BUDGET ROUNDS SEEDS [extra physynth active flags]
# Writes runs/active_bench/<seed>/ and prints, per strategy and round, the mean and spread of
# the test RMSE (and, with --real, the real data's RMSE and largest error), and for each seed the
# samples active needed to reach random's final RMSE (test; real too with --real).
set -e
scenario=$1 target=$2 budget=$3 rounds=$4 seeds=$5
shift 5
cli=${PHYSYNTH:-build/apps/physynth}
for seed in $(seq 1 "$seeds"); do
  "$cli" active "$scenario" --target "$target" --budget "$budget" --rounds "$rounds" -q \
    -o "runs/active_bench/$seed" --set sampling.seed="$seed" "$@"
done
/usr/bin/python3 - "$seeds" <<'PY'
import csv, statistics, sys
seeds = int(sys.argv[1])
curves = {}
for seed in range(1, seeds + 1):
    for row in csv.DictReader(open(f"runs/active_bench/{seed}/rounds.csv")):
        curves.setdefault((row["strategy"], int(row["samples"])), []).append(
            (float(row["rmse"]), float(row["p95_abs_error"]), float(row["max_abs_error"]),
             float(row.get("real_rmse", "nan")), float(row.get("real_max_abs_error", "nan"))))
real = all(x[3] == x[3] for v in curves.values() for x in v)
sd = lambda r: statistics.stdev(r) if len(r) > 1 else 0
print("strategy,samples,rmse_mean,rmse_sd,p95_mean,max_mean" + (",real_rmse_mean,real_rmse_sd,real_max_mean" if real else "") + ",seeds")
for (st, n), v in sorted(curves.items()):
    r = [x[0] for x in v]
    line = (f"{st},{n},{statistics.mean(r):.4g},{sd(r):.2g},"
            f"{statistics.mean(x[1] for x in v):.4g},{statistics.mean(x[2] for x in v):.4g}")
    if real:
        rr = [x[3] for x in v]
        line += f",{statistics.mean(rr):.4g},{sd(rr):.2g},{statistics.mean(x[4] for x in v):.4g}"
    print(line + f",{len(v)}")
# Per seed: the fewest active samples whose RMSE is at or below random's final RMSE.
for seed in range(1, seeds + 1):
    rows = list(csv.DictReader(open(f"runs/active_bench/{seed}/rounds.csv")))
    final = max((r for r in rows if r["strategy"] == "random"), key=lambda r: int(r["samples"]))
    for column in ("rmse", "real_rmse") if real else ("rmse",):
        target = float(final[column])
        reach = [int(r["samples"]) for r in rows if r["strategy"] == "active" and float(r[column]) <= target]
        print(f"seed {seed}: random's final {column} {target:.4g} at {final['samples']} samples; "
              f"active reaches it at {min(reach) if reach else 'never'}")
PY
