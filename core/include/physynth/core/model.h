// The runtime interface every physical model implements.
//
// A model is an ODE system dy/dt = f(t, y, p) with n states and m parameters.
// Concrete models write f once, as a template over the scalar type, and derive
// from TemplatedModel (templated_model.h), which supplies rhs(), the exact
// Jacobians by forward-mode autodiff, and nothing else by hand. Code that only
// runs models (solvers, the engine) sees this interface and no templates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "physynth/core/lanes.h"
#include "physynth/core/random.h"

namespace physynth::core {

// A named quantity with units ("mol/L", "1/s"; empty when dimensionless).
struct VariableInfo {
  std::string name;
  std::string units;
  std::string description;
};

// Structural nonzeros of an n x n matrix in compressed sparse column form.
struct SparsityPattern {
  int size = 0;
  std::vector<int> column_start;  // size + 1 entries
  std::vector<int> row_index;     // column_start.back() entries, sorted per column

  int nonzeros() const { return column_start.empty() ? 0 : column_start.back(); }
  static SparsityPattern dense(int n);
};

// A linear invariant w . y(t) = w . y(0) that holds for every parameter value
// (for example a conservation law of a reaction network).
struct LinearInvariant {
  std::string description;      // "E + ES"
  std::vector<double> weights;  // one per state
  // Per state, a parameter that multiplies its weight (the volume of the
  // compartment of a species whose state is a concentration), or -1; empty: none.
  std::vector<int> weight_parameter;
  double weight(std::size_t i, const double* p) const {
    return weight_parameter.empty() || weight_parameter[i] < 0 ? weights[i] : weights[i] * p[weight_parameter[i]];
  }
};

class Model {
 public:
  virtual ~Model() = default;

  virtual const std::string& name() const = 0;
  virtual const std::vector<VariableInfo>& states() const = 0;
  virtual const std::vector<VariableInfo>& parameters() const = 0;
  std::size_t num_states() const { return states().size(); }
  std::size_t num_parameters() const { return parameters().size(); }

  // y0 as a function of the parameters (initial amounts may be parameters).
  virtual void initial_state(const double* p, double* y0) const = 0;

  // dy0/dp, n x m, column-major: the initial values of forward sensitivities.
  virtual void initial_state_jacobian(const double* p, double* jac) const = 0;

  // dydt = f(t, y, p).
  virtual void rhs(double t, const double* y, const double* p, double* dydt) const = 0;
  // True only if rhs never depends on t (then an integrator may take df/dt = 0 unevaluated).
  virtual bool is_autonomous() const { return false; }
  // f on kLanes samples at once (core/lanes.h: lane l of t, y[i], p[j] is sample l's): lane l
  // of dydt is bit for bit rhs() of lane l. True from has_lane_rhs() where one pass computes all
  // lanes (SIMD over samples); the default runs rhs() lane by lane.
  virtual bool has_lane_rhs() const { return false; }
  virtual void rhs_lanes(const Lanes& t, const Lanes* y, const Lanes* p, Lanes* dydt) const;

  // Exact df/dy, n x n, column-major (jac[i + n*j] = df_i/dy_j).
  virtual void jacobian(double t, const double* y, const double* p, double* jac) const = 0;
  // f and df/dy at one point (a Newton iteration needs both). The default calls rhs() and
  // jacobian(); TemplatedModel takes f from the Jets' values of its dense Jacobian's first
  // pass, which may differ from rhs() in the last bit (Ceres' Jet division multiplies by 1 / b).
  virtual void rhs_and_jacobian(double t, const double* y, const double* p, double* dydt, double* jac) const;
  // rhs_and_jacobian on kLanes samples at once (lane l of t, y[i], p[j] is sample l's; jac n x n
  // column-major): lane l of dydt and jac is, bit for bit, rhs_and_jacobian() of lane l. The
  // default runs it lane by lane; TemplatedModel evaluates LaneJets where the model allows it.
  virtual void rhs_and_jacobian_lanes(const Lanes& t, const Lanes* y, const Lanes* p, Lanes* dydt, Lanes* jac) const;

  // Exact df/dp, n x m, column-major (jac[i + n*k] = df_i/dp_k).
  virtual void parameter_jacobian(double t, const double* y, const double* p, double* jac) const = 0;

  // df/dp for the listed parameters only, n x columns.size(), column-major (jac[i + n*k] =
  // df_i/dp_columns[k]): forward sensitivities need only their own columns. The default computes
  // every column and keeps these.
  virtual void parameter_jacobian_columns(double t, const double* y, const double* p, const std::vector<int>& columns,
                                          double* jac) const;

  // The forward-sensitivity right-hand side: out = df/dy S + df/dp[:, columns], n x K with K =
  // columns.size(), S and out column-major (S[i + n*k] = dy_i/dp_columns[k]). The default
  // multiplies jacobian() by S; TemplatedModel evaluates f once on Jets seeded with S.
  virtual void sensitivity_rhs(double t, const double* y, const double* p, const double* S,
                               const std::vector<int>& columns, double* out) const;

  // Which entries of df/dy can be nonzero; dense unless the model knows better.
  virtual SparsityPattern jacobian_sparsity() const;

  // Invariants the audit checks on every sample; none unless the model has some.
  virtual std::vector<LinearInvariant> linear_invariants() const { return {}; }

  // Whether state i is physically non-negative (amounts, concentrations).
  virtual bool state_is_nonnegative(std::size_t /*i*/) const { return false; }

