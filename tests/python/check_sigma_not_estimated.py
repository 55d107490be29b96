"""Checks an anchor folder fitted on data without readings of one observable: its σ is reported
as not estimated (fit.json's sigma_not_estimated, no sigma entry for it), and calibrated.yaml
keeps that channel's sensor noise as the scenario had it instead of writing 0.

usage: check_sigma_not_estimated.py FIT_DIR SCENARIO.yaml CHANNEL ESTIMATED_SIGMA
"""
import json
import re
import sys


def additive_sd(path, channel):
    for line in open(path):
        if re.search(r"name: %s\b" % re.escape(channel), line) and "noise:" in line:
            m = re.search(r"additive_sd: ([-+0-9.eE]+)", line)
            return float(m.group(1)) if m else None
    sys.exit(f"{path}: no observation line for {channel}")


def main():
    fit_dir, scenario, channel, estimated = sys.argv[1:5]
    fit = json.load(open(f"{fit_dir}/fit.json"))
    names = [s["name"] for s in fit.get("sigma", [])]
    if fit.get("sigma_not_estimated") != [channel]:
        sys.exit(f"sigma_not_estimated is {fit.get('sigma_not_estimated')}, expected ['{channel}']")
    if names != [estimated]:
        sys.exit(f"the sigma estimates are {names}, expected ['{estimated}']")
    if fit.get("not_determined"):
        sys.exit(f"not_determined: {fit['not_determined']}")
    before, after = additive_sd(scenario, channel), additive_sd(f"{fit_dir}/calibrated.yaml", channel)
    print(f"{channel}: additive_sd {before} in the scenario, {after} in calibrated.yaml")
    if before is None or after != before:
        sys.exit(f"calibrated.yaml changed {channel}'s noise from {before} to {after}")


if __name__ == "__main__":
    main()
