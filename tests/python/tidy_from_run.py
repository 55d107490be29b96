"""Writes a run folder's CSV shards as the tidy real-data CSV `physynth anchor` reads.

usage: tidy_from_run.py RUN_DIR OUT.csv CHANNEL[,CHANNEL...] [SAMPLE[,SAMPLE...]]

Each sample becomes a unit named u<sample>; a reading that is missing (empty or NaN: a dropout,
or a row after the unit stopped) is left out. With no samples given, every sample is written.
"""
import csv
import glob
import math
import os
import sys


def main():
    run, out, channels = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    wanted = set(int(s) for s in sys.argv[4].split(",")) if len(sys.argv) > 4 else None
    rows = []
    for shard in sorted(glob.glob(os.path.join(run, "shard-*[0-9].csv"))):
        with open(shard, newline="") as f:
            for r in csv.DictReader(f):
                sample = int(r["sample"])
                if wanted is not None and sample not in wanted:
                    continue
                for c in channels:
                    if r[c] != "" and not math.isnan(float(r[c])):
                        rows.append((f"u{sample}", r["time"], c, r[c]))
    if not rows:
        sys.exit(f"{run}: no readings of {', '.join(channels)}")
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["unit", "time", "observable", "value"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
