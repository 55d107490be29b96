// The parametric PINN's implementation shared by pinn.cpp (inference, files) and pinn_train.cpp
// (training): the network, normalisation, residual and batch construction (Pinn::Impl).
#pragma once

#include "physynth/pinn/pinn.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>

#include "batched_solve.h"
#include "dense_layers.h"
#include "manifold_rows.h"
#include "output_rows.h"
#include "physynth/core/diagnostics.h"
#include "physynth/pinn/errors.h"
#include "small_solve.h"
#include "tensor_rhs.h"
#include "threads.h"

namespace physynth::pinn {
inline namespace detail {  // (a header: external linkage, one definition for both files)

namespace fs = std::filesystem;
using torch::Tensor;
using Clock = std::chrono::steady_clock;

inline const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// NetworkOptions::positive: u = s softplus_beta(z) = s ln(1 + exp(beta z)) / beta. Above a tenth
// of its scale u is s z, as an additive output would be; below it the network works in
// ln(u) / beta, and a substrate is spent (u < 1e-5 s) once z < -1.2: the network's output then
// needs no larger values than an additive one reaching zero (N ~ -1 / t^).
constexpr double kSharpness = 10.0;

// The sidecar's format. 2: quasi-steady states move along their fast directions.
constexpr const char* kFormat = "physynth-pinn-2";

// A tanh multilayer perceptron that also carries a tangent of its inputs.
struct MlpImpl : torch::nn::Module {
  std::vector<torch::nn::Linear> layers;

  MlpImpl(int inputs, int width, int depth, int outputs) {
    int fan_in = inputs;
    for (int l = 0; l < depth; ++l) {
      layers.push_back(register_module("hidden" + std::to_string(l), torch::nn::Linear(fan_in, width)));
      fan_in = width;
    }
    layers.push_back(register_module("output", torch::nn::Linear(fan_in, outputs)));
    torch::NoGradGuard no_grad;
    for (auto& layer : layers) {
      torch::nn::init::xavier_normal_(layer->weight);
      torch::nn::init::zeros_(layer->bias);
    }
  }

  // Impl::set_float32_layers' copy: tanh(z) = 1 - 2 / (1 + exp(2 z)), within 2e-7 of float32's
  // tanh (which is Sleef's 1-ulp one, and took 0.52 ms where this takes 0.30 ms on [8192, 32]).
  // Its steps run in place on the layer's output, which nothing else holds (inference only:
  // the copy is used with autograd off).
  bool exp_tanh = false;
  Tensor activation(Tensor z) const {
    if (!exp_tanh) return torch::tanh(z);
    return z.mul_(2.0).exp_().add_(1.0).reciprocal_().mul_(-2.0).add_(1.0);
  }

  Tensor forward(Tensor x) {
    for (std::size_t l = 0; l + 1 < layers.size(); ++l) x = activation(layers[l]->forward(x));
    return layers.back()->forward(x);
  }

  // N(x) and its derivative along the input tangent dx ([B, inputs]), pushed through every
  // layer (z' = W h', h' = (1 - tanh^2 z) z'), one pass for all outputs.
  std::pair<Tensor, Tensor> forward_tangent(const Tensor& x, const Tensor& dx) {
    Tensor z = layers[0]->forward(x);
    Tensor dz = torch::matmul(dx, layers[0]->weight.t());
    for (std::size_t l = 1; l < layers.size(); ++l) {
      const Tensor h = activation(z);
      // (1 - h^2) dz; in place where autograd is off (the same roundings: -(h h) + 1 is 1 - h h).
      const Tensor dh = torch::GradMode::is_enabled() ? (1.0 - h * h) * dz : (h * h).neg_().add_(1.0).mul_(dz);
      z = layers[l]->forward(h);
      dz = torch::matmul(dh, layers[l]->weight.t());
    }
    return {z, dz};
  }
};
TORCH_MODULE(Mlp);

inline torch::Device parse_device(const std::string& s) {
  if (s == "cpu") return torch::kCPU;
  if (s == "cuda" || s.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw std::invalid_argument("device '" + s + "': this LibTorch (" + TORCH_VERSION +
                                  ") sees no CUDA device (Debian's build is CPU-only); use device: cpu");
    return torch::Device(s);
  }
  throw std::invalid_argument("device '" + s + "' is not one of cpu, cuda, cuda:N");
}

inline torch::Dtype parse_dtype(const std::string& s) {
  if (s == "float32") return torch::kFloat32;
  if (s == "float64") return torch::kFloat64;
  throw std::invalid_argument("dtype '" + s + "' is not one of float32, float64");
}

inline const char* residual_name(TrainOptions::Residual r) {
  switch (r) {
    case TrainOptions::Residual::kImplicit:
      return "implicit";
    case TrainOptions::Residual::kRelative:
      return "relative";
    default:
      return "plain";
  }
}

// The form a sidecar names.
inline TrainOptions::Residual residual_form(const std::string& s) {
  for (auto r : {TrainOptions::Residual::kPlain, TrainOptions::Residual::kImplicit, TrainOptions::Residual::kRelative})
    if (s == residual_name(r)) return r;
  throw std::invalid_argument("network.residual '" + s + "' is not one of plain, implicit, relative");
}

inline double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

inline void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string tmp = path + ".tmp";
  write(tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot write '" + path + "': " + ec.message());
}

inline std::vector<std::string> model_names(const std::vector<core::VariableInfo>& a) {
  std::vector<std::string> v;
  for (const auto& x : a) v.push_back(x.name);
  return v;
}

}  // namespace detail

// Points of (t^, theta): rows of normalised inputs plus what the physics needs.
struct Batch {
  Tensor x;               // [B, 1 + q]: t^, then theta^ of each varying parameter
  Tensor t;               // [B]: physical time
  Tensor dt_dth;          // [B]: dt/dt^
  std::vector<Tensor> p;  // m tensors [B]: physical parameters
  Tensor y0;              // [B, n]
  // The model's linear invariants W u = W y0, in scaled states v = u / s with C = W S:
  // u is projected onto them by v - Q (C v - c), Q = C^T (C C^T)^-1. Undefined: none.
  Tensor C, c, Q;  // [B, k, n], [B, k], [B, n, k]
  // Quasi-steady states (NetworkOptions::quasi_steady): f_Q(y0) and the rate at which each
  // relaxes to its manifold, [B, q] each. Undefined: none.
  Tensor g0, rate;
  // Their fast directions in scaled states [B, n, q] (Impl::fast_subspace). Undefined: none.
  Tensor D;
  // NetworkOptions::positive: softplus^-1(y0 / s) for those states, 0 for the others, [B, n]
  // (Impl::raw_output). Undefined: none.
  Tensor z0;
  // TimeScaling::characteristic: each row's characteristic time tau [B]. Undefined: off.
  Tensor tau;
  // The output scale of each row and state, [B, n]: the network's characteristic change s,
  // or with NetworkOptions::sample_scale the row's own magnitude (Impl::sample_scales).
  Tensor s;
  std::int64_t size() const { return x.size(0); }

  // (t, dt_dth and Q where defined.)
  Batch select(const Tensor& rows) const {
    Batch b;
    b.x = x.index_select(0, rows);
    if (t.defined()) b.t = t.index_select(0, rows);
    if (dt_dth.defined()) b.dt_dth = dt_dth.index_select(0, rows);
    for (const auto& pk : p) b.p.push_back(pk.index_select(0, rows));
    b.y0 = y0.index_select(0, rows);
    if (C.defined()) {
      b.C = C.index_select(0, rows);
      b.c = c.index_select(0, rows);
      if (Q.defined()) b.Q = Q.index_select(0, rows);
    }
    if (g0.defined()) {
      b.g0 = g0.index_select(0, rows);
      b.rate = rate.index_select(0, rows);
    }
    if (D.defined()) b.D = D.index_select(0, rows);
    if (tau.defined()) b.tau = tau.index_select(0, rows);
    if (z0.defined()) b.z0 = z0.index_select(0, rows);
    b.s = s.index_select(0, rows);
    return b;
  }
};

struct Pinn::Impl {
  std::shared_ptr<const core::Model> model;
  TensorRhs rhs;
  std::vector<ParameterRange> ranges;
  std::vector<int> inputs;  // model parameter index of each theta^ input
  double t0 = 0.0, t1 = 1.0;
  TimeScaling time;
  double tau_ref = 1.0;  // TimeScaling::characteristic: tau_c, tau at the box's centre
  NetworkOptions network;
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  mutable Mlp net{nullptr};                                      // LibTorch's forward() is not const
  // Network::set_float32_layers: a float32 copy of a float64 network's weights, for inference.
  mutable Mlp net32{nullptr};
  // On a CPU with AVX2 and FMA, the same float32 layers row by row (dense_layers.h), which
  // net_forward and net_tangent run instead of net32.
  std::shared_ptr<const DenseLayers> dense32;
  // Pinn::set_output_by_rows.
  bool rows_after_network = true;
  Tensor scale;                                                  // [n] characteristic change of each state
  TrainOptions::Residual form = TrainOptions::Residual::kPlain;  // the residual's form (residual())
  std::vector<core::LinearInvariant> invariants;                 // held exactly (Batch::C)
  std::vector<std::int64_t> qss;                                 // quasi-steady states (network.quasi_steady)
  std::vector<std::int64_t> positive;                            // network.positive
  // On the device: which states are positive [n] (bool), and the weight of each state in
  // holding the conservation laws [n]: 0 for positive and quasi-steady states, 1 for the
  // others.
  Tensor positive_mask, law_weight;
  // Set once by resolve_states(), on the device: the quasi-steady indices, e_Q [n, q], and the
  // non-negative states' indices (with_sign_penalty).
  Tensor qss_idx, qss_unit, nonneg_idx;
  nlohmann::json meta;

  std::size_t n() const { return model->num_states(); }
  std::size_t m() const { return model->num_parameters(); }
  torch::TensorOptions options() const { return torch::TensorOptions().dtype(dtype).device(device); }

