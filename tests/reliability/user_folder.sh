#!/usr/bin/env bash
# Nothing a user owns is touched, nothing damaged is read, nothing wrong is reported as ok
# (docs/RELIABILITY.md, "What a folder can lose"). Usage: user_folder.sh PHYSYNTH SOURCE_DIR OUT_DIR
PHYSYNTH=$1
SRC=$2
OUT=$3
. "$(dirname "$0")/common.sh"
rm -rf "$OUT" && mkdir -p "$OUT"
MM=$SRC/scenarios/kinetics/michaelis_menten.yaml
RB=$SRC/scenarios/kinetics/reversible_binding.yaml
small="--set sampling.samples=8"
# The build without VTK (scripts/sanitize.sh) has no report command.
have_report=0
"$PHYSYNTH" --help | grep -q '^  report' && have_report=1
report_flags=""
[ "$have_report" -eq 1 ] && report_flags="--report --format vtk"
# expect CODE TEXT CMD...: CMD exits CODE and says TEXT (stdout or stderr).
expect() {
  local code=$1 text=$2
  shift 2
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  [ "$rc" -eq "$code" ] || fail "exit $rc (expected $code): $* -> $out"
  [ -z "$text" ] || echo "$out" | grep -qF -- "$text" || fail "no '$text' in: $out"
}

# 1. --overwrite removes what physynth wrote there, and nothing else.
"$PHYSYNTH" run "$MM" -q -o "$OUT/run" $small $report_flags || fail "first run"
mkdir -p "$OUT/run/journal" "$OUT/run/plots"
echo diary >"$OUT/run/journal/diary.txt"
echo inventory >"$OUT/run/shard-inventory.xlsx"
echo movie >"$OUT/run/movie.mkv.partial"
echo mine >"$OUT/run/pinn_audit.csv"
echo sketch >"$OUT/run/plots/sketch.png"
expect 2 "already holds a run" "$PHYSYNTH" run "$RB" -q -o "$OUT/run" $small
"$PHYSYNTH" run "$RB" -q -o "$OUT/run" $small --overwrite || fail "run --overwrite"
for f in journal/diary.txt shard-inventory.xlsx movie.mkv.partial pinn_audit.csv plots/sketch.png; do
  [ -f "$OUT/run/$f" ] || fail "--overwrite removed the user's $f"
done
grep -q '"name": "reversible_binding"' "$OUT/run/manifest.json" || fail "the new run's manifest is not there"
# No stale report of the old run: report.html, vtk/ and its files went with it.
[ -e "$OUT/run/report.html" ] && fail "a stale report.html of the first run remains"
[ -e "$OUT/run/vtk" ] && fail "a stale vtk/ of the first run remains"
# A folder with files physynth did not write and no physynth output is refused, even with --overwrite.
mkdir -p "$OUT/user" && echo notes >"$OUT/user/notes.txt"
expect 2 "holds files physynth did not write (notes.txt)" "$PHYSYNTH" run "$MM" -q -o "$OUT/user" $small --overwrite
[ "$(ls -A "$OUT/user")" = "notes.txt" ] || fail "the refused folder changed: $(ls -A "$OUT/user")"
expect 2 "holds files physynth did not write" "$PHYSYNTH" anchor "$SRC/scenarios/kinetics/puromycin.yaml" -q -o "$OUT/user"

# 2. One writer at a time: a second writer is refused at once, naming the holder.
"$PHYSYNTH" run "$SRC/scenarios/manufacturing/mixed_fleet.yaml" -q -o "$OUT/busy" -j 1 --set sampling.samples=$(scaled 300) &
pid=$!
for _ in $(seq 100); do [ -e "$OUT/busy/.physynth/lock" ] && break; sleep 0.05; done
expect 2 "is being written by another physynth process (pid $pid, physynth run)" \
  "$PHYSYNTH" run "$MM" -q -o "$OUT/busy" $small --overwrite
wait "$pid" || fail "the first writer failed"
grep -q '"status": "complete"' "$OUT/busy/manifest.json" || fail "the first writer's run is not complete"

# 3. Readers verify what they read: a changed shard is named, nothing is read (exit 1).
"$PHYSYNTH" run "$SRC/scenarios/kinetics/puromycin.yaml" -q -o "$OUT/damaged" $small || fail "run for damage"
printf '\x41\x2e\x84\x80' | dd of="$OUT/damaged/shard-000000.h5" bs=1 seek=4000 conv=notrunc 2>/dev/null
expect 1 "shard-000000.h5 does not match its recorded SHA-256" \
  "$PHYSYNTH" audit "$OUT/damaged" --real "$SRC/data/kinetics/puromycin/treated.csv" -q
