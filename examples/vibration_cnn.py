"""Fault type from raw vibration snapshots with a 1-D CNN, in PyTorch (docs/python.md).
Usage: PYTHONPATH=build/python /usr/bin/python3 examples/vibration_cnn.py [SAMPLES] [EPOCHS]"""
import sys

import numpy as np
import torch

import physynth

torch.manual_seed(0)
samples = int(sys.argv[1]) if len(sys.argv) > 1 else 400
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 60
run = physynth.run("scenarios/manufacturing/mixed_fleet.yaml",
                   set={"sampling.samples": samples, "output.waveforms": {"every": 3}})
signal, rows = run.waveforms["signal"], np.searchsorted(run.time, run.waveforms["time"])
stage = run.record_labels[:, rows, run.record_label_names.index("health_stage")]
keep = (stage >= 1) & ~np.isnan(signal[:, :, 0])  # snapshots of a unit with a defect, before its end
x = signal[keep]
y = torch.from_numpy(np.repeat(run.labels[:, run.label_names.index("fault_class")], keep.shape[1])
                     .reshape(keep.shape)[keep].astype(np.int64) - 1)
test = torch.from_numpy(np.repeat(run.sample % 4 == 0, keep.shape[1]).reshape(keep.shape)[keep])  # units held out
# Two channels: the spectrum of the signal and of its envelope (|x - mean|), 1 to 1000 Hz bins.
spectra = [np.log1p(np.abs(np.fft.rfft(v, axis=1))[:, 1:1001]) for v in (x, np.abs(x - x.mean(1, keepdims=True)))]
s = np.stack(spectra, 1)
X = torch.from_numpy(((s - s.mean((0, 2), keepdims=True)) / s.std((0, 2), keepdims=True)).astype(np.float32))
model = torch.nn.Sequential(torch.nn.Conv1d(2, 8, 9, padding=4), torch.nn.ReLU(), torch.nn.MaxPool1d(4),
                            torch.nn.Conv1d(8, 16, 9, padding=4), torch.nn.ReLU(), torch.nn.MaxPool1d(4),
                            torch.nn.Flatten(), torch.nn.Linear(16 * 62, 5))
optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(epochs):
    order = torch.randperm(int((~test).sum()))
    for b in range(0, len(order), 32):
        batch = order[b:b + 32]
        loss = torch.nn.functional.cross_entropy(model(X[~test][batch]), y[~test][batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
accuracy = (model(X[test]).argmax(1) == y[test]).float().mean().item()
print(f"fault type on held-out units: accuracy {accuracy:.3f} over {int(test.sum())} snapshots (chance 0.2)")
