#!/bin/bash
# physynth petab --simulate writes a run folder (manifest.json, shard-000000.h5 and CSV files,
# one unit per condition pair) with PEtab's simulation table:
#  - Weber 2015 (preequilibration) at its nominal parameters gives the benchmark collection's own
#    simulatedData table to 1e-5 relative; each unit's curves start where the table's rows at
#    time 0 are; the units' log-likelihoods add up to --llh's; `physynth report` draws the folder.
#  - The hand-made A <-> B problem (tests/fixtures/petab/preequilibration) matches its closed
#    forms on the grid: B(t) = 0.75 - 0.25 exp(-4t) after preequilibration, 0.75 (1 - exp(-4t))
#    without, NaN past the unit's last finite measurement (0.5).
#  - A condition whose simulation blows up is a failed unit named in the manifest and in a
#    message; the other units are written all the same (exit 0, as `physynth run` with some
#    failed samples), and no log-likelihood is printed.
#  - No -o is bad input (2).
# usage: petab_simulate.sh PHYSYNTH SOURCE_DIR OUT_DIR
set -u
PHYSYNTH=$1 SRC=$2 OUT=$3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"
W="$SRC/data/kinetics/weber"
"$PHYSYNTH" petab "$W/Weber_BMC2015.yaml" --simulate -o "$OUT/sim" > "$OUT/sim.log" || fail "exit $?"
llh=$("$PHYSYNTH" petab "$W/Weber_BMC2015.yaml" --llh | tail -1 | sed 's/log-likelihood: //')
/usr/bin/python3 - "$OUT/sim" "$W/simulatedData_Weber_BMC2015.tsv" "$llh" <<'PY' || fail "Weber's run folder"
import csv, json, math, sys
d = sys.argv[1]
ours = list(csv.DictReader(open(d + "/simulatedData.tsv"), delimiter="\t"))
ref = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
assert len(ours) == len(ref) == 135, (len(ours), len(ref))
worst = 0.0
for a, b in zip(ours, ref):
    assert (a["observableId"], a["simulationConditionId"], float(a["time"])) == (b["observableId"], b["simulationConditionId"], float(b["time"]))
    worst = max(worst, abs(float(a["simulation"]) - float(b["simulation"])) / max(1.0, abs(float(b["simulation"]))))
print("worst relative difference from the benchmark's simulatedData:", worst)
assert worst < 1e-5
m = json.load(open(d + "/manifest.json"))
assert m["format"] == "physynth-run-1" and m["status"] == "complete", m["status"]
assert m["samples"] == 2 and m["counts"] == {"ok": 2, "stopped_by_event": 0, "failed": 0}, m["counts"]
units = m["petab"]["units"]
assert [(u["preequilibration"], u["simulation"]) for u in units] == [("model1_data1", "model1_data2"), ("model1_data1", "model1_data3")], units
samples = list(csv.DictReader(open(d + "/shard-000000.samples.csv")))
assert len(samples) == 2 and all(s["status"] == "ok" for s in samples)
total = sum(float(s["log_likelihood"]) for s in samples)
print("units' log-likelihoods add up to", total, "; --llh:", sys.argv[3])
assert abs(total - float(sys.argv[3])) < 1e-3 and abs(total - m["petab"]["log_likelihood"]) < 1e-9
rows = list(csv.DictReader(open(d + "/shard-000000.csv")))
assert len(rows) == 2 * 101, len(rows)
by_unit = {(u["preequilibration"], u["simulation"]): u["unit"] for u in units}
for a in ours:
    if float(a["time"]) == 0.0:
        unit = by_unit[(a["preequilibrationConditionId"], a["simulationConditionId"])]
        r = rows[unit * 101]
        assert float(r["time"]) == 0.0 and abs(float(r[a["observableId"]]) - float(a["simulation"])) < 1e-9 * max(1, abs(float(a["simulation"]))), (a, r[a["observableId"]])