  void setup(std::shared_ptr<const core::Model> mdl, std::vector<ParameterRange> r, double a, double b,
             TimeScaling ts) {
    model = std::move(mdl);
    rhs = make_tensor_rhs(*model);
    ranges = std::move(r);
    t0 = a;
    t1 = b;
    time = ts;
    if (time.log && time.scale <= 0) time.scale = (t1 - t0) / 1000.0;
    invariants = model->linear_invariants();
    inputs.clear();
    for (std::size_t k = 0; k < ranges.size(); ++k)
      if (!ranges[k].fixed()) inputs.push_back(static_cast<int>(k));
  }

  // The state indices a list of names (the option `key`) refers to; throws for unknown or
  // repeated names.
  std::vector<std::int64_t> state_indices(const std::vector<std::string>& names, const std::string& key) const {
    std::vector<std::int64_t> out;
    for (const auto& name : names) {
      const int i = model->state_index(name);
      if (i < 0)
        throw std::invalid_argument(key + ": model '" + model->name() + "' has no state '" + name +
                                    "'; its states are " + core::join(model_names(model->states())));
      if (std::find(out.begin(), out.end(), i) != out.end())
        throw std::invalid_argument(key + ": state '" + name + "' is listed twice");
      out.push_back(i);
    }
    return out;
  }

  // The indices of network.quasi_steady and network.positive and of the non-negative states,
  // as tensors on the device; after device and dtype are set.
  void resolve_states() {
    qss = state_indices(network.quasi_steady, "quasi_steady");
    if (!qss.empty() && qss.size() + invariants.size() >= n())
      throw std::invalid_argument("quasi_steady: " + std::to_string(qss.size()) + " quasi-steady states and " +
                                  std::to_string(invariants.size()) + " conservation laws leave none of the " +
                                  std::to_string(n()) + " states to the network");
    positive = state_indices(network.positive, "positive");
    for (std::size_t k = 0; k < positive.size(); ++k)
      if (std::find(qss.begin(), qss.end(), positive[k]) != qss.end())
        throw std::invalid_argument("positive: state '" + network.positive[k] +
                                    "' is quasi-steady; its manifold sets it, not the network's output");
    const auto N = static_cast<std::int64_t>(n()), q = static_cast<std::int64_t>(qss.size());
    positive_mask = torch::zeros({N}, torch::kBool);
    for (auto i : positive) positive_mask[i] = true;
    Tensor held = positive_mask.clone();
    for (auto i : qss) held[i] = true;
    law_weight = torch::logical_not(held).to(options());
    positive_mask = positive_mask.to(device);
    qss_idx = torch::tensor(qss, torch::kLong).to(device);
    qss_unit = torch::zeros({N, q}, options());
    for (std::int64_t j = 0; j < q; ++j) qss_unit[qss[static_cast<std::size_t>(j)]][j] = 1.0;
    std::vector<std::int64_t> nonneg;
    for (std::size_t i = 0; i < n(); ++i)
      if (model->state_is_nonnegative(i)) nonneg.push_back(static_cast<std::int64_t>(i));
    nonneg_idx = torch::tensor(nonneg, torch::kLong).to(device);
  }

  // The network's output, and with a tangent, in float32 layers where set (net32) and autograd
  // is off (inference), else in the network's own.
  Tensor net_forward(const Tensor& x) const {
    if (!net32 || torch::GradMode::is_enabled()) return net->forward(x);
    if (dense32) {
      const Tensor xc = x.contiguous();
      Tensor N = torch::empty({x.size(0), dense32->outputs()}, options());
      dense32->forward(xc.data_ptr<double>(), static_cast<std::size_t>(x.size(0)), N.data_ptr<double>());
      return N;
    }
    return net32->forward(x.to(torch::kFloat32)).to(dtype);
  }
  std::pair<Tensor, Tensor> net_tangent(const Tensor& x, const Tensor& dx) const {
    if (!net32 || torch::GradMode::is_enabled()) return net->forward_tangent(x, dx);
    if (dense32) {
      const Tensor xc = x.contiguous(), dxc = dx.contiguous();
      Tensor N = torch::empty({x.size(0), dense32->outputs()}, options()), dN = torch::empty_like(N);
      dense32->forward_tangent(xc.data_ptr<double>(), dxc.data_ptr<double>(), static_cast<std::size_t>(x.size(0)),
                               N.data_ptr<double>(), dN.data_ptr<double>());
      return {N, dN};
    }
    auto [N, dN] = net32->forward_tangent(x.to(torch::kFloat32), dx.to(torch::kFloat32));
    return {N.to(dtype), dN.to(dtype)};
  }
  void set_float32_layers(bool on) {
    net32 = nullptr;
    dense32 = nullptr;
    if (!on || dtype != torch::kFloat64) return;
    torch::NoGradGuard no_grad;
    net32 = new_network();
    net32->to(device, torch::kFloat32);
    net32->exp_tanh = true;
    auto to = net32->parameters();
    const auto from = net->parameters();
    for (std::size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);  // (copy_ converts)
    if (!device.is_cpu() || !DenseLayers::runs_here()) return;
    std::vector<int> sizes{static_cast<int>(net32->layers.front()->weight.size(1))};
    std::vector<Tensor> held;  // (contiguous copies, where a weight is not, live until copied)
    std::vector<const float*> weights, biases;
    for (const auto& layer : net32->layers) {
      sizes.push_back(static_cast<int>(layer->weight.size(0)));
      held.push_back(layer->weight.to(torch::kCPU).contiguous());
      weights.push_back(held.back().data_ptr<float>());
      held.push_back(layer->bias.to(torch::kCPU).contiguous());
      biases.push_back(held.back().data_ptr<float>());
    }
    dense32 = std::make_shared<const DenseLayers>(sizes, weights, biases);
  }

  // A network of this shape: inputs t^, the varying parameters and phi where set; one output per state.
  Mlp new_network() const {
    return Mlp(1 + static_cast<int>(inputs.size()) + (time.characteristic ? 1 : 0), network.width, network.depth,
               static_cast<int>(n()));
  }
  void build_network() {
    net = new_network();
    net->to(device, dtype);
  }

  // --- normalisation ---
  double log_span() const { return std::log1p((t1 - t0) / time.scale); }
  double t_hat(double t) const {
    return time.log ? std::log1p((t - t0) / time.scale) / log_span() : (t - t0) / (t1 - t0);
  }
  double t_of(double th) const {
    return time.log ? t0 + time.scale * std::expm1(log_span() * th) : t0 + th * (t1 - t0);
  }
  double dt_dth(double th) const { return time.log ? log_span() * time.scale * std::exp(log_span() * th) : (t1 - t0); }
  double theta_hat(int k, double v) const {
    const ParameterRange& r = ranges[static_cast<std::size_t>(k)];
    const double u = r.log_scale ? std::log(v / r.low) / std::log(r.high / r.low) : (v - r.low) / (r.high - r.low);
    return 2.0 * u - 1.0;
  }
  double theta_of(int k, double h) const {
    const ParameterRange& r = ranges[static_cast<std::size_t>(k)];
    const double u = 0.5 * (h + 1.0);
    return r.log_scale ? r.low * std::pow(r.high / r.low, u) : r.low + u * (r.high - r.low);
  }

  // Physical parameters (m per row) from normalised rows [B, 1 + q] (CPU, double).
  std::vector<double> parameters_of(const Tensor& z) const {
    const auto B = static_cast<std::size_t>(z.size(0));
    auto a = z.accessor<double, 2>();
    std::vector<double> P(B * m());
    for (std::size_t b = 0; b < B; ++b) {
      for (std::size_t k = 0; k < m(); ++k) P[b * m() + k] = ranges[k].low;
      for (std::size_t j = 0; j < inputs.size(); ++j)
        P[b * m() + static_cast<std::size_t>(inputs[j])] =
            theta_of(inputs[j], a[static_cast<long>(b)][static_cast<long>(j + 1)]);
    }
    return P;
  }

  // A batch from t^ per row and physical parameters per row (B x m).
  Batch make_batch(const std::vector<double>& th, const std::vector<double>& P) const {
    const std::size_t B = th.size(), q = inputs.size(), N = n(), M = m();
    std::vector<double> x(B * (1 + q)), t(B), dt(B), y0(B * N);
    for (std::size_t b = 0; b < B; ++b) {
      const double* p = &P[b * M];
      x[b * (1 + q)] = th[b];
      for (std::size_t j = 0; j < q; ++j) x[b * (1 + q) + 1 + j] = theta_hat(inputs[j], p[inputs[j]]);
      t[b] = t_of(th[b]);
      dt[b] = dt_dth(th[b]);
      model->initial_state(p, &y0[b * N]);
    }
    const auto B64 = static_cast<std::int64_t>(B);
    Batch batch;
    batch.x = torch::from_blob(x.data(), {B64, static_cast<std::int64_t>(1 + q)}, kF64).to(options(), false, true);
    batch.t = torch::from_blob(t.data(), {B64}, kF64).to(options(), false, true);
    batch.dt_dth = torch::from_blob(dt.data(), {B64}, kF64).to(options(), false, true);
    batch.y0 = torch::from_blob(y0.data(), {B64, static_cast<std::int64_t>(N)}, kF64).to(options(), false, true);
    const Tensor Pt = torch::from_blob(const_cast<double*>(P.data()), {B64, static_cast<std::int64_t>(M)}, kF64)
                          .to(options(), false, true);
    for (std::size_t k = 0; k < M; ++k) batch.p.push_back(Pt.select(1, static_cast<std::int64_t>(k)));
    batch.s = scale.unsqueeze(0).expand({B64, -1});
    // start: the quasi-steady point of y0 (y0 itself without quasi-steady states), where the
    // slow dynamics begin. Per-sample scales are measured there, so with quasi-steady states
    // it is found first in the box's scales, then again in the sample's.
    Tensor start = batch.y0;
    if (network.sample_scale) {
      if (!qss.empty()) {
        set_invariants(batch, P);
        start = set_relaxation(batch);
      }
      batch.s = sample_scales(batch, start);
    }
    set_invariants(batch, P);
    if (!qss.empty()) start = set_relaxation(batch);
    if (time.characteristic) set_characteristic_time(batch, start);
    if (!positive.empty()) set_positive_start(batch);
    return batch;
  }

