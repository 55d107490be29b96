#!/usr/bin/python3
"""Remaining useful life of the NASA milling tools as real data for `physynth active --real/--mix`.

    /usr/bin/python3 examples/milling_rul.py data/manufacturing/nasa_milling/wear.csv OUT_DIR [LIMIT_MM]

Splits the tidy wear readings (data/manufacturing/nasa_milling/SOURCE.md) by case and writes
into OUT_DIR:
  cases_1-8.csv        the wear readings of cases 1-8 (what `physynth anchor` calibrates on);
  cases_1-8_rul.csv    the same tools with their remaining life (observable `rul`);
  cases_9-16_rul.csv   the replicates 9-16, never calibrated on, with their remaining life.
A tool's remaining life at a reading is the time from it until its flank wear first reaches
LIMIT_MM (0.4 by default; every case crosses it), that time found linearly between the two
readings around the crossing. Readings after the crossing get no `rul`; a tool that starts at or
above the limit, or never reaches it, is left out of the *_rul files.
"""
import csv
import os
import sys


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    source, out = sys.argv[1], sys.argv[2]
    limit = float(sys.argv[3]) if len(sys.argv) == 4 else 0.4
    rows = list(csv.DictReader(open(source)))
    case = lambda r: int(r["unit"].split("_")[1])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "cases_1-8.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0].keys()))
        w.writeheader()
        w.writerows(r for r in rows if case(r) <= 8)
    for name, keep in (("cases_1-8_rul.csv", lambda c: c <= 8), ("cases_9-16_rul.csv", lambda c: c > 8)):
        units = {}
        for r in rows:
            if keep(case(r)):
                units.setdefault(r["unit"], []).append(r)
        with open(os.path.join(out, name), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["unit", "time", "observable", "value", "depth_of_cut", "feed"])
            for unit, rs in units.items():
                t = [float(r["time"]) for r in rs]
                v = [float(r["value"]) for r in rs]
                k = next((i for i in range(len(v)) if v[i] >= limit), None)
                if not k:
                    continue
                t_limit = t[k - 1] + (limit - v[k - 1]) * (t[k] - t[k - 1]) / (v[k] - v[k - 1])
                for r in rs:
                    w.writerow([unit, r["time"], r["observable"], r["value"], r["depth_of_cut"], r["feed"]])
                for i in range(k):
                    w.writerow([unit, t[i], "rul", repr(t_limit - t[i]), rs[0]["depth_of_cut"], rs[0]["feed"]])


if __name__ == "__main__":
    main()
