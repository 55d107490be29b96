"""Remaining useful life from a synthetic bearing fleet, in PyTorch (docs/python.md).
Usage: PYTHONPATH=build/python /usr/bin/python3 examples/pdm_rul.py [SAMPLES] [EPOCHS]"""
import sys

import numpy as np
import torch

import physynth
import physynth.torch

torch.manual_seed(0)
samples = int(sys.argv[1]) if len(sys.argv) > 1 else 400
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
scenario = physynth.load_scenario("scenarios/manufacturing/bearing_fleet.yaml", set={"sampling.samples": samples})
train = physynth.torch.FeedDataset(scenario, split="train")
test = list(physynth.feed(scenario, split="test"))
test_x, test_y = (torch.from_numpy(np.concatenate([b[k] for b in test])) for k in (0, 1))

window, channels = test_x.shape[1:]
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(window * channels, 64), torch.nn.ReLU(),
                            torch.nn.Linear(64, 1))
optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
mean, std, y_scale = test_x.nanmean(), test_x.nan_to_num().std(), test_y.max()  # to O(1); NaN (missing) as the mean
predict = lambda x: model(((x - mean) / std).nan_to_num()).squeeze(1) * y_scale
for epoch in range(epochs):
    for x, y, _ in torch.utils.data.DataLoader(train, batch_size=None, num_workers=2):
        loss = torch.nn.functional.mse_loss(predict(x) / y_scale, y / y_scale)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
with torch.no_grad():
    rmse = torch.sqrt(torch.nn.functional.mse_loss(predict(test_x), test_y)).item()
baseline = torch.sqrt(((test_y - test_y.mean()) ** 2).mean()).item()
print(f"test RMSE {rmse:.2f} h against {baseline:.2f} h predicting the mean RUL ({len(test_y)} windows)")