PY
# (A build without VTK, the sanitizer build, has no report command.)
if "$PHYSYNTH" --help | grep -q '^  report'; then
  "$PHYSYNTH" report "$OUT/sim" > "$OUT/report.log" 2>&1 || fail "report: $(cat "$OUT/report.log")"
  [ -s "$OUT/sim/report.html" ] && ls "$OUT/sim/plots/"ensemble-*.png > /dev/null || fail "report drew nothing"
fi

# The closed forms, and a condition that fails.
P="$OUT/ab"
cp -r "$SRC/tests/fixtures/petab/preequilibration" "$P"
"$PHYSYNTH" petab "$P/problem.yaml" --simulate --points 41 -o "$OUT/ab_sim" > "$OUT/ab.log" || fail "A<->B: exit $?"
/usr/bin/python3 - "$OUT/ab_sim" <<'PY' || fail "A<->B closed forms"
import csv, json, math, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
assert [(u["preequilibration"], u["simulation"]) for u in m["petab"]["units"]] == [("pre", "sim"), ("", "sim")]
rows = list(csv.DictReader(open(d + "/shard-000000.csv")))
assert len(rows) == 2 * 41
worst = 0.0
for r in rows:
    u, t = int(r["sample"]), float(r["time"])
    if u == 1 and t > 0.5 + 1e-12:
        assert r["B"] == "" and r["obs_B"] == "", r  # past its last measurement: not simulated
        continue
    exact = 0.75 - 0.25 * math.exp(-4 * t) if u == 0 else 0.75 * (1 - math.exp(-4 * t))
    worst = max(worst, abs(float(r["B"]) - exact), abs(float(r["obs_B"]) - exact), abs(float(r["A"]) + float(r["B"]) - 1))
print("A<->B: largest error against the closed forms on the grid:", worst)
assert worst < 1e-7
PY
printf 'bad\t-1e6\n' >> "$P/conditions.tsv"
printf 'obs_B\t\tbad\t0.5\t1\n' >> "$P/measurements.tsv"
"$PHYSYNTH" petab "$P/problem.yaml" --simulate -o "$OUT/bad_sim" > "$OUT/bad.log" 2>&1; rc=$?
[ "$rc" -eq 0 ] || fail "a failing condition: exit $rc: $(cat "$OUT/bad.log")"
grep -q "condition 'bad': the simulation failed" "$OUT/bad.log" || fail "no message naming the condition: $(cat "$OUT/bad.log")"
grep -q "the log-likelihood is not computed" "$OUT/bad.log" && ! grep -q "^log-likelihood:" "$OUT/bad.log" ||
  fail "a log-likelihood with a failed unit: $(cat "$OUT/bad.log")"
/usr/bin/python3 - "$OUT/bad_sim" <<'PY' || fail "the failed unit's run folder"
import csv, json, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
assert m["counts"] == {"ok": 2, "stopped_by_event": 0, "failed": 1}, m["counts"]
assert len(m["failures"]) == 1 and m["failures"][0]["sample"] == 2 and m["failures"][0]["message"], m["failures"]
assert m["failures"][0]["parameters"]["k1"] == -1e6
samples = list(csv.DictReader(open(d + "/shard-000000.samples.csv")))
assert [s["status"] for s in samples] == ["ok", "ok", "failed"], [s["status"] for s in samples]
rows = list(csv.DictReader(open(d + "/shard-000000.csv")))
assert all(r["B"] != "" for r in rows if r["sample"] == "0")
sim = list(csv.DictReader(open(d + "/simulatedData.tsv"), delimiter="\t"))
assert len(sim) == 6 and sim[-1]["simulation"] == "nan" and sim[0]["simulation"] != "nan", sim[-1]
PY

out=$("$PHYSYNTH" petab "$W/Weber_BMC2015.yaml" --simulate 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "no -o: exit $rc"
echo "$out" | grep -q -- "--simulate needs -o DIR" || fail "$out"
echo ok
