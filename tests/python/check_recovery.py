"""Checks that an anchor fit recovered the parameters a run was generated with.

usage: check_recovery.py FIT_JSON SAMPLES_CSV SAMPLE [sigma_NAME=LOW:HIGH ...]

Every shared parameter in fit.json must have the value sample SAMPLE of SAMPLES_CSV (the run's
samples.csv, which records each sample's parameters) inside its confidence interval; every
sigma named on the command line must lie in [LOW, HIGH]. With SAMPLE "-", the intervals are not
checked against a truth, but no shared parameter may end on a bound.
"""
import csv
import json
import sys


def main():
    fit = json.load(open(sys.argv[1]))
    bad = []
    if not fit["shared"]:
        bad.append("fit.json has no shared parameters to check")
    if sys.argv[3] == "-":
        for p in fit["shared"]:
            print(f"{p['name']}: estimate {p['estimate']:.6g}{' ON A BOUND' if p.get('at_bound') else ''}")
            if p.get("at_bound"):
                bad.append(p["name"] + " on a bound")
        truth = None
    else:
        with open(sys.argv[2], newline="") as f:
            truth = next(r for r in csv.DictReader(f) if int(r["sample"]) == int(sys.argv[3]))
    for p in fit["shared"] if truth else []:
        t = float(truth[p["name"]])
        # an estimate the readings do not determine (null bounds: JSON has no infinity) recovers nothing
        ok = p.get("determined", True) and p["lower"] is not None and p["upper"] is not None and p["lower"] <= t <= p["upper"]
        bound = lambda v: "none" if v is None else f"{v:.6g}"
        print(f"{p['name']}: truth {t:.6g}, estimate {p['estimate']:.6g} [{bound(p['lower'])}, {bound(p['upper'])}]"
              f" {'ok' if ok else 'MISSED'}{'' if p.get('determined', True) else ' (not determined by the readings)'}")
        if not ok:
            bad.append(p["name"])
    sigmas = {s["name"]: s["estimate"] for s in fit.get("sigma", [])}
    for arg in sys.argv[4:]:
        name, bounds = arg.split("=")
        low, high = (float(v) for v in bounds.split(":"))
        if name not in sigmas:  # fit.json's sigma_not_estimated: no reading to estimate it from
            print(f"{name}: not estimated NO")
            bad.append(name)
            continue
        ok = low <= sigmas[name] <= high
        print(f"{name}: {sigmas[name]:.6g} in [{low:.6g}, {high:.6g}] {'ok' if ok else 'NO'}")
        if not ok:
            bad.append(name)
    if bad:
        sys.exit("not recovered: " + ", ".join(bad))


if __name__ == "__main__":
    main()