  // z0 = softplus^-1(y0 / s) = ln(expm1(beta y0 / s)) / beta for the positive states; each
  // must start above zero.
  void set_positive_start(Batch& b) const {
    const Tensor y = b.y0 / b.s;
    for (auto i : positive) {
      const Tensor bad = (y.select(1, i) <= 0) | torch::logical_not(torch::isfinite(y.select(1, i)));
      if (bad.any().item<bool>()) {
        const auto row = bad.nonzero()[0][0].item<std::int64_t>();
        throw std::invalid_argument("positive: state '" + model->states()[static_cast<std::size_t>(i)].name +
                                    "' starts at " + core::format_number(b.y0[row][i].item<double>()) +
                                    " in a draw; a positive state must start above zero");
      }
    }
    b.z0 = torch::where(positive_mask, torch::log(torch::expm1(kSharpness * y.clamp_min(1e-300))) / kSharpness,
                        torch::zeros_like(y))
               .contiguous();
  }

  // The conservation laws in the batch's scaled states: C = W S, c = W y0, Q.
  void set_invariants(Batch& batch, const std::vector<double>& P) const {
    if (invariants.empty()) return;
    const std::size_t B = static_cast<std::size_t>(batch.size()), K = invariants.size(), N = n(), M = m();
    const Tensor s64 = batch.s.to(torch::kCPU, torch::kFloat64).contiguous();
    const Tensor y64 = batch.y0.to(torch::kCPU, torch::kFloat64).contiguous();
    const double* s0 = s64.data_ptr<double>();
    const double* y0 = y64.data_ptr<double>();
    std::vector<double> C(B * K * N), c(B * K, 0.0);
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t i = 0; i < N; ++i) {
          const double w = invariants[k].weight(i, &P[b * M]);
          C[(b * K + k) * N + i] = w * s0[b * N + i];
          c[b * K + k] += w * y0[b * N + i];
        }
    const auto B64 = static_cast<std::int64_t>(B), K64 = static_cast<std::int64_t>(K),
               N64 = static_cast<std::int64_t>(N);
    batch.C = torch::from_blob(C.data(), {B64, K64, N64}, kF64).to(options(), false, true);
    batch.c = torch::from_blob(c.data(), {B64, K64}, kF64).to(options(), false, true);
    // Q = W C^T (C W C^T)^-1: the laws are held by moving the states of weight 1, not the
    // positive ones (which would cross zero) nor the quasi-steady ones (their manifold sets them).
    // On a CPU in float64 sample by sample (the tensor version's few dozen operations on a row
    // per sample took 1.6-2.3 ms of a 7 ms set-up), else by solve_batched.
    if (device.is_cpu() && dtype == torch::kFloat64) {
      const Tensor w = law_weight.to(torch::kCPU, torch::kFloat64).contiguous();
      const double* W = w.data_ptr<double>();
      std::vector<double> Q(B * N * K), A(K * K), X(K * N);
      bool singular = false;
      for (std::size_t b = 0; b < B && !singular; ++b) {
        const double* Cb = &C[b * K * N];
        for (std::size_t a = 0; a < K; ++a) {
          for (std::size_t j = 0; j < K; ++j) {
            double sum = 0.0;
            for (std::size_t i = 0; i < N; ++i) sum += Cb[a * N + i] * (Cb[j * N + i] * W[i]);
            A[a * K + j] = sum;
          }
          for (std::size_t i = 0; i < N; ++i) X[a * N + i] = Cb[a * N + i] * W[i];  // (W C^T)^T
        }
        singular = !solve_small(A.data(), X.data(), K, N);
        for (std::size_t i = 0; i < N; ++i)
          for (std::size_t a = 0; a < K; ++a) Q[(b * N + i) * K + a] = X[a * N + i];
      }
      if (!singular) {
        batch.Q = torch::from_blob(Q.data(), {B64, N64, K64}, kF64).clone();
        return;
      }
    }
    const Tensor WCt = law_columns(batch);
    auto [X, info] = solve_batched(torch::matmul(batch.C, WCt), WCt.transpose(1, 2));
    if (info.ne(0).any().item<bool>())
      throw std::invalid_argument("positive, quasi_steady: a conservation law of model '" + model->name() +
                                  "' has only positive or quasi-steady states (" + core::join(network.positive) +
                                  (network.positive.empty() ? "" : ", ") + core::join(network.quasi_steady) +
                                  "), so none is left to hold it");
    batch.Q = X.transpose(1, 2).contiguous();
  }

  // W C^T, [B, n, k]: the directions that hold the conservation laws.
  Tensor law_columns(const Batch& b) const { return b.C.transpose(1, 2) * law_weight.view({1, -1, 1}); }

  // NetworkOptions::sample_scale: each row's own magnitude per state,
  // max(|y0_i|, |u0_i|, |f_i(t0, u0)| H), u0 the quasi-steady point of y0 (y0 without
  // quasi-steady states), H the time the fastest-depleting state would take to run out at
  // those rates (at most t1 - t0); the global scale where that is zero. One scale for the
  // whole box measures a slow tool (VB 0.3 mm) in units of the fastest one's 11.6 mm. At u0,
  // not y0: the enzyme's binding rate at y0 (kon E0 S0) would make E's and ES's scales S0's.
  Tensor sample_scales(const Batch& b, const Tensor& u0) const {
    torch::NoGradGuard no_grad;
    const std::vector<Tensor> f = rhs_of(b, u0, torch::full({b.size()}, t0, options()));
    const Tensor horizon = depletion_time(b, f, /*skip_quasi_steady=*/false);
    const Tensor m =
        torch::maximum(torch::maximum(b.y0.abs(), u0.abs()), torch::stack(f, 1).abs() * horizon.unsqueeze(1));
    const Tensor global = scale.unsqueeze(0).expand_as(m);
    return torch::where(torch::isfinite(m) & (m > 0), m, global).contiguous();
  }

  Batch batch_from_normalised(const Tensor& z) const {
    const Tensor zc = z.to(torch::kCPU, torch::kFloat64).contiguous();
    std::vector<double> th(static_cast<std::size_t>(zc.size(0)));
    auto a = zc.accessor<double, 2>();
    for (std::size_t b = 0; b < th.size(); ++b) th[b] = a[static_cast<long>(b)][0];
    return make_batch(th, parameters_of(zc));
  }

  // Uniform draws of normalised points: t^ in [0, 1], theta^ in [-1, 1].
  Tensor draw_points(std::int64_t count) const {
    Tensor z = torch::rand({count, static_cast<std::int64_t>(1 + inputs.size())}, kF64);
    z.slice(1, 1) = 2.0 * z.slice(1, 1) - 1.0;
    return z;
  }

  // --- quasi-steady states (Stiff-PINN, Ji et al., J. Phys. Chem. A 2021) ---
  // A state i in Q is not learned from its own ODE: u is held on the manifold
  //   G(u, t) = [ C v - c ;  (f_Q(t, u) - g(t)) / (s_Q rate) ] = 0,   v = u / s,
  // the conservation laws and g(t) = f_Q(t0, y0) exp(-rate (t - t0)): at t0 that is y0 itself,
  // after a few fast time constants the quasi-steady state f_Q = 0. The network's output v_net
  // (its quasi-steady states set to zero, fibre_base) is moved onto the manifold along the
  // fixed directions M = [W C^T | D] (u = s (v_net + M a), Newton in a): W C^T holds the
  // conservation laws with the states that are neither positive nor quasi-steady, D are the
  // quasi-steady states' fast directions (fast_subspace). The implicit function theorem gives
  // the derivatives exactly: dv = P dv_net - M A^-1 [0; dG/dt^], with A = (dG/dv) M and
  // P = I - M A^-1 dG/dv.
  Tensor dt_dth_of(const Tensor& th) const {  // dt_dth on a tensor
    return time.log ? log_span() * time.scale * torch::exp(log_span() * th) : torch::full_like(th, t1 - t0);
  }
  Tensor time_of(const Tensor& th) const {
    return time.log ? t0 + time.scale * torch::expm1(log_span() * th) : t0 + (t1 - t0) * th;
  }

  // The quasi-steady rows of G, [B, q].
  Tensor qss_constraint(const Batch& b, const Tensor& u, const Tensor& t) const {
    const std::vector<Tensor> f = rhs_of(b, u, t, /*manifold=*/true);
    std::vector<Tensor> fq;
    for (auto i : qss) fq.push_back(f[static_cast<std::size_t>(i)]);
    const Tensor g = b.g0 * torch::exp(-b.rate * (t - t0).unsqueeze(1));
    return (torch::stack(fq, 1) - g) / (b.s.index_select(1, qss_idx) * b.rate);
  }

  // Those rows, their Jacobian in scaled states [B, q, n] and their derivative along t^ [B, q].
  std::tuple<Tensor, Tensor, Tensor> qss_jacobian(const Batch& b, const Tensor& u, const Tensor& th) const {
    torch::AutoGradMode enable(true);
    const Tensor x = u.detach().requires_grad_(true);
    const Tensor tt = th.detach().requires_grad_(true);
    const Tensor G = qss_constraint(b, x, time_of(tt));
    std::vector<Tensor> ju, jt;
    for (std::int64_t i = 0; i < G.size(1); ++i) {
      std::vector<Tensor> g{Tensor(), Tensor()};
      if (G.requires_grad())
        g = torch::autograd::grad({G.select(1, i).sum()}, {x, tt}, {}, /*retain_graph=*/true, false,
                                  /*allow_unused=*/true);
      ju.push_back(g[0].defined() ? g[0] * b.s : torch::zeros_like(x));
      jt.push_back(g[1].defined() ? g[1] : torch::zeros_like(tt));
    }
    return {G.detach(), torch::stack(ju, 1).detach(), torch::stack(jt, 1).detach()};
  }

