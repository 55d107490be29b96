"""Checks `physynth anchor` on scenarios/kinetics/theophylline.yaml against nlmixr2's published
FOCEi fit of the same model to the same data (data/kinetics/theophylline/SOURCE.md), and that
the calibrated scenario carries the fitted population.

usage: check_population_fit.py FIT_JSON CALIBRATED_YAML
"""
import json
import math
import re
import sys

fit = json.load(open(sys.argv[1]))
nlme = fit["nlme"]
assert nlme["method"] == "FOCE-I", nlme["method"]
assert nlme["covariance_ok"], nlme["message"]
# nlmixr2 FOCEi: log-likelihood -179.7019; ln ka, ln CL, ln V with their standard errors;
# omega from the published between-subject CV (sqrt(ln(1 + CV^2))); additive sd.
assert abs(nlme["log_likelihood"] - (-179.7019)) < 0.05, nlme["log_likelihood"]
published = {"ka": (0.4663, 0.1911, 0.6315), "cl": (1.012, 0.08366, 0.2634), "v": (3.460, 0.04654, 0.1381)}
fixed = {e["name"]: e for e in nlme["fixed"]}
omega = {e["name"]: e for e in nlme["omega"]}
for name, (mu, se, om) in published.items():
    got = math.log(fixed[name]["estimate"])
    assert abs(got - mu) < 0.25 * se, (name, got, mu)
    assert abs(fixed[name]["se_ln"] - se) < 0.25 * se, (name, fixed[name]["se_ln"], se)
    assert abs(omega[name]["estimate"] - om) < 0.08 * om, (name, omega[name]["estimate"], om)
sigma = nlme["sigma"][0]["estimate"]
assert abs(sigma - 0.6947) < 0.25 * 0.04951, sigma
# nlmixr2's shrinkage (SD %): 1.42, 3.97, 10.28
for got, want in zip(nlme["shrinkage"], [0.0142, 0.0397, 0.1028]):
    assert abs(got - want) < 0.01, (nlme["shrinkage"])
# The calibrated scenario draws each subject's ka, CL and V from the fitted population.
text = open(sys.argv[2]).read()
for name in published:
    m = re.search(r"\n  " + name + r":\n    distribution: log_normal\n    mu: (\S+)\n    sigma: (\S+)\n", text)
    assert m, name
    assert abs(float(m.group(1)) - math.log(fixed[name]["estimate"])) < 1e-9, (name, m.group(1))
    assert abs(float(m.group(2)) - omega[name]["estimate"]) < 1e-9, (name, m.group(2))
assert "population (FOCE-I)" in text
print("population fit matches nlmixr2's FOCEi:", nlme["log_likelihood"])
