#!/usr/bin/env bash
# Multi-start calibration of PEtab problems by both optimisers of `physynth petab --calibrate`,
# side by side in one run: least squares (Levenberg-Marquardt on forward-sensitivity Jacobians,
# the default) and L-BFGS-B (on the log-likelihood's gradient, --gradient auto: adjoint where
# that picks it, --gradient adjoint with GRADIENT=adjoint). The same Sobol starts, 2 threads;
# prints a Markdown table for docs/PERFORMANCE.md.
#   [GRADIENT=adjoint] bench/petab_optimizers.sh BUILD_DIR STARTS LS_BUDGET LBFGSB_BUDGET PROBLEM.yaml...
# The budgets: integrator steps per start of each optimiser (0: none). A step of forward
# sensitivities costs more than one of an adjoint's solves, so equal budgets are not equal time:
# choose them for comparable seconds, which the table gives. Runs go to a temporary folder.
set -euo pipefail
build=$1 starts=$2
ls_budget=$3 lb_budget=$4
declare -A budget=([least-squares]=$ls_budget [lbfgsb]=$lb_budget)
gradient=${GRADIENT:-auto}
shift 4
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "Machine: $cpu, $(nproc) cores; $(date -u +%F); $starts starts per problem; work budget per start: least squares $ls_budget, L-BFGS-B $lb_budget steps (0: none); L-BFGS-B's gradient: $gradient"
echo
echo "| problem | nominal llh | optimiser | gradient | seconds | best llh | starts within 0.1 of it | starts at the budget |"
echo "|---|---:|---|---|---:|---:|---:|---:|"
for problem in "$@"; do
  name=$(basename "$problem" .yaml)
  for optimizer in least-squares lbfgsb; do
    dir="$out/$name-$optimizer"
    extra=()
    [ "$optimizer" = lbfgsb ] && extra=(--gradient "$gradient")
    "$build/apps/physynth" petab "$problem" --calibrate -o "$dir" --starts "$starts" -j 2 \
      --optimizer "$optimizer" --work-budget "${budget[$optimizer]}" "${extra[@]}" >"$dir.log" 2>&1 || true
    /usr/bin/python3 - "$dir/fit.json" "$name" "$optimizer" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except OSError:
    print(f"| {sys.argv[2]} | | {sys.argv[3]} | | | failed (no fit.json) | | |")
    sys.exit()
objs = [s["objective"] for s in j["starts"] if s["objective"] is not None]
best = max(objs) if objs else float("nan")
near = sum(o >= best - 0.1 for o in objs)
budget = sum(s["budget_spent"] for s in j["starts"])
grad = j["jacobian"].split(" (")[0]
print(f"| {sys.argv[2]} | {j['log_likelihood']['nominal']:.4f} | {j['optimizer']} | {grad} | {j['seconds']:.1f} "
      f"| {best:.4f} | {near} of {len(j['starts'])} | {budget} |")
PY
  done
done