[ -e "$OUT/damaged/fidelity_audit.json" ] && fail "an audit of damaged data was written"
rm "$OUT/damaged/shard-000000.h5"
expect 1 "shard-000000.h5 is missing" "$PHYSYNTH" audit "$OUT/damaged" --real "$SRC/data/kinetics/puromycin/treated.csv" -q

# 4. Physics failures are failures: recorded, counted, and a run where all failed exits 1. (CVODES
# with an absurd atol breaks the conservation law; Rodas5P, linearly implicit, keeps linear
# invariants whatever its steps, so the case names CVODES.)
expect 1 "(0 ok, 0 stopped by an event, 8 failed)" "$PHYSYNTH" run "$MM" -o "$OUT/atol" $small --set solver.atol=1e308 --set solver.method=bdf
grep -q '"flag": "INVARIANT_VIOLATED"' "$OUT/atol/manifest.json" || fail "no INVARIANT_VIOLATED failure"
expect 1 "" "$PHYSYNTH" run "$MM" -q -o "$OUT/negative" $small --set parameters.E0.value=-1
grep -q '"flag": "NEGATIVE_AMOUNT"' "$OUT/negative/manifest.json" || fail "no NEGATIVE_AMOUNT failure"

# 5. Strict YAML: duplicate keys (block and flow), aliases under --set, paths that are no file.
printf 'name: x\ndomain: kinetics\nsampling: {samples: 2, samples: 3}\nsampling:\n  seed: 1\n' >"$OUT/dup.yaml"
expect 2 "dup.yaml:4:1: error: duplicate key 'sampling' in the file (first at line 3, column 1)" \
  "$PHYSYNTH" validate "$OUT/dup.yaml"
expect 2 "dup.yaml:3:24: error: duplicate key 'samples' in sampling (first at line 3, column 12)" \
  "$PHYSYNTH" validate "$OUT/dup.yaml"
sed -e 's|^  kon: .*|  kon:  \&u {distribution: log_uniform, low: 1.0e-4, high: 1.0e-2, units: 1/s}|' \
  -e 's|^  koff: .*|  koff: *u|' -e "s|\.\./\.\./|$SRC/|g" "$RB" >"$OUT/alias.yaml"
expect 2 "parameters.kon in $OUT/alias.yaml is a YAML anchor or alias shared with parameters.koff" \
  "$PHYSYNTH" validate "$OUT/alias.yaml" --set parameters.kon.high=5
expect 0 "" "$PHYSYNTH" validate "$OUT/alias.yaml"
expect 2 "is not a regular file (a character device)" "$PHYSYNTH" validate /dev/zero
expect 2 "is a folder, not a scenario file" "$PHYSYNTH" validate "$OUT"
expect 2 "override 'sampling={samples: 2, samples: 3}': duplicate key 'samples' in sampling" \
  "$PHYSYNTH" validate "$MM" --set 'sampling={samples: 2, samples: 3}'
# Every file input, not only the scenario: a device as real data is refused, not read forever.
expect 2 "/dev/zero: error: is not a regular file (a character device); a real-data file must be a file" \
  "$PHYSYNTH" anchor "$SRC/scenarios/kinetics/puromycin.yaml" --data /dev/zero -q -o "$OUT/zero"
mkfifo "$OUT/fifo.yaml"
expect 2 "is not a regular file (a FIFO)" timeout 10 "$PHYSYNTH" validate "$OUT/fifo.yaml"

# 6. Real-data CSVs: a byte-order mark is read; a row given twice is refused with both lines.
printf '\xef\xbb\xbf' >"$OUT/bom.csv" && cat "$SRC/data/kinetics/puromycin/treated.csv" >>"$OUT/bom.csv"
"$PHYSYNTH" anchor "$SRC/scenarios/kinetics/puromycin.yaml" --data "$OUT/bom.csv" -q -o "$OUT/bom" --starts 2 ||
  fail "a CSV with a byte-order mark"
{ cat "$SRC/data/kinetics/puromycin/treated.csv"; sed -n 3p "$SRC/data/kinetics/puromycin/treated.csv"; } >"$OUT/dup.csv"
lines=$(wc -l <"$OUT/dup.csv")
expect 2 "dup.csv:$lines:1: error: this row repeats line 3 exactly" \
  "$PHYSYNTH" anchor "$SRC/scenarios/kinetics/puromycin.yaml" --data "$OUT/dup.csv" -q -o "$OUT/dup"
