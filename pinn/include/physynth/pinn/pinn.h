// Parametric physics-informed networks: u(t, theta) for a model over a time
// span and a box of parameters, trained on the residual of the model's one
// templated right-hand side (evaluated on tensors), checked against CVODES,
// saved with a JSON sidecar, and evaluated in batches by the engine's `pinn`
// backend.
//
//   inputs    t^ in [0, 1]: (t - t0) / (t1 - t0), or ln(1 + (t - t0)/tc) / ln(1 + (t1 - t0)/tc)
//             theta^ in [-1, 1] per varying parameter: linear in theta, or in ln(theta) where
//             its range spans a decade or more
//   output    u(t, theta) = y0(theta) + s * t^ * N(t^, theta^)   (the initial state exactly,
//             s the characteristic change of each state, N a tanh multilayer perceptron)
//   residual  R = (du/dt^ - f(t, u, theta) dt/dt^) / s, dimensionless; du/dt^ from the tangent
//             along t^ propagated through the layers (forward mode, one pass for all outputs)
//
// This header is free of LibTorch types; everything torch lives in pinn/src.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/core/model.h"
#include "physynth/pinn/options.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::pinn {

// The range of one model parameter the network covers; low == high: fixed at that value
// (not an input of the network).
struct ParameterRange {
  std::string name;
  double low = 0.0, high = 0.0;
  bool log_scale = false;  // normalised in ln(theta): set where high / low >= 10 and low > 0
  bool fixed() const { return low == high; }
};

// Chooses log_scale for a range by the rule above. Inline: the engine builds problems also in
// builds without LibTorch.
inline ParameterRange make_range(std::string name, double low, double high) {
  ParameterRange r;
  r.name = std::move(name);
  r.low = low;
  r.high = high;
  r.log_scale = low > 0 && high / low >= 10.0;
  return r;
}

// What to learn: the model, its parameter box and time span, and how to solve it for checks.
struct Problem {
  std::shared_ptr<const core::Model> model;
  std::vector<ParameterRange> parameters;  // one per model parameter, in the model's order
  std::vector<double> times;               // the output grid (validation and data); t0 = front, t1 = back
  TimeScaling time;
  solvers::OdeOptions solver;  // for the reference trajectories
  std::string scenario;        // name and sha256 of the scenario, for the sidecar
  std::string scenario_sha256;
};

struct Progress {
  const char* phase = "";  // "reference", "adam", "lbfgs"
  int step = 0, steps = 0;
  double loss = 0.0, residual_loss = 0.0, data_loss = 0.0;
  double data_weight = 0.0;
  double validation_median = std::numeric_limits<double>::quiet_NaN();  // when just measured
  double validation_worst = std::numeric_limits<double>::quiet_NaN();
  double elapsed_s = 0.0;
};

// Relative L2 errors against CVODES: per trajectory, the largest over states of
// ||u_i - y_i||_2 / ||y_i||_2 on the output grid.
struct ErrorSummary {
  std::vector<double> per_sample;
  double median = std::numeric_limits<double>::quiet_NaN();
  double worst = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> per_state_median;  // median over samples of each state's error
  std::vector<double> per_state_worst;
};

struct TrainSummary {
  int adam_steps = 0, lbfgs_iterations = 0;
  double final_loss = 0.0, final_residual_loss = 0.0, final_data_loss = 0.0;
  ErrorSummary validation;  // of the kept (best) network
  ErrorSummary test;        // on test_samples held-out draws
  double seconds = 0.0;
  double reference_seconds = 0.0;  // CVODES solves for validation, test and data
  std::string stopped;             // "target reached", "steps done", "time limit"
  int resamples = 0;
};

