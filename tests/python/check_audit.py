"""Checks physynth audit's fidelity_audit.json for Puromycin: the run of the calibrated scenario
(argv[1]) must be closer to the real wells than the run of the uncalibrated priors (argv[2]) by
Wasserstein distance and KS, must not be rejected by the KS test, and every field the report
promises must be there with a value."""
import json
import math
import sys

cal, prior = (json.load(open(p)) for p in sys.argv[1:3])
for a in (cal, prior):
    assert a["format"] == "physynth-fidelity-audit-1"
    assert a["real"]["units"] == 12 and a["real"]["readings"] == 12, a["real"]
    assert a["features"] == ["S0", "rate"], a["features"]  # time is constant here: dropped
    j = a["joint"]
    for key in ("precision", "recall"):
        assert 0 <= j[key] <= 1, (key, j[key])
    for key in ("mmd", "classifier"):
        assert 0 < j[key]["p_value"] <= 1, (key, j[key])
    assert j["closest_record"]["exact_copies"] == 0
    assert math.isfinite(j["correlation"]["max_abs_difference"])
c, p = cal["observables"][0], prior["observables"][0]
assert c["wasserstein"] < p["wasserstein"] and c["ks"] < p["ks"], (c, p)
assert c["ks_p_value"] > 0.05, c
assert cal["tstr"]["train_synthetic_test_real"]["r2"] > 0.8, cal["tstr"]
print("ok: W", c["wasserstein"], "vs", p["wasserstein"], "KS p", c["ks_p_value"], "vs", p["ks_p_value"])