  // M = [W C^T | D], [B, n, k + q].
  Tensor directions(const Batch& b) const { return directions(b, fast_directions(b)); }
  Tensor directions(const Batch& b, const Tensor& d) const {
    return b.C.defined() ? torch::cat({law_columns(b), d}, 2) : d;
  }

  // The quasi-steady states' fast directions, [B, n, q]: b.D, or until that is set e_Q moved
  // along the conservation laws.
  Tensor fast_directions(const Batch& b) const {
    if (b.D.defined()) return b.D;
    const Tensor eq = qss_unit.unsqueeze(0).expand({b.size(), -1, -1});
    return b.C.defined() ? eq - torch::matmul(b.Q, torch::matmul(b.C, eq)) : eq;
  }

  // The fast directions at a quasi-steady point u: the modes in which the quasi-steady states
  // relax, in scaled states, each with a unit component in its own state and none in the
  // others. Subspace iteration with the scaled Jacobian there, D <- J~ D held on the
  // conservation laws, from e_Q moved along them: the quasi-steady states relax orders of
  // magnitude faster than the rest (that is why they are quasi-steady), so a few iterations
  // leave only the fast modes. For Michaelis-Menten that is the binding reaction's
  // stoichiometry, (E, S, ES, P) = (-1, -1, 1, 0); e_ES moved along the conservation laws
  // instead takes part of ES from P (-1/2 each at equal scales), so the network would have
  // to make the binding transient, a drop of ES* in S within 0.1 s, itself. Rows where the
  // iteration breaks down keep the start.
  Tensor fast_subspace(const Batch& b, const Tensor& u) const {  // u at t0
    if (device.is_cpu() && dtype == torch::kFloat64) return fast_subspace_by_rows(b, u);
    const Tensor J = scaled_jacobian(b, u, torch::full({b.size()}, t0, options()));
    Tensor D = fast_directions(b);
    for (int it = 0; it < 4; ++it) {
      Tensor next = torch::matmul(J, D);
      if (b.C.defined()) next = next - torch::matmul(b.Q, torch::matmul(b.C, next));
      const Tensor dq = next.index_select(1, qss_idx);  // [B, q, q]: next = D' dq
      next = std::get<0>(solve_batched(dq.transpose(1, 2), next.transpose(1, 2))).transpose(1, 2);
      const Tensor ok = (torch::isfinite(next).flatten(1).all(1) & (next.abs().flatten(1).amax(1) <= 1e6));
      D = torch::where(ok.view({-1, 1, 1}), next, D);
    }
    return D.contiguous();
  }

  // fast_subspace row by row (manifold_rows.h), on a CPU in float64.
  Tensor fast_subspace_by_rows(const Batch& b, const Tensor& u) const {
    const Tensor D = fast_directions(b).to(torch::kFloat64).contiguous().clone();
    subspace_rows(b, u, D, /*manifold=*/false, [&](SubspaceRows& R, std::size_t first, std::size_t last) {
      fast_subspace_rows(*model, R, first, last);
    });
    return D;
  }
  // set_relaxation's rates row by row at u, along b's fast directions.
  Tensor relaxation_rates_by_rows(const Batch& b, const Tensor& u) const {
    const Tensor D = fast_directions(b).contiguous();
    Tensor rate = torch::empty({b.size(), static_cast<std::int64_t>(qss.size())}, options());
    subspace_rows(b, u, D, /*manifold=*/true, [&](SubspaceRows& R, std::size_t first, std::size_t last) {
      R.rate = rate.data_ptr<double>(), R.rate_floor = 1.0 / (t1 - t0);
      relaxation_rates_rows(*model, R, first, last);
    });
    return rate;
  }
  // The rows' arrays of a CPU float64 batch at u, with f's clamps as rhs_of's (`manifold`: not
  // on the quasi-steady states), handed to f(rows, first, last) over the threads.
  template <class F>
  void subspace_rows(const Batch& b, const Tensor& u, const Tensor& D, bool manifold, F&& f) const {
    torch::NoGradGuard no_grad;
    const Tensor uc = u.detach().contiguous(), s = b.s.contiguous();
    Tensor C, Q;
    std::vector<Tensor> P;
    for (const Tensor& pk : b.p) P.push_back(pk.contiguous());
    SubspaceRows R;
    R.n = n(), R.q = qss.size(), R.m = m();
    R.qss = qss;
    for (std::size_t i = 0; i < n(); ++i) {
      const bool quasi_steady = std::find(qss.begin(), qss.end(), static_cast<std::int64_t>(i)) != qss.end();
      R.clamp.push_back(model->state_is_nonnegative(i) && !(manifold && quasi_steady) ? 1 : 0);
    }
    R.t0 = t0;
    R.u = uc.data_ptr<double>(), R.s = s.data_ptr<double>(), R.D = D.data_ptr<double>();
    if (b.C.defined()) {
      C = b.C.contiguous(), Q = b.Q.contiguous();
      R.k = static_cast<std::size_t>(C.size(1)), R.C = C.data_ptr<double>(), R.Q = Q.data_ptr<double>();
    }
    for (const Tensor& pk : P) R.p.push_back(pk.data_ptr<double>());
    at::parallel_for(0, b.size(), 256, [&](std::int64_t first, std::int64_t last) {
      SubspaceRows part = R;
      f(part, static_cast<std::size_t>(first), static_cast<std::size_t>(last));
    });
  }

  struct OnManifold {
    Tensor v;      // [B, n] scaled state on the manifold
    Tensor P;      // [B, n, n] dv / dv_net
    Tensor drift;  // [B, n] M A^-1 [0; dG/dt^]
    Tensor MAq;    // [B, n, q] the quasi-steady columns of M A^-1
  };

  // Newton from v_net (detached, scaled) at t^ = th, with u_Q started just above zero: for
  // production-minus-loss laws (f_Q >= 0 at u_Q = 0, falling with u_Q) Newton climbs a convex
  // law monotonically to its first root, and overshoots a concave one to descend to it from
  // above: either way the root where the fast mode is stable, not a second, unphysical one
  // (an enzyme complex above the total enzyme). f clamps non-negative states at zero, so where
  // the network strays below zero (S < 0) the manifold continues (ES = 0) instead of ending.
  // Rows that do not converge to finite values on a stable root keep v_net (the residual
  // then says so). A row leaves the iteration once it has converged (or its G is not a number,
  // which no step changes), keeping the point, G and Jacobian at which it did: most rows of a
  // grid converge in one or two steps, and the few that take four no longer carry the rest.
  // Newton's steps at most, and the largest |G| it accepts, in either version.
  static constexpr int kManifoldSteps = 30;
  double manifold_tolerance() const { return dtype == torch::kFloat64 ? 1e-12 : 1e-5; }
  // For the network's own outputs where its layers run in float32 (inference only): those
  // outputs carry a rounding of about 6e-8 of their scale, so the manifold point is known no
  // better than that, and solving it to 1e-12 bought nothing. At 1e-10 rows leave Newton sooner,
  // Michaelis-Menten's 1,000 samples ran 4 % faster, and their states moved by at most 1e-11 of
  // their largest value (the complex ES by 6e-9 of itself), against the 3.4e-7 the float32
  // layers move them (2026-12-06).
  double output_tolerance() const {
    return net32 && !torch::GradMode::is_enabled() ? std::max(1e-10, manifold_tolerance()) : manifold_tolerance();
  }

  OnManifold to_manifold(const Batch& b, const Tensor& v_net, const Tensor& th) const {
    return to_manifold(b, v_net, th, manifold_tolerance());
  }
  // `matrices` false: v alone is needed (manifold_by_rows then leaves P, drift and MAq undefined).
  OnManifold to_manifold(const Batch& b, const Tensor& v_net, const Tensor& th, double tol,
                         bool matrices = true) const {
    torch::NoGradGuard no_grad;
    if (manifold_runs_by_rows()) return manifold_by_rows(b, v_net, th, tol, matrices);
    const Tensor M = directions(b);
    const std::int64_t k = b.C.defined() ? b.C.size(1) : 0, q = static_cast<std::int64_t>(qss.size());
    const auto N = static_cast<std::int64_t>(n());
    Tensor v = torch::empty_like(v_net), G = torch::empty({b.size(), k + q}, options()),
           J = torch::empty({b.size(), k + q, N}, options()), Gt = torch::empty({b.size(), q}, options());
    // The rows still iterating, and their part of everything the iteration reads.
    Tensor rows = torch::arange(b.size(), torch::TensorOptions().dtype(torch::kLong).device(device));
    Batch part = b;
    Tensor Mp = M, base = v_net, thp = th;
    Tensor a = torch::zeros({b.size(), k + q}, options());
    a.slice(1, k) = 1e-3 - v_net.index_select(1, qss_idx);
    for (int it = 0;; ++it) {
      const Tensor vp = base + torch::matmul(Mp, a.unsqueeze(2)).squeeze(2);
      auto [Gq, Jq, Gtp] = qss_jacobian(part, vp * part.s, thp);
      Tensor Gp = k > 0 ? torch::cat({torch::matmul(part.C, vp.unsqueeze(2)).squeeze(2) - part.c, Gq}, 1) : Gq;
      Tensor Jp = k > 0 ? torch::cat({part.C, Jq}, 1) : Jq;
      v.index_copy_(0, rows, vp);
      G.index_copy_(0, rows, Gp);
      J.index_copy_(0, rows, Jp);
      Gt.index_copy_(0, rows, Gtp);
      const Tensor open = Gp.abs().amax(1) > tol;
      if (it == kManifoldSteps || !open.any().item<bool>()) break;
      if (!open.all().item<bool>()) {
        const Tensor keep = open.nonzero().squeeze(1);
        rows = rows.index_select(0, keep);
        part = part.select(keep);
        Mp = Mp.index_select(0, keep);
        base = base.index_select(0, keep);
        thp = thp.index_select(0, keep);
        a = a.index_select(0, keep);
        Gp = Gp.index_select(0, keep);
        Jp = Jp.index_select(0, keep);
      }
      // A row whose A is singular (every state it touches clamped) stops where it is.
      const Tensor step = std::get<0>(solve_batched(torch::matmul(Jp, Mp), Gp.unsqueeze(2))).squeeze(2);
      a = a - torch::where(torch::isfinite(step), step, torch::zeros_like(step));
    }
    const Tensor MA =
        std::get<0>(solve_batched(torch::matmul(J, M).transpose(1, 2), M.transpose(1, 2))).transpose(1, 2);
    OnManifold o;
    o.P = torch::eye(N, options()).unsqueeze(0) - torch::matmul(MA, J);
    o.MAq = MA.slice(2, k);
    o.drift = torch::matmul(o.MAq, Gt.unsqueeze(2)).squeeze(2);
    const Tensor stable = (torch::matmul(J.slice(1, k), fast_directions(b)).diagonal(0, 1, 2) < 0).all(1);
    const Tensor ok = (torch::isfinite(v).all(1) & torch::isfinite(o.P).flatten(1).all(1) &
                       torch::isfinite(o.drift).all(1) & (G.abs().amax(1) <= 1e3 * tol) & stable)
                          .unsqueeze(1);
    o.v = torch::where(ok, v, v_net);
    o.P = torch::where(ok.unsqueeze(2), o.P, torch::eye(N, options()).unsqueeze(0).expand_as(o.P));
    o.drift = torch::where(ok, o.drift, torch::zeros_like(o.drift));
    o.MAq = torch::where(ok.unsqueeze(2), o.MAq, torch::zeros_like(o.MAq));
    return o;
  }