  // Jumps of the state at times that follow from the parameters alone (a dose,
  // an assay's change of phase, an SBML event triggered by time). jump_times(p)
  // lists them in ascending order; at each one the engine stops the integrator,
  // apply_jumps(t, y, p) changes y in place (every jump due at t at once, from
  // the state before them), and integration restarts there. None by default.
  virtual std::vector<double> jump_times(const double* /*p*/) const { return {}; }
  // Whether the model can have jumps at all (for any parameters).
  virtual bool has_jumps() const { return false; }
  virtual void apply_jumps(double /*t*/, double* /*y*/, const double* /*p*/) const {}

  // Times, known from the parameters alone, where the right-hand side changes discontinuously
  // but the state does not (an input switched on at t = T by a piecewise of time): an integrator
  // stops there and restarts rather than step across, which a stiff solve may not survive. Each
  // is the first time at which the right-hand side takes its new form. None by default.
  virtual std::vector<double> switch_times(const double* /*p*/) const { return {}; }

  // Channels the model computes from its state by more than an expression:
  // the features of a vibration waveform synthesised from a defect's size,
  // say. Random (a new waveform at each reading) but a pure function of
  // `rng`'s key. None unless the model has some.
  virtual const std::vector<VariableInfo>& derived_channels() const;
  // Every derived channel at once (one waveform feeds all its features).
  virtual void evaluate_derived(double t, const double* y, const double* p, CounterRng& rng, double* out) const {}
  // Derived channel k alone, equal to evaluate_derived's out[k] with the same rng; a model
  // overrides it where one channel costs less than all (a waveform's RMS without its spectra).
  virtual double evaluate_derived_channel(std::size_t k, double t, const double* y, const double* p,
                                          CounterRng& rng) const;
  // Whether derived channel k is a deterministic function h(t, y, p) (a user model's
  // definition), so that calibration can fit it through derived_partials(); false for random
  // ones (a vibration waveform's features).
  virtual bool derived_is_deterministic(std::size_t /*k*/) const { return false; }
  // Deterministic channel k and, when dh_dy (num_states) and dh_dp (num_parameters) are not
  // null, its exact partial derivatives. Throws std::logic_error for a random channel.
  virtual double derived_partials(std::size_t k, double t, const double* y, const double* p, double* dh_dy,
                                  double* dh_dp) const;
  // The raw signal the derived channels are features of (a vibration snapshot): with the rng
  // evaluate_derived is given at a reading, the very samples whose features were recorded.
  // Its length, rate and units are the same at every reading; length 0: the model has none.
  struct SignalInfo {
    std::size_t length = 0;
    double sample_rate_hz = 0.0;
    std::string units;
  };
  virtual SignalInfo derived_signal_info() const { return {}; }
  bool has_derived_signal() const { return derived_signal_info().length > 0; }
  virtual std::vector<double> derived_signal(double /*t*/, const double* /*y*/, const double* /*p*/,
                                             CounterRng& /*rng*/) const {
    return {};
  }
  // evaluate_derived, also handing back the signal the channels were computed from: the same
  // numbers as evaluate_derived and derived_signal with the same key, from one synthesis where
  // the model overrides it.
  virtual void evaluate_derived_with_signal(double t, const double* y, const double* p, CounterRng& rng, double* out,
                                            std::vector<double>& signal) const {
    CounterRng again = rng;
    evaluate_derived(t, y, p, rng, out);
    signal = derived_signal(t, y, p, again);
  }

  // Index of the state or parameter with this name, or -1.
  int state_index(const std::string& name) const;
  int parameter_index(const std::string& name) const;
};

// A model that advances itself rather than handing the engine a right-hand
// side: one with a discrete-time structure or discrete events inside its
// step, driven by tabulated forcing (the crop models: daily weather, leaf age
// cohorts, mowing). The engine calls simulate() once per sample; it has no
// events, regimes or sensitivities, which need CVODES' view of an ODE. Its
// states() are the variables it reports; t counts time steps from its start.
// The ODE entry points of Model throw std::logic_error.
class SteppedModel : public Model {
 public:
  struct Result {
    std::size_t rows_written = 0;     // rows of `states` filled; the rest are not reached (NaN)
    double t_reached = 0.0;           // where the simulation ended (end of the grid, or e.g. crop maturity)
    std::vector<double> final_state;  // at t_reached, for labels
    bool failed = false;              // with flag and message; nothing of the sample is kept
    std::string flag, message;
    long steps = 0;  // integrator steps: days of a daily scheme, CVODE steps otherwise
  };

  // Grid times must be whole multiples of this (1 for a daily model, in days).
  virtual double time_step() const = 0;

  // Simulates sample `sample` of a run with seed `seed` (randomness such as generated weather
  // is keyed on both) with parameters p, writing states (times.size() x num_states(),
  // row-major) on `times`. Thread-safe: const, no shared mutable state.
  virtual Result simulate(const double* p, std::uint64_t seed, std::uint64_t sample, const std::vector<double>& times,
                          double* states) const = 0;

  void initial_state(const double* p, double* y0) const final;
  void initial_state_jacobian(const double* p, double* jac) const final;
  void rhs(double t, const double* y, const double* p, double* dydt) const final;
  void jacobian(double t, const double* y, const double* p, double* jac) const final;
  void parameter_jacobian(double t, const double* y, const double* p, double* jac) const final;
};

}  // namespace physynth::core
