"""Checks an anchor's out-of-sample validation (validation.json, validation.csv).

usage: check_validation.py DIR UNITS FOLDS [by_group]

Every one of UNITS units must be scored exactly once, in FOLDS folds, with no failed fold; a
group's units must all sit in one fold; the calibrated generator's mean RMSE must be below the
prior's and the training units' mean curve's (the baseline's), and every row of validation.csv
must match validation.json.
"""
import csv
import json
import os
import sys


def main():
    d, units, folds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    by_group = len(sys.argv) > 4
    j = json.load(open(os.path.join(d, "validation.json")))
    rows = list(csv.DictReader(open(os.path.join(d, "validation.csv"), newline="")))
    problems = []
    scores = j["scores"]
    if j["folds"] != folds or len(j["fold_fits"]) != folds:
        problems.append(f"{j['folds']} folds, expected {folds}")
    if j["failed_folds"]:
        problems.append(f"{j['failed_folds']} folds failed")
    seen = [s["unit"] for s in scores]
    if len(seen) != units or len(set(seen)) != units:
        problems.append(f"{len(seen)} scores of {len(set(seen))} units, expected {units} units once each")
    if by_group:
        fold_of = {}
        for s in scores:
            if fold_of.setdefault(s["group"], s["fold"]) != s["fold"]:
                problems.append(f"group {s['group']} is split across folds")
    if len(rows) != len(scores):
        problems.append(f"validation.csv has {len(rows)} rows, validation.json {len(scores)}")
    for r, s in zip(rows, scores):
        if r["unit"] != s["unit"] or abs(float(r["rmse_calibrated"]) - s["rmse_calibrated"]) > 1e-9 * max(1, s["rmse_calibrated"]):
            problems.append(f"csv row {r} differs from json {s}")
            break
    mean = {k: sum(s[k] for s in scores) / len(scores) for k in ("rmse_calibrated", "rmse_prior", "rmse_baseline")}
    print(", ".join(f"{k} {v:.4g}" for k, v in mean.items()))
    if not mean["rmse_calibrated"] < min(mean["rmse_prior"], mean["rmse_baseline"]):
        problems.append("the calibration does not beat the prior and the baseline out of sample")
    if problems:
        sys.exit("; ".join(problems))


if __name__ == "__main__":
    main()
