"""A downstream model for `physynth active --model-cmd` (active/README.md): called once per
round as

    /usr/bin/python3 examples/active_model.py FOLDER

it reads FOLDER/train.csv (f0 ... f{F-1}, target) and FOLDER/query.csv (f0 ... f{F-1}) and
writes FOLDER/predictions.csv, one line per query row with one prediction per ensemble member.
Here: five ridge regressions on standardised features, each on a bootstrap resample (seeded,
so a round gives the same predictions every time). Replace it by your own model; only the
three files are the protocol."""
import sys

import numpy as np

folder = sys.argv[1]
train = np.loadtxt(f"{folder}/train.csv", delimiter=",", skiprows=1, ndmin=2)
query = np.loadtxt(f"{folder}/query.csv", delimiter=",", skiprows=1, ndmin=2)
x, y = train[:, :-1], train[:, -1]
mean, sd = x.mean(axis=0), x.std(axis=0)
sd[sd == 0] = 1.0
xs, qs = (x - mean) / sd, (query - mean) / sd
rng = np.random.default_rng(len(y))
members = []
for m in range(5):
    rows = np.arange(len(y)) if m == 0 else rng.integers(0, len(y), len(y))
    a = np.c_[np.ones(len(rows)), xs[rows]]
    coef = np.linalg.solve(a.T @ a + 1.0 * np.eye(a.shape[1]), a.T @ y[rows])
    members.append(np.c_[np.ones(len(qs)), qs] @ coef)
np.savetxt(f"{folder}/predictions.csv", np.column_stack(members), delimiter=",", fmt="%.17g")