  // to_manifold row by row in double (manifold_rows.h), with the model's own right-hand side
  // and Jacobian in place of tensor operations and autograd: on a CPU in float64, for a model
  // whose right-hand side does not read t (the drift's dG/dt^ is then g's alone). The rows are
  // spread over the threads unless this runs inside a chunk already; a row's numbers do not
  // depend on which thread computes it. With `per` above 1, b is the samples' (ChunkRows), each
  // the sample of `per` rows of v_net and th.
  OnManifold manifold_by_rows(const Batch& b, const Tensor& v_net, const Tensor& th, double tol, bool matrices,
                              std::size_t per = 1) const {
    const std::int64_t k = b.C.defined() ? b.C.size(1) : 0, q = static_cast<std::int64_t>(qss.size());
    const auto N = static_cast<std::int64_t>(n()), B = v_net.size(0);
    const Tensor D = fast_directions(b).contiguous();
    const Tensor vn = v_net.contiguous(), s = b.s.contiguous(), g0 = b.g0.contiguous(), rate = b.rate.contiguous();
    const Tensor t = time_of(th).contiguous();
    const Tensor dt = dt_dth_of(th).contiguous();
    Tensor C, c;
    if (k > 0) C = b.C.contiguous(), c = b.c.contiguous();
    OnManifold o;
    o.v = torch::empty({B, N}, options());
    if (matrices) {
      o.P = torch::empty({B, N, N}, options());
      o.drift = torch::empty({B, N}, options());
      o.MAq = torch::empty({B, N, q}, options());
    }
    ManifoldRows R;
    R.n = n(), R.k = static_cast<std::size_t>(k), R.q = qss.size(), R.m = m();
    R.qss = qss;
    R.clamp.assign(n(), 0);
    for (std::size_t i = 0; i < n(); ++i)
      R.clamp[i] = model->state_is_nonnegative(i) &&
                   std::find(qss.begin(), qss.end(), static_cast<std::int64_t>(i)) == qss.end();
    R.t0 = t0;
    R.tol = tol;
    R.max_iterations = kManifoldSteps;
    R.v_net = vn.data_ptr<double>(), R.s = s.data_ptr<double>();
    if (k > 0) {
      R.C = C.data_ptr<double>(), R.c = c.data_ptr<double>();
      const Tensor w = law_weight.to(torch::kCPU, torch::kFloat64).contiguous();
      R.law_weight.assign(w.data_ptr<double>(), w.data_ptr<double>() + n());
    }
    R.g0 = g0.data_ptr<double>(), R.rate = rate.data_ptr<double>(), R.D = D.data_ptr<double>();
    R.t = t.data_ptr<double>(), R.dt_dth = dt.data_ptr<double>();
    const std::vector<Tensor> P = parameter_columns(b, R.p, R.p_stride);
    R.per = per;
    R.v = o.v.data_ptr<double>();
    if (matrices) R.P = o.P.data_ptr<double>(), R.drift = o.drift.data_ptr<double>(), R.MAq = o.MAq.data_ptr<double>();
    at::parallel_for(0, B, 256, [&](std::int64_t first, std::int64_t last) {
      solve_manifold_rows(*model, R, static_cast<std::size_t>(first), static_cast<std::size_t>(last));
    });
    return o;
  }

  // Whether to_manifold runs by rows (manifold_by_rows): on a CPU in float64, for a model whose
  // right-hand side does not read t.
  bool manifold_runs_by_rows() const { return device.is_cpu() && dtype == torch::kFloat64 && model->is_autonomous(); }

  // Whether a chunk's output runs by rows after the network (output_rows.h) instead of by tensor
  // operations: without autograd, where the manifold runs by rows (manifold_by_rows), with the
  // plain or relative residual (the implicit one's preconditioner stays a tensor expression).
  bool output_by_rows() const {
    return rows_after_network && manifold_runs_by_rows() && !qss.empty() && !torch::GradMode::is_enabled() &&
           form != TrainOptions::Residual::kImplicit;
  }

  // A chunk's rows for the row functions: what differs by row (t^, t, dt/dt^, the network's
  // inputs) in `rows`, and what each sample's `per` rows share (y0, s, z0, the laws, the manifold's
  // g0, rates and fast directions, tau, the parameters) in `samples`, row r reading sample r / per:
  // copied to every row (grid_rows) those took 12 of the 110 ms of a 1-thread generation of
  // Michaelis-Menten's 1,000 samples (AMD EPYC, 2026-12-06).
  struct ChunkRows {
    Batch rows, samples;
    std::size_t per = 1;
  };

  // The parameters' columns as pointers and their stride (Batch::p holds views of one [B, m]
  // tensor's columns); the tensors returned hold any copy made.
  static std::vector<Tensor> parameter_columns(const Batch& b, std::vector<const double*>& p, std::size_t& stride) {
    std::vector<Tensor> held;
    stride = b.p.empty() ? 1 : static_cast<std::size_t>(b.p.front().stride(0));
    for (const Tensor& pk : b.p)
      if (static_cast<std::size_t>(pk.stride(0)) != stride) stride = 0;  // (mixed: copied)
    for (const Tensor& pk : b.p) {
      held.push_back(stride == 0 ? pk.contiguous() : pk);
      p.push_back(held.back().data_ptr<double>());
    }
    if (stride == 0) stride = 1;
    return held;
  }

  // forward_mode's v = fibre_base(raw_output / s) and, with dN, dv = fibre_base(raw_tangent / s),
  // by rows in this thread.
  std::pair<Tensor, Tensor> raw_by_rows(const ChunkRows& c, const Tensor& N, const Tensor& dN) const {
    const Batch& b = c.samples;
    const Tensor th = c.rows.x.select(1, 0).contiguous(), Nc = N.contiguous(), y0 = b.y0.contiguous(),
                 s = b.s.contiguous();
    const Tensor dNc = dN.defined() ? dN.contiguous() : Tensor(), z0 = b.z0.defined() ? b.z0.contiguous() : Tensor();
    Tensor v = torch::empty_like(Nc), dv = dN.defined() ? torch::empty_like(Nc) : Tensor();
    RawRows R;
    R.n = n(), R.qss = qss, R.sharpness = kSharpness, R.per = c.per;
    R.positive.assign(n(), 0);
    for (auto i : positive) R.positive[static_cast<std::size_t>(i)] = 1;
    R.th = th.data_ptr<double>(), R.N = Nc.data_ptr<double>(), R.y0 = y0.data_ptr<double>(), R.s = s.data_ptr<double>();
    if (dN.defined()) R.dN = dNc.data_ptr<double>(), R.dv = dv.data_ptr<double>();
    if (z0.defined()) R.z0 = z0.data_ptr<double>();
    R.v = v.data_ptr<double>();
    raw_rows(R, 0, static_cast<std::size_t>(N.size(0)));
    return {v, dv};
  }

  // Each row's sum of squares of residual(b, u, du) for forward_mode's u and du on the manifold
  // o (from raw_by_rows' dv), by rows in this thread.
  std::vector<double> residual_squares_by_rows(const ChunkRows& c, const OnManifold& o, const Tensor& dv) const {
    const Batch& b = c.samples;
    const Tensor D = fast_directions(b).contiguous(), s = b.s.contiguous(), t = c.rows.t.contiguous(),
                 dt = c.rows.dt_dth.contiguous(), tau = b.tau.defined() ? b.tau.contiguous() : Tensor();
    std::vector<double> squares(static_cast<std::size_t>(dv.size(0)));
    ResidualRows R;
    R.n = n(), R.q = qss.size(), R.m = m(), R.qss = qss, R.per = c.per;
    R.nonneg.assign(n(), 0);
    for (std::size_t i = 0; i < n(); ++i) R.nonneg[i] = model->state_is_nonnegative(i);
    R.relative = form == TrainOptions::Residual::kRelative;
    R.v = o.v.data_ptr<double>(), R.P = o.P.data_ptr<double>(), R.drift = o.drift.data_ptr<double>();
    R.dv = dv.data_ptr<double>(), R.s = s.data_ptr<double>(), R.t = t.data_ptr<double>();
    R.dt_dth = dt.data_ptr<double>(), R.D = D.data_ptr<double>();
    if (tau.defined()) R.tau = tau.data_ptr<double>();
    const std::vector<Tensor> P = parameter_columns(b, R.p, R.p_stride);
    R.squares = squares.data();
    ::physynth::pinn::residual_rows(*model, R, 0, squares.size());
    return squares;
  }

