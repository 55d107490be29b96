#!/bin/bash
# physynth petab --simulate: Weber 2015 (preequilibration) at its nominal parameters gives the
# benchmark collection's own simulatedData table to 1e-5 relative, and each curve of
# trajectories.tsv starts where the table's rows at time 0 are; no -o is bad input.
# usage: petab_simulate.sh PHYSYNTH SOURCE_DIR OUT_DIR
set -u
PHYSYNTH=$1 SRC=$2 OUT=$3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"
W="$SRC/data/kinetics/weber"
"$PHYSYNTH" petab "$W/Weber_BMC2015.yaml" --simulate -o "$OUT/sim" || fail "exit $?"
/usr/bin/python3 - "$OUT/sim" "$W/simulatedData_Weber_BMC2015.tsv" <<'PY' || fail "tables differ"
import csv, sys
ours = list(csv.DictReader(open(sys.argv[1] + "/simulatedData.tsv"), delimiter="\t"))
ref = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
assert len(ours) == len(ref) == 135, (len(ours), len(ref))
worst = 0.0
for a, b in zip(ours, ref):
    assert (a["observableId"], a["simulationConditionId"], float(a["time"])) == (b["observableId"], b["simulationConditionId"], float(b["time"]))
    worst = max(worst, abs(float(a["simulation"]) - float(b["simulation"])) / max(1.0, abs(float(b["simulation"]))))
print("worst relative difference from the benchmark's simulatedData:", worst)
assert worst < 1e-5
curves = {}
for r in csv.DictReader(open(sys.argv[1] + "/trajectories.tsv"), delimiter="\t"):
    curves.setdefault((r["observableId"], r["preequilibrationConditionId"], r["simulationConditionId"]), []).append(r)
assert all(len(c) == 101 for c in curves.values()), {k: len(c) for k, c in curves.items()}
for a in ours:
    if float(a["time"]) == 0.0:
        c = curves[(a["observableId"], a["preequilibrationConditionId"], a["simulationConditionId"])]
        assert float(c[0]["time"]) == 0.0 and abs(float(c[0]["simulation"]) - float(a["simulation"])) < 1e-9, (a, c[0])
PY
out=$("$PHYSYNTH" petab "$W/Weber_BMC2015.yaml" --simulate 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "no -o: exit $rc"
echo "$out" | grep -q -- "--simulate needs -o DIR" || fail "$out"
echo ok
