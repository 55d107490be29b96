#!/usr/bin/env bash
# Where a reversible-binding sample's time goes, by leaving parts of the scenario out: the
# example as it is, without its noise, with its readings on the 181 state times (no extra rows)
# and no noise, and without observations. One thread, samples stepped together, 4096 samples,
# the median of REPEATS runs of each (kinetics_bench). Prints µs per sample and the differences.
#   bench/binding_parts.sh [BUILD_DIR] [REPEATS]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$here/build}
repeats=${2:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
src="$here/scenarios/kinetics/reversible_binding.yaml"

# Each variant is one edit of the example; an edit that no longer matches stops the script.
variant() {  # NAME SED-SCRIPT GREP-THAT-MUST-FAIL-AFTER
  sed -e "$2" "$src" > "$dir/$1.yaml"
  if grep -q -e "$3" "$dir/$1.yaml"; then
    echo "binding_parts.sh: the edit for $1 no longer applies to $src" >&2
    exit 1
  fi
}
cp "$src" "$dir/full.yaml"
variant no_noise 's/noise: {additive_sd: 0.1, drift_sd: 0.002}/noise: {}/' 'additive_sd'
variant state_times 's/noise: {additive_sd: 0.1, drift_sd: 0.002}/noise: {}/; /sample_interval: 5/d' 'sample_interval\|additive_sd'
variant no_observations '/^observations:/,/^labels:/{/^labels:/!d}' '^observations:'

"$build/bench/kinetics_bench" "$dir" "$dir/runs" "$repeats" full no_noise state_times no_observations |
  /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
us = {r["scenario"]: 1e6 * r["solve_s_median"] / r["samples"]
      for r in rows if r["threads"] == 1 and r["lanes"]}
print("| part | µs per sample |")
print("|---|---:|")
parts = [("the example as it is", us["full"]),
         ("its noise (722 normal draws)", us["full"] - us["no_noise"]),
         ("the 180 rows its readings add to the 181 state rows, with their evaluations",
          us["no_noise"] - us["state_times"]),
         ("181 evaluations of the observation expression", us["state_times"] - us["no_observations"]),
         ("the rest: the solve on 181 rows, events, labels, audit", us["no_observations"])]
for what, value in parts:
    print("| %s | %.1f |" % (what, value))
'