  // The fast directions D, g0 = f_Q(t0, y0), and the rate at which each quasi-steady state
  // relaxes, all measured at the quasi-steady point of y0: D from the Jacobian there (found
  // along the start directions, then again along D), the rate -(df_i along d_i) / (d_i)_i.
  // At least 1 / (t1 - t0). Returns the quasi-steady point of y0.
  Tensor set_relaxation(Batch& b) const {
    const Tensor qi = qss_idx;
    const Tensor zero_t = torch::full({b.size()}, t0, options());
    b.g0 = torch::zeros({b.size(), static_cast<std::int64_t>(qss.size())}, options());
    b.rate = torch::ones_like(b.g0);
    b.D = Tensor();  // start from e_Q moved along the laws, in this batch's scales
    const Tensor zero_th = torch::zeros({b.size()}, options());
    // (The points alone: P and the drift are not needed.)
    b.D = fast_subspace(b, to_manifold(b, b.y0 / b.s, zero_th, manifold_tolerance(), false).v * b.s);
    const OnManifold qs = to_manifold(b, b.y0 / b.s, zero_th, manifold_tolerance(), false);
    if (device.is_cpu() && dtype == torch::kFloat64) {
      b.rate = relaxation_rates_by_rows(b, qs.v * b.s);
    } else {
      const Tensor J = std::get<1>(qss_jacobian(b, qs.v * b.s, zero_th));  // f_Q / s_Q
      const Tensor D = fast_directions(b);                                 // [B, n, q]
      const Tensor slope = torch::matmul(J, D).diagonal(0, 1, 2);          // [B, q]
      const Tensor dq = D.index_select(1, qi).diagonal(0, 1, 2);
      b.rate = (slope / dq).abs().nan_to_num(0.0).clamp_min(1.0 / (t1 - t0));
    }
    {
      torch::NoGradGuard no_grad;
      const std::vector<Tensor> f = rhs_of(b, b.y0, zero_t);
      std::vector<Tensor> fq;
      for (auto i : qss) fq.push_back(f[static_cast<std::size_t>(i)]);
      b.g0 = torch::stack(fq, 1).detach();
    }
    return (qs.v * b.s).detach();
  }

  // tau per row (TimeScaling::characteristic): min over the states i that are not
  // quasi-steady and deplete at the start (y0_i f_i < 0) of y0_i / -f_i(t0, u0); t1 - t0 where
  // none does. u0: y0, or its quasi-steady point (whose conserved partners, such as a product
  // P = -ES*, may sit off y0, so the amounts are y0's).
  void set_characteristic_time(Batch& b, const Tensor& u0) const {
    torch::NoGradGuard no_grad;
    const std::vector<Tensor> f = rhs_of(b, u0, torch::full({b.size()}, t0, options()));
    b.tau = depletion_time(b, f, /*skip_quasi_steady=*/true).clamp_min((t1 - t0) * 1e-9);
  }

  // Per row, the time the fastest-depleting state would take to run out at the rates f:
  // min over the states with y0_i f_i < 0 of y0_i / -f_i, at most t1 - t0.
  Tensor depletion_time(const Batch& b, const std::vector<Tensor>& f, bool skip_quasi_steady) const {
    Tensor horizon = torch::full({b.size()}, t1 - t0, options());
    for (std::size_t i = 0; i < n(); ++i) {
      if (skip_quasi_steady && std::find(qss.begin(), qss.end(), static_cast<std::int64_t>(i)) != qss.end()) continue;
      const Tensor y = b.y0.select(1, static_cast<std::int64_t>(i));
      horizon = torch::where(y * f[i] < 0, torch::minimum(horizon, y / -f[i]), horizon);
    }
    return horizon;
  }

  // The network's inputs from normalised points x = [t^, theta^] ([B, 1 + q], which may carry
  // autograd), with phi appended where TimeScaling::characteristic is set.
  Tensor net_input(const Batch& b, const Tensor& x) const {
    if (!time.characteristic) return x;
    const Tensor phi = torch::log1p((time_of(x.select(1, 0)) - t0) / b.tau) / std::log1p((t1 - t0) / tau_ref);
    return torch::cat({x, phi.unsqueeze(1)}, 1);
  }

  // d(net_input)/dt^, [B, inputs]: 1 for t^, dphi/dt^ for phi, 0 for theta^.
  Tensor input_tangent(const Batch& b) const {
    const std::int64_t columns = b.x.size(1) + (time.characteristic ? 1 : 0);
    Tensor dx = torch::zeros({b.size(), columns}, options());
    dx.select(1, 0).fill_(1.0);
    if (time.characteristic)
      dx.select(1, columns - 1).copy_(b.dt_dth / ((b.t - t0 + b.tau) * std::log1p((t1 - t0) / tau_ref)));
    return dx;
  }

  // The network's output on the manifold, attached to v_net by its exact first derivative P.
  // (Without autograd the attachment is P times zero, and P is finite: o.v itself.)
  Tensor on_manifold(const Batch& b, const OnManifold& o, const Tensor& v_net) const {
    if (!v_net.requires_grad()) return o.v * b.s;
    return (o.v + torch::matmul(o.P, (v_net - v_net.detach()).unsqueeze(2)).squeeze(2)) * b.s;
  }

  // --- the network's output and its derivative along t^ ---
  // u = y0 + s t^ N, projected onto the invariants (which y0 satisfies, so u(t0) = y0 still).
  Tensor project(const Batch& b, const Tensor& u) const {
    if (!b.C.defined()) return u;
    const Tensor v = (u / b.s).unsqueeze(2);
    const Tensor excess = torch::matmul(b.C, v).squeeze(2) - b.c;
    return u - b.s * torch::matmul(b.Q, excess.unsqueeze(2)).squeeze(2);
  }
  Tensor project_tangent(const Batch& b, const Tensor& du) const {
    if (!b.C.defined()) return du;
    const Tensor excess = torch::matmul(b.C, (du / b.s).unsqueeze(2));
    return du - b.s * torch::matmul(b.Q, excess).squeeze(2);
  }

  // u before the conservation laws and the manifold, and its derivative along t^ given the
  // network's dN: y0 + s t^ N, or s softplus_beta(z0 + t^ N) for positive states (kSharpness).
  // th: [B, 1].
  Tensor raw_output(const Batch& b, const Tensor& th, const Tensor& N) const {
    const Tensor u = b.y0 + b.s * th * N;
    return b.z0.defined() ? torch::where(positive_mask, b.s * torch::softplus(b.z0 + th * N, kSharpness), u) : u;
  }
  Tensor raw_tangent(const Batch& b, const Tensor& th, const Tensor& N, const Tensor& dN) const {
    const Tensor du = b.s * (N + th * dN);
    return b.z0.defined() ? torch::where(positive_mask, torch::sigmoid(kSharpness * (b.z0 + th * N)) * du, du) : du;
  }

  Tensor output(const Batch& b, const Tensor& N) const {
    const Tensor u = raw_output(b, b.x.select(1, 0).unsqueeze(1), N);
    if (qss.empty()) return project(b, u);
    const Tensor v = fibre_base(u / b.s);
    // (Without autograd on_manifold reads v alone.)
    return on_manifold(b, to_manifold(b, v.detach(), b.x.select(1, 0), output_tolerance(), v.requires_grad()), v);
  }

  // The network's output with its quasi-steady states set to zero: the manifold sets them, and
  // along the fast directions (which move E and S with ES) the network's own ES would move S
  // too, below zero where S is spent.
  Tensor fibre_base(const Tensor& v) const { return v.index_fill(1, qss_idx, 0.0); }

  std::pair<Tensor, Tensor> forward_mode(const Batch& b) const {
    auto [N, dN] = net_tangent(net_input(b, b.x), input_tangent(b));
    const Tensor th = b.x.select(1, 0).unsqueeze(1);
    const Tensor u = raw_output(b, th, N), du = raw_tangent(b, th, N, dN);
    if (qss.empty()) return {project(b, u), project_tangent(b, du)};
    const Tensor v = fibre_base(u / b.s);
    const OnManifold o = to_manifold(b, v.detach(), b.x.select(1, 0), output_tolerance());
    const Tensor dv = torch::matmul(o.P, fibre_base(du / b.s).unsqueeze(2)).squeeze(2) - o.drift;
    return {on_manifold(b, o, v), dv * b.s};
  }

  // Reverse mode: one backward pass per output through the graph of u(x).
  std::pair<Tensor, Tensor> reverse_mode(const Batch& b, bool create_graph) const {
    const Tensor x = b.x.detach().requires_grad_(true);
    Tensor u = raw_output(b, x.select(1, 0).unsqueeze(1), net->forward(net_input(b, x)));
    if (qss.empty()) {
      u = project(b, u);
    } else {
      // The explicit time dependence of G enters through t^ = x[:, 0] at the fixed manifold point.
      const Tensor v = fibre_base(u / b.s);
      const OnManifold o = to_manifold(b, v.detach(), x.select(1, 0).detach());
      const Tensor th = x.select(1, 0);
      const Tensor ustar = o.v * b.s;
      const Tensor dG = qss_constraint(b, ustar, time_of(th)) - qss_constraint(b, ustar, time_of(th.detach()));
      u = on_manifold(b, o, v) - torch::matmul(o.MAq, dG.unsqueeze(2)).squeeze(2) * b.s;
    }
    std::vector<Tensor> columns;
    for (std::int64_t i = 0; i < u.size(1); ++i) {
      const auto g = torch::autograd::grad({u.select(1, i).sum()}, {x}, {}, /*retain_graph=*/true, create_graph);
      columns.push_back(g[0].select(1, 0));
    }
    return {u, torch::stack(columns, 1)};
  }

