"""Checks physynth anchor's fit.json for Puromycin (treated) against Bates & Watts (1988):
Vm = 212.684, K = 0.064121; the fit must raise the log-likelihood; a second fit.json (the
calibrated scenario anchored again) must give the same estimates."""
import json
import sys

first = json.load(open(sys.argv[1]))
est = {e["name"]: e["estimate"] for e in first["shared"]}
assert abs(est["Vm"] / 212.684 - 1) < 1e-4 and abs(est["K"] / 0.064121 - 1) < 1e-4, est
before, after = first["fidelity"]["before"], first["fidelity"]["after"]
assert after["log_likelihood"] > before["log_likelihood"], (before, after)
assert after["observables"][0]["rmse"] < before["observables"][0]["rmse"]
for e in first["shared"]:
    assert e["lower"] < e["estimate"] < e["upper"], e
if len(sys.argv) > 2:
    again = {e["name"]: e["estimate"] for e in json.load(open(sys.argv[2]))["shared"]}
    for k in est:
        assert abs(again[k] / est[k] - 1) < 1e-6, (k, est[k], again[k])
print("ok", est)
