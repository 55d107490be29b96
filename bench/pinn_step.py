"""One PINN training step in Python PyTorch, the same as physynth's (bench/pinn_bench.cpp).

Network 64 x 4 tanh on (t^, S0^, kon^, koff^, kcat^); output y0 + s t^ N projected onto the
two conservation laws (E + ES = E0, S + ES + P = S0); loss the mean squared residual
(du/dt^ - f dt/dt^) / s with log time, states clamped at zero inside f, and the sign columns
max(-u, 0) / s that close the clamp's loophole; Adam. du/dt^ as a PyTorch user writes it: one
torch.autograd.grad per output (reverse mode), and with torch.func-free forward tangents
for a like-for-like comparison. Run with Debian's /usr/bin/python3 (torch 1.13).

    pinn_step.py [points] [steps] [dtype] [threads]  ->  one JSON line per mode
"""
import json
import math
import sys
import time

import torch

points = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50
dtype = {"float32": torch.float32, "float64": torch.float64}[sys.argv[3] if len(sys.argv) > 3 else "float32"]
if len(sys.argv) > 4:
    torch.set_num_threads(int(sys.argv[4]))
torch.manual_seed(1)

T0, T1, TC = 0.0, 3600.0, 0.01
L = math.log1p((T1 - T0) / TC)
E0 = 0.05
box = {"S0": (10.0, 30.0), "kon": (1.0, 3.0), "koff": (0.5, 1.5), "kcat": (0.5, 1.5)}
scale = torch.tensor([0.05, 30.0, 0.05, 30.0], dtype=dtype)  # characteristic changes (order as physynth's)


class Mlp(torch.nn.Module):
    def __init__(self, inputs, width, depth, outputs):
        super().__init__()
        sizes = [inputs] + [width] * depth
        self.hidden = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = torch.nn.Linear(width, outputs)
        for layer in list(self.hidden) + [self.out]:
            torch.nn.init.xavier_normal_(layer.weight)
            torch.nn.init.zeros_(layer.bias)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return self.out(x)

    def forward_tangent(self, x):
        z = self.hidden[0](x)
        dz = self.hidden[0].weight[:, 0].expand_as(z)
        for layer in list(self.hidden[1:]) + [self.out]:
            h = torch.tanh(z)
            dh = (1 - h * h) * dz
            z = layer(h)
            dz = dh @ layer.weight.t()
        return z, dz


net = Mlp(5, 64, 4, 4).to(dtype)
z = torch.rand(points, 5, dtype=torch.float64)
z[:, 1:] = 2 * z[:, 1:] - 1
th = z[:, 0].to(dtype)
theta = {}
for j, (name, (lo, hi)) in enumerate(box.items()):
    u = 0.5 * (z[:, 1 + j] + 1)
    theta[name] = (lo * (hi / lo) ** u if hi / lo >= 10 else lo + u * (hi - lo)).to(dtype)
x = z.to(dtype)
t = T0 + TC * torch.expm1(L * th)
dt_dth = L * TC * torch.exp(L * th)
y0 = torch.stack([torch.full_like(th, E0), theta["S0"], torch.zeros_like(th), torch.zeros_like(th)], 1)
W = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]], dtype=dtype)
C = W * scale  # constraints on scaled states
Q = C.t() @ torch.linalg.inv(C @ C.t())
c = y0 @ W.t()


def project(u):
    return u - scale * ((((u / scale) @ C.t()) - c) @ Q.t())


def project_tangent(du):
    return du - scale * (((du / scale) @ C.t()) @ Q.t())


def rhs(u):
    E, S, ES, P = u.unbind(1)
    bind = theta["kon"] * E * S - theta["koff"] * ES
    cat = theta["kcat"] * ES
    return torch.stack([-bind + cat, -bind, bind - cat, cat], 1)


def residual(u, du):
    r = (du - rhs(u.clamp_min(0)) * dt_dth[:, None]) / scale
    return torch.cat([r, (-u).clamp_min(0) / scale], 1)


def loss_forward():
    N, dN = net.forward_tangent(x)
    u = project(y0 + scale * th[:, None] * N)
    du = project_tangent(scale * (N + th[:, None] * dN))
    return residual(u, du).pow(2).mean()


def loss_reverse():
    xr = x.detach().requires_grad_(True)
    u = project(y0 + scale * xr[:, :1] * net(xr))
    du = torch.stack([torch.autograd.grad(u[:, i].sum(), xr, create_graph=True)[0][:, 0] for i in range(4)], 1)
    return residual(u, du).pow(2).mean()


opt = torch.optim.Adam(net.parameters(), lr=1e-3)
for mode, loss_fn in (("forward", loss_forward), ("reverse", loss_reverse)):
    def step():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    ms = 1e3 * (time.perf_counter() - start) / steps
    print(json.dumps({"impl": "python-pytorch-" + torch.__version__, "mode": mode, "points": points,
                      "dtype": str(dtype).replace("torch.", ""), "ms_per_step": round(ms, 3)}), flush=True)
