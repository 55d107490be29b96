// Options of the PINN backend (pinn.h), plain values a scenario's `pinn:`
// section sets (docs/scenarios.md). Header only and free of LibTorch, so the
// scenario loader can hold them in builds without it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace physynth::pinn {

struct TimeScaling {
  bool log = false;    // t^ = ln(1 + (t - t0)/scale) / ln(1 + (t1 - t0)/scale): resolves fast early transients
  double scale = 0.0;  // tc, in the scenario's time units; 0: (t1 - t0) / 1000
  // A second time input, t in units of the sample's own characteristic time tau(theta):
  // phi = ln(1 + (t - t0)/tau) / ln(1 + (t1 - t0)/tau_c), tau the time the fastest-depleting
  // state would take to run out at its initial rate (on the quasi-steady manifold), tau_c that of
  // the box's centre. Where a feature moves with theta (a substrate running out at a time set by
  // the rates), the network sees it at the same phi for every sample.
  bool characteristic = false;
};

struct NetworkOptions {
  int width = 64;  // neurons per hidden layer
  int depth = 4;   // hidden layers (tanh)
  // States held on their quasi-steady manifold f_i(u) = g_i(t) instead of learned from their
  // own ODE (Stiff-PINN, Ji et al. 2021): g_i relaxes from f_i(y0) at the fast rate, so the
  // initial state still holds exactly; for stiff kinetics (an enzyme complex, a radical).
  std::vector<std::string> quasi_steady;
  // States that start above zero and cannot go below it, output through a softplus:
  // u_i = s_i ln(1 + exp(10 z_i)) / 10, z_i = softplus^-1(y0_i / s_i) + t^ N_i: above a tenth
  // of s_i the additive output, below it the network works in ln u_i, so a substrate that
  // runs out reaches zero and stays there, however roughly the network shapes its ln. The
  // conservation laws are held by the other states.
  std::vector<std::string> positive;
  // Output scale per sample instead of one for the box: u = y0 + s(theta) t^ N, s_i(theta) =
  // max(|y0_i|, |u0_i|, |f_i(t0, u0)| H), u0 the quasi-steady point of y0 (y0 itself without
  // quasi-steady states), H the time the fastest-depleting state would take to run out at
  // those rates (at most the span). The residual is measured in the same units, so a draw
  // whose states are 40 times smaller than the largest draw's is fitted as closely, relative
  // to its own size.
  bool sample_scale = false;
};

struct TrainOptions {
  std::uint64_t seed = 0;
  std::string device = "cpu";     // cpu, cuda, cuda:N
  std::string dtype = "float32";  // float32 or float64
  int threads = 0;                // intra-op threads; 0: every core

  int collocation = 4096;  // residual points (t, theta)
  // The residual's form (pinn/README.md): plain R = (du/dt^ - f h) / s (h = dt/dt^);
  // implicit, R preconditioned by (I - h J)^-1 (J the model's Jacobian in scaled states), for
  // stiff models whose fast modes otherwise swamp the loss; relative, each row divided by
  // 1 + |f_i h| / s_i, for long logarithmic horizons where h reaches 1e12.
  enum class Residual { kPlain, kImplicit, kRelative };
  Residual residual = Residual::kPlain;
  int adam_steps = 4000;
  double learning_rate = 2e-3;  // decays exponentially to learning_rate * final_lr_factor
  double final_lr_factor = 0.05;
  int lbfgs_iterations = 1000;  // after Adam, strong Wolfe line search

  // Residual-based adaptive resampling: every resample_every Adam steps, replace
  // resample_fraction of the points by draws from a pool (pool_factor x collocation)
  // with probability proportional to 1 + R^2 / mean(R^2) (RAD, Wu et al. 2023). 0: off.
  int resample_every = 500;
  double resample_fraction = 0.5;
  int pool_factor = 4;

  // Causal weighting (Wang, Sankaran & Perdikaris 2022): bins in t^ weighted by
  // exp(-epsilon * residual loss of earlier bins), so late times train once early ones fit.
  bool causal = false;
  double causal_epsilon = 1.0;
  int causal_bins = 16;

  // Hybrid training: CVODES trajectories at data_samples draws on the output grid, weighted
  // against the residual by the ratio of gradient norms (learning-rate annealing, Wang, Teng &
  // Perdikaris 2021) every balance_every steps, or fixed at data_weight when balance is off.
  int data_samples = 0;
  double data_weight = 1.0;
  bool balance = true;
  int balance_every = 100;

  // Early stop: every validation_every Adam steps (and L-BFGS iterations), the relative L2
  // error on validation_samples draws against CVODES; stops when the worst is at most
  // target_error. The best network seen is the one kept.
  int validation_samples = 32;
  int validation_every = 250;
  double target_error = 0.0;
  int test_samples = 200;    // held-out draws measured once at the end
  double max_seconds = 600;  // wall-clock limit of the whole training

  std::string checkpoint;  // when set, the best network so far is saved here at each improvement

  // Data-parallel training (MPI ranks, engine/ranks.h): every rank starts from the same network,
  // draws its own collocation points (rank 0 those of a one-process run), and after each
  // backward pass replaces its gradients and loss by the mean over the ranks, so all ranks take
  // the same steps; stop decisions are shared too. `average` sums n values over the ranks and
  // divides by their number, in place, identically on every rank. Unset: one process.
  int rank = 0, ranks = 1;
  std::function<void(double* values, std::size_t n)> average;
};

}  // namespace physynth::pinn
