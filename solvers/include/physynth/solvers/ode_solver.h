// Integrating a core::Model with SUNDIALS CVODES.
//
// One OdeSolver owns one CVODES instance (created on the first solve, then
// reused with CVodeReInit for every later sample: no allocation per sample).
// It is not thread-safe; the engine keeps one per thread. SUNDIALS types stay
// in the implementation: this header needs nothing but the standard library.
//
//   OdeOptions options;                     // BDF + Newton + dense LU by default
//   options.rtol = 1e-8;
//   OdeSolver solver(model, options);
//   SolveResult r = solver.solve(p, y0, 0.0, times, out);
//   if (r.status == SolveStatus::kFailed) ... r.flag_name, r.t_reached ...
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "physynth/core/model.h"

namespace physynth::solvers {

enum class Method {
  kBdf,         // CVODES: variable-order BDF (1-5), Newton iteration: stiff problems
  kAdams,       // CVODES: Adams-Moulton (1-12), fixed-point iteration: non-stiff problems
  kRosenbrock,  // Rodas5P (rosenbrock.h): small dense stiff systems, events, jumps, sensitivities
  kNdf,         // NDF orders 1-5 (ndf.h): small dense stiff systems at tight tolerances; events, jumps
};
enum class LinearSolverKind {
  kDense,  // dense LU (SUNDIALS' own)
  kKlu,    // sparse LU (SuiteSparse KLU) on the model's Jacobian sparsity pattern
};

const char* method_name(Method m);
// The method for the same solves with sensitivities: the NDF computes none, so Rodas5P (which
// solves the same small dense systems) takes them; any other method is its own.
inline Method with_sensitivities(Method m) { return m == Method::kNdf ? Method::kRosenbrock : m; }
const char* linear_solver_name(LinearSolverKind k);

// Whether CVODES should factorise `model`'s Newton matrices sparsely (KLU): at least
// kSparseStates states and a Jacobian pattern (Model::jacobian_sparsity) at most a fifth full.
inline constexpr std::size_t kSparseStates = 100;
bool sparse_pays(const core::Model& model);

struct OdeOptions {
  Method method = Method::kBdf;
  LinearSolverKind linear_solver = LinearSolverKind::kDense;  // ignored for kAdams and kRosenbrock
  double rtol = 1e-6;                                         // relative tolerance, > 0
  double atol = 1e-10;                                        // absolute tolerance for every state, > 0
  std::vector<double> atol_per_state;                         // if not empty: one absolute tolerance per state
  long max_steps = 100000;         // internal steps per sample, all output intervals together
  double max_step_size = 0.0;      // largest step, in model time units; 0: unlimited
  double initial_step_size = 0.0;  // first step; 0: CVODES estimates it
  int max_order = 0;               // 0: the method's maximum (5 BDF, 12 Adams; Rodas5P and NDF: none other)
  // kRosenbrock: solve_many() steps samples together where it can (the same numbers, faster);
  // false: one at a time (for comparison).
  bool lanes = true;
  // Forward sensitivities dy/dp_k for these parameter indices (empty: none).
  // Their right-hand side J s_k + df/dp_k uses the model's exact Jacobians;
  // they take part in the error test, with tolerances scaled from rtol/atol.
  std::vector<int> sensitivity_parameters;

  // Every violated constraint, as "field must ..., got ..." messages; empty if valid.
  std::vector<std::string> validate(std::size_t num_states) const;
};

// A root function g(t, y, p); the event fires where g crosses zero.
struct Event {
  std::string name;
  std::function<double(double t, const double* y, const double* p)> function;
  int direction = 0;      // +1: only rising crossings, -1: only falling, 0: both
  bool terminal = false;  // true: stop the integration at the event
};

struct SolverStats {
  long steps = 0;
  long rhs_evals = 0;
  long jacobian_evals = 0;
  long linear_setups = 0;
  long error_test_failures = 0;
  long nonlinear_iterations = 0;
  long nonlinear_convergence_failures = 0;
  long root_evals = 0;