# Times outside the scenario's span: anchor and audit say the same.
sed 's/^well_2,0,/well_2,-5,/' "$SRC/data/kinetics/puromycin/treated.csv" >"$OUT/negative_time.csv"
expect 2 "negative_time.csv:3: error: time -5 is outside the scenario's time span" \
  "$PHYSYNTH" anchor "$SRC/scenarios/kinetics/puromycin.yaml" --data "$OUT/negative_time.csv" -q -o "$OUT/nt"
"$PHYSYNTH" run "$SRC/scenarios/kinetics/puromycin.yaml" -q -o "$OUT/puro" $small || fail "puromycin run"
expect 2 "negative_time.csv:3: error: time -5 is outside the scenario's time span" \
  "$PHYSYNTH" audit "$OUT/puro" --real "$OUT/negative_time.csv" -q

# A covariate of a log-scale parameter at or below zero: anchor and audit say the same.
sed 's/^well_3,0,rate,97,counts\/min\/min,0.06$/well_3,0,rate,97,counts\/min\/min,-0.06/' \
  "$SRC/data/kinetics/puromycin/treated.csv" >"$OUT/negative_s0.csv"
expect 2 "covariate 'S0' of unit 'well_3' is -0.06, but the scenario's S0 is log_uniform(low=0.02, high=1.1)" \
  "$PHYSYNTH" anchor "$SRC/scenarios/kinetics/puromycin.yaml" --data "$OUT/negative_s0.csv" -q -o "$OUT/ns"
expect 2 "covariate 'S0' of unit 'well_3' is -0.06, but the scenario's S0 is log_uniform(low=0.02, high=1.1)" \
  "$PHYSYNTH" audit "$OUT/puro" --real "$OUT/negative_s0.csv" -q

# 7. A report stopped by a file-size limit exits 1 with one message and leaves no file that looks whole.
if [ "$have_report" -eq 1 ]; then
  "$PHYSYNTH" run "$MM" -q -o "$OUT/limited" $small || fail "run for the report"
  out=$(ulimit -f 4; "$PHYSYNTH" report "$OUT/limited" --format vtk -q 2>&1); rc=$?
  [ "$rc" -eq 1 ] || fail "report under a file-size limit: exit $rc"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "more than one line: $out"
  echo "$out" | grep -q "cannot write .*vtk/.*vtp: the VTK writer failed" || fail "unclear: $out"
  [ -n "$(find "$OUT/limited" -name '*.vtp' -size 0)" ] && fail "empty .vtp files under their final names"
  [ -e "$OUT/limited/report.html" ] && fail "a report.html after a failed report"
fi

# 8. A rainfed PCSE LINGRA file (LINGRA_WLP_FD) runs with the soil water balance; `water: potential`
# runs it as irrigated, with a warning that says so; a nitrogen-limited file is refused.
sed -e "s|054_NL1_1983|001_UK2_1982|g" -e "s|NL1_1983.csv|UK2_1982.csv|" \
  -e "s|\.\./\.\./|$SRC/|g" "$SRC/scenarios/crop/grassland_mowing.yaml" >"$OUT/rainfed.yaml"
expect 0 "" "$PHYSYNTH" validate "$OUT/rainfed.yaml"
expect 0 "is set up for PCSE's LINGRA_WLP_FD; the season runs as potential production (irrigated) because" \
  "$PHYSYNTH" validate "$OUT/rainfed.yaml" --set model.water=potential
"$PHYSYNTH" run "$OUT/rainfed.yaml" -q -o "$OUT/rainfed" --set sampling.samples=2 --set output.formats=[csv] ||
  fail "rainfed run"
# The soil dries below field capacity (0.30) in the summer of 1982, so SM is not constant.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "SM") c = i } NR > 1 && c && $c < 0.29 { dry = 1 }
  END { exit !dry }' "$OUT"/rainfed/shard-000000.csv || fail "the rainfed soil never dried"
sed -e "s|LINGRA_WLP_FD|LINGRA_NWLP_FD|" "$SRC/data/crop/lingra/setup/001_UK2_1982.yaml" >"$OUT/nwlp.yaml"
sed -e "s|agromanagement: .*|agromanagement: $OUT/nwlp.yaml|" "$OUT/rainfed.yaml" >"$OUT/nwlp_scenario.yaml"
expect 2 "model.agromanagement: the file is set up for PCSE's LINGRA_NWLP_FD; physynth's LINGRA runs LINGRA_PP" \
  "$PHYSYNTH" validate "$OUT/nwlp_scenario.yaml"
echo ok