  // f(t, u, theta), with states the model declares non-negative clamped at zero: where an
  // untrained network strays below zero, laws such as exp(-VB / scale) would overflow.
  // At time t where given (the quasi-steady manifold's explicit time dependence), else b.t.
  // The manifold leaves its own quasi-steady states unclamped: at a root on the boundary
  // (ES = 0 where S < 0) a clamp would take away the slope Newton and P need.
  std::vector<Tensor> rhs_of(const Batch& b, const Tensor& u, const Tensor& t = {}, bool manifold = false) const {
    std::vector<Tensor> y = u.unbind(1);
    for (std::size_t i = 0; i < n(); ++i)
      if (model->state_is_nonnegative(i) &&
          !(manifold && std::find(qss.begin(), qss.end(), static_cast<std::int64_t>(i)) != qss.end()))
        y[i] = y[i].clamp_min(0.0);
    std::vector<Tensor> f(n());
    rhs(t.defined() ? t : b.t, y.data(), b.p.data(), f.data());
    const std::vector<std::int64_t> shape{b.size()};
    for (auto& fi : f) fi = fi.expand(shape);
    return f;
  }

  // R = (du/dt^ - f h) / s, [B, n], h = dt/dt^.
  // - implicit: R is then preconditioned by (I - h J~)^-1, J~ = S^-1 (df/du) S the Jacobian in
  //   scaled states (held constant): a mode relaxing at rate |lambda| h >> 1 counts by the
  //   state deviation it causes, R / (|lambda| h), while slow and conserved modes keep their
  //   full residual.
  // - relative: each row is divided by 1 + |f_i h| / s_i. Over twelve decades of log time h
  //   reaches 1e12, and a state a little off its trajectory late (Robertson's A at 1e-3
  //   instead of 5e-8) makes f h / s of 1e6: those few points would swamp the loss. Near the
  //   solution f h / s is the state's own rate of change per t^, O(1). The divisor is part of
  //   the loss, not held constant: L-BFGS's line search needs a gradient that is the loss's.
  Tensor residual(const Batch& b, const Tensor& u, const Tensor& du) const {
    const Tensor fh = torch::stack(rhs_of(b, u), 1) * b.dt_dth.unsqueeze(1);
    Tensor r = (du - fh) / b.s;
    if (!qss.empty()) {
      // The quasi-steady rows are replaced by the manifold: R minus its part along the fast
      // directions, with what the conservation laws tie to them (E with ES), vanishes there.
      const Tensor D = fast_directions(b);
      const Tensor rq = r.index_select(1, qss_idx).unsqueeze(2);
      const Tensor c = solve_batched_checked(D.index_select(1, qss_idx), rq);
      r = r - torch::matmul(D, c).squeeze(2);
    }
    if (form == TrainOptions::Residual::kRelative) return with_sign_penalty(b, r / (1.0 + fh.abs() / b.s), u);
    if (form != TrainOptions::Residual::kImplicit) return with_sign_penalty(b, r, u);
    const Tensor h = b.dt_dth.unsqueeze(1).unsqueeze(2);
    const Tensor a = torch::eye(static_cast<std::int64_t>(n()), options()).unsqueeze(0) - h * scaled_jacobian(b, u);
    const Tensor pr = std::get<0>(solve_batched(a, r.unsqueeze(2))).squeeze(2);
    // A growing mode (an eigenvalue of h J near or above 1) would be amplified, not damped:
    // there the plain residual stands.
    const Tensor ok = torch::isfinite(pr).all(1) & (pr.pow(2).sum(1) <= r.pow(2).sum(1));
    return with_sign_penalty(b, torch::where(ok.unsqueeze(1), pr, r), u);
  }

  // f clamps non-negative states at zero, which leaves a loophole: below zero a state's own
  // terms vanish, so a trajectory can park there with no residual (Michaelis-Menten's S < 0
  // with ES = 0 once the substrate is spent). The residual gains a column per non-negative
  // state, max(-u_i, 0) / s_i, that closes it. With a characteristic time tau (the time a
  // state takes to run out), the column is that deficit per tau in residual units,
  // max(-u_i, 0) / s_i * (dt/dt^) / tau: the rate at which the physics would have removed it.
  // Weighted 1 (as without tau), the Michaelis-Menten network parked at S = -0.3 uM, 1 % of
  // S's scale, over the whole tail: a residual of 1e-2 against a loss of 1e-4.
  Tensor with_sign_penalty(const Batch& b, const Tensor& r, const Tensor& u) const {
    if (nonneg_idx.numel() == 0) return r;
    Tensor deficit = (-u.index_select(1, nonneg_idx)).clamp_min(0.0) / b.s.index_select(1, nonneg_idx);
    if (b.tau.defined()) deficit = deficit * (b.dt_dth / b.tau).unsqueeze(1);
    return torch::cat({r, deficit}, 1);
  }

  // S^-1 (df/du) S at u and time t (b.t where undefined), [B, n, n], detached: one backward
  // pass per state through the tensor right-hand side.
  Tensor scaled_jacobian(const Batch& b, const Tensor& u, const Tensor& t = {}) const {
    torch::AutoGradMode enable(true);
    const Tensor x = u.detach().requires_grad_(true);
    const std::vector<Tensor> f = rhs_of(b, x, t);
    std::vector<Tensor> rows;
    for (std::size_t i = 0; i < n(); ++i) {
      Tensor g;
      if (f[i].requires_grad())
        g = torch::autograd::grad({f[i].sum()}, {x}, {}, /*retain_graph=*/true, false, /*allow_unused=*/true)[0];
      rows.push_back(g.defined() ? g : torch::zeros_like(x));
    }
    const Tensor j = torch::stack(rows, 1).detach();  // [B, i, j] = df_i/du_j
    return j * b.s.unsqueeze(1) / b.s.unsqueeze(2);
  }

  // --- evaluation on a grid ---
  // Inference over `count` samples of `rows_per_sample` rows each, in chunks of whole samples:
  // f(first, c) for samples [first, first + c), without autograd. On a CPU a chunk has about
  // kChunkRows rows and the chunks are spread over the intra-op threads, each chunk's
  // operations in one thread (OpenMP's OpenBLAS, as scripts/install-deps.sh installs it, runs
  // single-threaded inside a parallel region). Its numbers are then the same for any thread
  // count: on Michaelis-Menten's 60,500-row shards, one GEMM over 1 or 2 threads gave network
  // outputs that differed in the last bit in 88,246 of 242,000 entries, and the states with them.
  // A chunk's tensors also stay in cache, and the threads meet once per call, not at every
  // operation. On a GPU chunks of 65536 rows run one after the other, each operation across the
  // device.
  static constexpr std::size_t kChunkRows = 8192;
  void for_each_chunk(std::size_t count, std::size_t rows_per_sample,
                      const std::function<void(std::size_t, std::size_t)>& f) const {
    const bool cpu = device.is_cpu();
    const std::size_t rows = cpu ? kChunkRows : (std::size_t{1} << 16);
    // At most `rows` rows a chunk, and on a CPU a multiple of 4 chunks (at least 4, at most one
    // per sample) of equal size to a sample, so that 1, 2 or 4 threads share them evenly:
    // Michaelis-Menten's 1,000 samples of 121 rows made 15 chunks, 8 for one thread and 7 for the
    // other, and the prediction took 68 ms on 2 threads; in 16 equal chunks 64 ms (AMD EPYC,
    // 2026-12-06). The split depends on the sample count alone, not on the thread count.
    const std::size_t most = std::max<std::size_t>(1, rows / std::max<std::size_t>(1, rows_per_sample));
    std::size_t parts = (count + most - 1) / most;
    if (cpu) parts = std::min(count, std::max<std::size_t>(4, (parts + 3) / 4 * 4));
    const auto chunks = static_cast<std::int64_t>(parts);
    const auto one = [&](std::int64_t k) {
      torch::NoGradGuard no_grad;  // (grad mode is per thread; the pool's threads do not inherit it)
      const auto K = static_cast<std::size_t>(k);
      const std::size_t first = K * count / parts, last = (K + 1) * count / parts;
      f(first, last - first);
    };
    if (!cpu) {
      for (std::int64_t k = 0; k < chunks; ++k) one(k);
      return;
    }
    // One chunk (one sample) would run outside a parallel region, where torch shares each of its
    // operations over the threads, and a GEMM's last bits then depend on their count (100
    // samples made one chunk of the residual's rows, and their RMS residuals differed between 1
    // and 2 threads): it runs in this thread alone.
    if (chunks == 1) {
      const OneThread alone;
      one(0);
      return;
    }
    // Each thread takes the next chunk when it is done with one (a fixed split of 8 chunks over
    // 2 threads, the last a part one, left one waiting). Which thread computes a chunk does not
    // change its numbers. (Tried 2026-12-05: the chunks as TBB tasks on the engine's threads
    // instead, each with torch in one thread: the same time.)
    std::atomic<std::int64_t> next{0};
    at::parallel_for(0, std::min<std::int64_t>(chunks, at::get_num_threads()), 1, [&](std::int64_t, std::int64_t) {
      for (std::int64_t k = next++; k < chunks; k = next++) one(k);
    });
    release_threads();
  }

  void predict(const double* p, std::size_t count, const std::vector<double>& times, double* out) const {
    torch::NoGradGuard no_grad;
    predict_rows(sample_batch(p, count), times, out);
  }