  static constexpr std::size_t kCount = 8;
  static const std::array<const char*, kCount>& names();
  std::array<long, kCount> values() const;
};

enum class SolveStatus {
  kSuccess,         // every output time reached
  kStoppedByEvent,  // a terminal event fired; later rows are NaN
  kFailed,          // the solver failed; later rows are NaN
};
const char* status_name(SolveStatus s);

struct EventOccurrence {
  int event = -1;  // index into the events given to the solver
  double t = 0.0;
};

struct SolveResult {
  SolveStatus status = SolveStatus::kSuccess;
  double t_reached = 0.0;        // last time the integrator reached
  std::size_t rows_written = 0;  // output rows holding states (the rest are NaN)
  int flag = 0;                  // CVODES return flag of the failing call (0 on success)
  std::string flag_name;         // CVodeGetReturnFlagName(flag), e.g. "CV_TOO_MUCH_WORK"
  std::string message;           // SUNDIALS' own message for the failure, if any
  SolverStats stats;
  std::vector<EventOccurrence> events;
  std::vector<double> final_state;  // y(t_reached); empty if the solve failed before its first step
};

// The SUNDIALS version this library was built with, e.g. "6.4.1".
std::string sundials_version();

class OdeSolver {
 public:
  // Throws std::invalid_argument if options.validate() reports a problem
  // (user input is validated before it reaches here).
  OdeSolver(std::shared_ptr<const core::Model> model, OdeOptions options, std::vector<Event> events = {});
  ~OdeSolver();
  OdeSolver(OdeSolver&&) noexcept;
  OdeSolver& operator=(OdeSolver&&) noexcept;
  OdeSolver(const OdeSolver&) = delete;
  OdeSolver& operator=(const OdeSolver&) = delete;

  // Integrates from (t0, y0) with parameters p and writes the states at each
  // of `times` (non-decreasing, times[0] >= t0) to out, row-major
  // times.size() x num_states. Never throws for numerical failure: it is
  // reported in the result, and rows not reached are NaN.
  //
  // With options.sensitivity_parameters set, also writes dy/dp_k to
  // `sensitivities`: times.size() x K x num_states (time, parameter, state),
  // starting from the model's dy0/dp at t0.
  //
  // The model's jumps (Model::jump_times) in (t0, times.back()] are applied on
  // the way, restarting CVODES after each; one at t0 too unless jumps_at_start
  // is false (a solve that continues another one from t0). Sensitivities do
  // not cross jumps: such a solve fails with JUMPS_WITH_SENSITIVITIES. At the
  // model's switches (Model::switch_times: the right-hand side changes, the
  // state does not) the integrator stops and restarts too, with the state and
  // its sensitivities carried on (a switch time moved by a sensitivity
  // parameter adds a term they do not have: (f before - f after) dT/dp).
  //
  // initial_sensitivities (K x num_states, parameter-major), when given, replace dy0/dp at t0: a
  // solve that starts from a state reached otherwise (a steady state) carries its sensitivities.
  SolveResult solve(const double* p, const double* y0, double t0, const std::vector<double>& times, double* out,
                    double* sensitivities = nullptr, bool jumps_at_start = true,
                    const double* initial_sensitivities = nullptr);

  // Several samples, each exactly as solve(p_k, y0_k, t0, times, out_k) gives it, bit for bit:
  // sample k's parameters at p + k m, initial state at y0 + k n, rows at out + k T n (T =
  // times.size()), result in results[k]. Where steps_samples_together(), those without jumps
  // or switches in the span are stepped core::kLanes at a time (Rodas5P or the NDF on lanes,
  // rodas5p_lanes.h, ndf_lanes.h: SIMD across samples); the others, and every sample otherwise,
  // one by one.
  void solve_many(std::size_t count, const double* p, const double* y0, double t0, const std::vector<double>& times,
                  double* out, SolveResult* results);
  // Rodas5P or the NDF (method kRosenbrock or kNdf, options.lanes), no sensitivities, 1 to 8 states and
  // a model with a lane right-hand side (Model::has_lane_rhs) and no jumps (Model::has_jumps).
  bool steps_samples_together() const;

  // How many times solve() created CVODES memory (1 after any number of solves).
  int instances_created() const;
  // Integrator steps tried by every solve() so far (accepted, and rejected by the error test or
  // a failed Newton iteration): a deterministic measure of the work done.
  long steps_taken() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace physynth::solvers