// What a trained network offers outside pinn/ (the engine's backend, the CLI, the Python
// module). Virtual, so that they reach it through runtime.h without linking LibTorch.
class Network {
 public:
  virtual ~Network() = default;
  virtual const nlohmann::json& metadata() const = 0;
  virtual const std::vector<ParameterRange>& ranges() const = 0;
  virtual double t0() const = 0;
  virtual double t1() const = 0;
  // Empty when p (one value per model parameter) lies in the trained box; otherwise why not,
  // naming the parameter, its value and the range.
  virtual std::string check_parameters(const double* p) const = 0;
  // States of `count` samples (parameters count x m, row-major) on `times`: count x T x n.
  virtual void predict(const double* p, std::size_t count, const std::vector<double>& times, double* states) const = 0;
  // Per sample, the root mean square of the normalised residual R over `points` times
  // uniform in t^ and over the states.
  virtual void residual(const double* p, std::size_t count, int points, double* rms) const = 0;
  // Both at once, what depends on a sample alone set up once for the two.
  virtual void predict_and_residual(const double* p, std::size_t count, const std::vector<double>& times, int points,
                                    double* states, double* rms) const {
    predict(p, count, times, states);
    residual(p, count, points, rms);
  }
  // predict and residual evaluate the network's layers (its GEMMs and tanh) in float32 when
  // on, in the network's own dtype when off (the default). The inputs, the states, the
  // quasi-steady manifold and the residual stay in the network's dtype. A float32 network is
  // float32 either way.
  virtual void set_float32_layers(bool on) = 0;
};

class Pinn final : public Network {
 public:
  using ProgressCallback = std::function<void(const Progress&)>;

  // Trains a network for `problem`; throws std::invalid_argument for a model the
  // PINN cannot evaluate on tensors or with jumps, or for invalid options.
  static Pinn train(const Problem& problem, const NetworkOptions& network, const TrainOptions& options,
                    const ProgressCallback& progress = {});

  // Loads `path` (and its sidecar) for `model`; throws std::runtime_error naming the file
  // and what differs when it was trained for another model (name, states, parameters).
  static Pinn load(const std::string& path, std::shared_ptr<const core::Model> model, const std::string& device = "cpu",
                   int threads = 0);

  Pinn(Pinn&&) noexcept;
  Pinn& operator=(Pinn&&) noexcept;
  ~Pinn() override;

  // Writes the network (LibTorch archive) to `path` and the sidecar to sidecar_path(path),
  // each through a temporary file renamed into place.
  void save(const std::string& path) const;
  static std::string sidecar_path(const std::string& path);

  // LibTorch's intra-op threads (process-wide); 0: every core.
  static void set_threads(int threads);

  const nlohmann::json& metadata() const override;
  const std::vector<ParameterRange>& ranges() const override;
  double t0() const override;
  double t1() const override;
  std::string check_parameters(const double* p) const override;
  void predict(const double* p, std::size_t count, const std::vector<double>& times, double* states) const override;
  void residual(const double* p, std::size_t count, int points, double* rms) const override;
  void predict_and_residual(const double* p, std::size_t count, const std::vector<double>& times, int points,
                            double* states, double* rms) const override;
  void set_float32_layers(bool on) override;
  // predict and residual compute what follows the layers around a quasi-steady manifold (the
  // output's softplus and projections, the residual and its penalty) row by row on a CPU in
  // float64 where they can (the default), or, off, with LibTorch's tensor operations: the
  // reference the rows are tested against.
  void set_output_by_rows(bool on);

  // Relative L2 errors against CVODES for `count` parameter draws uniform in the
  // (normalised) box, keyed on `seed`.
  ErrorSummary error_against_solver(std::size_t count, std::uint64_t seed, const solvers::OdeOptions& solver,
                                    const std::vector<double>& times) const;

  // The time derivative du/dt^ at (t^, theta^) by forward mode (one pass) and by reverse mode
  // (one backward pass per output), count x n each, for tests and benchmarks.
  void time_derivatives(const double* p, std::size_t count, const double* t, bool forward_mode, double* dudt) const;

  // One training step's loss and gradient on `points` fixed collocation points, for the
  // benchmark: runs `steps` Adam steps and returns the seconds per step.
  double time_training_steps(int points, int steps, bool forward_mode, std::uint64_t seed);

  struct Impl;  // in pinn.cpp

 private:
  explicit Pinn(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether this model's right-hand side can be evaluated on tensors (one of the templated
// domain models); empty if so, else why not.
std::string tensor_support(const core::Model& model);

// Whether the LibTorch linked has a CUDA device to use (never with Debian's CPU build).
bool cuda_available();

}  // namespace physynth::pinn