  // Network::predict on the samples of `once` (sample_batch).
  void predict_rows(const Batch& once, const std::vector<double>& times, double* out) const {
    torch::NoGradGuard no_grad;
    const std::size_t T = times.size(), N = n(), count = static_cast<std::size_t>(once.size());
    std::vector<double> th(T);
    for (std::size_t k = 0; k < T; ++k) th[k] = t_hat(times[k]);
    for_each_chunk(count, T, [&](std::size_t first, std::size_t c) {
      if (output_by_rows()) {  // (output's steps by rows, u = v s straight into out)
        const ChunkRows rows = chunk_rows(once, first, c, th);
        const Tensor v = raw_by_rows(rows, net_forward(net_input(rows.rows, rows.rows.x)), Tensor()).first;
        const OnManifold o =
            manifold_by_rows(rows.samples, v, rows.rows.x.select(1, 0), output_tolerance(), false, rows.per);
        const Tensor s = rows.samples.s.contiguous();
        const double *vm = o.v.data_ptr<double>(), *sc = s.data_ptr<double>();
        for (std::size_t k = 0; k < c * T * N; ++k) out[first * T * N + k] = vm[k] * sc[(k / (T * N)) * N + k % N];
        return;
      }
      const Batch b = grid_rows(once, first, c, th);
      const Tensor u = output(b, net_forward(net_input(b, b.x))).to(torch::kCPU, torch::kFloat64).contiguous();
      std::copy(u.data_ptr<double>(), u.data_ptr<double>() + c * T * N, out + first * T * N);
    });
  }

  // Network::residual on the samples of `once`: the RMS residual of each over `points` times
  // uniform in t^.
  void residual_rows(const Batch& once, int points, double* rms) const {
    torch::NoGradGuard no_grad;
    const std::size_t R = static_cast<std::size_t>(std::max(points, 2)), count = static_cast<std::size_t>(once.size());
    std::vector<double> th(R);
    for (std::size_t k = 0; k < R; ++k) th[k] = static_cast<double>(k) / static_cast<double>(R - 1);
    for_each_chunk(count, R, [&](std::size_t first, std::size_t c) {
      if (output_by_rows()) {  // (forward_mode's and residual's steps by rows)
        const ChunkRows rows = chunk_rows(once, first, c, th);
        const auto [N_net, dN] = net_tangent(net_input(rows.rows, rows.rows.x), input_tangent(rows.rows));
        const auto [v, dv] = raw_by_rows(rows, N_net, dN);
        const OnManifold o =
            manifold_by_rows(rows.samples, v, rows.rows.x.select(1, 0), output_tolerance(), true, rows.per);
        const std::vector<double> squares = residual_squares_by_rows(rows, o, dv);
        const double columns = static_cast<double>(R * (n() + static_cast<std::size_t>(nonneg_idx.numel())));
        for (std::size_t j = 0; j < c; ++j) {
          double sum = 0.0;
          for (std::size_t k = 0; k < R; ++k) sum += squares[j * R + k];
          rms[first + j] = std::sqrt(sum / columns);
        }
        return;
      }
      const Batch b = grid_rows(once, first, c, th);
      auto [u, du] = forward_mode(b);
      const Tensor r = residual(b, u, du).pow(2).reshape({static_cast<std::int64_t>(c), -1}).mean(1).sqrt();
      const Tensor rc = r.to(torch::kCPU, torch::kFloat64).contiguous();
      std::copy(rc.data_ptr<double>(), rc.data_ptr<double>() + c, rms + first);
    });
  }

  // What depends on a sample alone (its initial state, scales, conservation laws, quasi-steady
  // relaxation, characteristic time: all at t0), one row for each of the `count` samples
  // (parameter rows P, count x m), at t^ = 0 (grid_rows sets each row's time). Computed once per
  // call over all samples, and once for both of Network::predict_and_residual: on a few rows its
  // cost is per tensor operation, not per row, so once per chunk it cost more than the rest.
  // In one thread: its operations are on a row per sample, too small to share (1,000 samples in
  // a 2-thread run: 15-17 ms shared, 11-13 ms in one thread; a 1-thread run takes 7 ms).
  Batch sample_batch(const double* P, std::size_t count) const {
    const OneThread alone;
    return make_batch(std::vector<double>(count, 0.0), std::vector<double>(P, P + count * m()));
  }

  // Samples [first, first + c) of `once` (sample_batch), each repeated at every t^ of th.
  Batch grid_rows(const Batch& once, std::size_t first, std::size_t c, const std::vector<double>& th) const {
    const std::size_t T = th.size();
    const auto T64 = static_cast<std::int64_t>(T), c64 = static_cast<std::int64_t>(c);
    const auto f64 = static_cast<std::int64_t>(first);
    // Not copied: the times (set below), and with quasi-steady states Q (the projection along the
    // laws, which the manifold replaces; the fast directions are set).
    Batch from = once;
    from.t = from.dt_dth = Tensor();
    if (!qss.empty() && from.D.defined()) from.Q = Tensor();
    Batch b = from.select(torch::arange(f64, f64 + c64, torch::TensorOptions().dtype(torch::kLong).device(device))
                              .repeat_interleave(T64));
    set_grid_times(b, c, th);
    return b;
  }

  // grid_rows for the row functions: the rows' t^, theta^, t, dt/dt^ and tau, and the samples'
  // [first, first + c) of `once` as they are.
  ChunkRows chunk_rows(const Batch& once, std::size_t first, std::size_t c, const std::vector<double>& th) const {
    const auto f64 = static_cast<std::int64_t>(first), c64 = static_cast<std::int64_t>(c);
    ChunkRows out;
    out.per = th.size();
    Batch& s = out.samples;
    const auto part = [&](const Tensor& x) { return x.defined() ? x.slice(0, f64, f64 + c64) : Tensor(); };
    s.x = part(once.x), s.y0 = part(once.y0), s.C = part(once.C), s.c = part(once.c), s.g0 = part(once.g0);
    s.rate = part(once.rate), s.D = part(once.D), s.z0 = part(once.z0), s.tau = part(once.tau), s.s = part(once.s);
    for (const Tensor& pk : once.p) s.p.push_back(part(pk));
    const Tensor rows = torch::arange(f64, f64 + c64, torch::TensorOptions().dtype(torch::kLong).device(device))
                            .repeat_interleave(static_cast<std::int64_t>(th.size()));
    out.rows.x = once.x.index_select(0, rows);
    if (once.tau.defined()) out.rows.tau = once.tau.index_select(0, rows);
    set_grid_times(out.rows, c, th);
    return out;
  }

  // Row k * T + j of b (c samples' T rows each): t^ = th[j], and its t and dt/dt^.
  void set_grid_times(Batch& b, std::size_t c, const std::vector<double>& th) const {
    const std::size_t T = th.size();
    const auto T64 = static_cast<std::int64_t>(T), c64 = static_cast<std::int64_t>(c);
    std::vector<double> t(T), dt(T);
    for (std::size_t k = 0; k < T; ++k) t[k] = t_of(th[k]), dt[k] = dt_dth(th[k]);
    const auto tiled = [&](std::vector<double>& v) {
      return torch::from_blob(v.data(), {T64}, kF64).to(options(), false, true).repeat({c64});
    };
    std::vector<double> th_copy = th;
    b.x.select(1, 0).copy_(tiled(th_copy));  // (b.x is an index_select's own copy)
    b.t = tiled(t);
    b.dt_dth = tiled(dt);
  }

  std::vector<double> draw_parameters(std::size_t count) const {
    return parameters_of(draw_points(static_cast<std::int64_t>(count)));
  }
};

inline namespace detail {

// CVODES trajectories for parameter rows P (count x m) on `times`; a failed solve leaves NaN.
inline std::vector<double> reference(const Pinn::Impl& im, const std::vector<double>& P,
                                     const solvers::OdeOptions& options, const std::vector<double>& times) {
  solvers::OdeSolver solver(im.model, options);
  const std::size_t N = im.n(), M = im.m(), T = times.size(), count = P.size() / M;
  std::vector<double> out(count * T * N), y0(N);
  for (std::size_t s = 0; s < count; ++s) {
    im.model->initial_state(&P[s * M], y0.data());
    const auto r = solver.solve(&P[s * M], y0.data(), times.front(), times, &out[s * T * N]);
    if (r.status != solvers::SolveStatus::kSuccess)
      std::fill(&out[s * T * N], &out[(s + 1) * T * N], std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

inline ErrorSummary compare(const std::vector<double>& u, const std::vector<double>& y, std::size_t count,
                            std::size_t T, std::size_t N) {
  ErrorSummary e;
  std::vector<std::vector<double>> per_state(N);
  for (std::size_t s = 0; s < count; ++s) {
    if (std::isnan(y[s * T * N])) continue;  // the reference failed
    double worst = 0.0;
    const std::vector<double> errors = relative_l2_errors(&u[s * T * N], &y[s * T * N], T, N);
    for (std::size_t i = 0; i < N; ++i) {
      const double err = errors[i];
      per_state[i].push_back(err);
      worst = std::max(worst, std::isnan(err) ? std::numeric_limits<double>::infinity() : err);
    }
    e.per_sample.push_back(worst);
  }
  e.median = median(e.per_sample);
  e.worst = e.per_sample.empty() ? std::numeric_limits<double>::quiet_NaN()
                                 : *std::max_element(e.per_sample.begin(), e.per_sample.end());
  for (auto& v : per_state) {
    e.per_state_median.push_back(median(v));
    e.per_state_worst.push_back(v.empty() ? std::numeric_limits<double>::quiet_NaN()
                                          : *std::max_element(v.begin(), v.end()));
  }
  return e;
}

inline nlohmann::json error_json(const ErrorSummary& e) {
  return {{"samples", e.per_sample.size()},
          {"median", e.median},
          {"worst", e.worst},
          {"per_state_median", e.per_state_median},
          {"per_state_worst", e.per_state_worst}};
}

}  // namespace detail

}  // namespace physynth::pinn
