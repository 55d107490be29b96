// Rodas5P, or the NDF (ndf.h), on a core::Model, with the state count fixed at compile time
// where it is small.
//
// Rodas5P<N> (rosenbrock.h) unrolls its stages, LU and dense output for a fixed N; the
// engine knows the state count only at run time. RosenbrockSolver picks the instantiation
// once, at construction: fixed-size code for 1 to kRosenbrockFixedStates states, the
// dynamic-size variant above. Same results as Rodas5P<Eigen::Dynamic> up to rounding (the
// same arithmetic in a different order), and the same RosenbrockResult.
#pragma once

#include <memory>
#include <vector>

#include "physynth/core/model.h"
#include "physynth/solvers/ode_solver.h"
#include "physynth/solvers/rodas5p_lanes.h"
#include "physynth/solvers/rosenbrock.h"

namespace physynth::solvers {

inline constexpr int kRosenbrockFixedStates = 8;

// The tolerances, step budget and step sizes of a CVODES configuration, for Rodas5P.
inline RosenbrockOptions rosenbrock_options(const OdeOptions& o) {
  RosenbrockOptions r;
  r.rtol = o.rtol;
  r.atol = o.atol;
  r.atol_per_state = o.atol_per_state;
  r.max_steps = o.max_steps;
  r.max_step_size = o.max_step_size;
  r.initial_step_size = o.initial_step_size;
  return r;
}

// The small dense stiff integrators: Rodas5P (one step, 8 stages; sensitivities) or the NDF
// (multistep, orders 1-5; no sensitivities).
enum class StiffFormula { kRodas5P, kNdf };

class RosenbrockSolver {
 public:
  RosenbrockSolver(int states, RosenbrockOptions options, StiffFormula formula = StiffFormula::kRodas5P);
  ~RosenbrockSolver();
  RosenbrockSolver(RosenbrockSolver&&) noexcept;
  RosenbrockSolver& operator=(RosenbrockSolver&&) noexcept;

  // The model with parameters p from (t0, y0) through `times`, as Rodas5P<N>::solve does; df/dt
  // is 0 without evaluating it for an autonomous model (Model::is_autonomous). With
  // sensitivity_parameters (model parameter indices), forward sensitivities to them go to
  // `sensitivities` (times.size() x K x n), starting from initial_sensitivities (n x K,
  // column-major; null: dy0/dp from the model's initial_state_jacobian).
  RosenbrockResult solve(const core::Model& model, const double* p, double t0, const double* y0,
                         const std::vector<double>& times, double* out, const std::vector<Event>& events = {},
                         const std::vector<int>& sensitivity_parameters = {},
                         const double* initial_sensitivities = nullptr, double* sensitivities = nullptr);

  // Several samples stepped together (rodas5p_lanes.h, ndf_lanes.h), each sample's rows and
  // result bit for bit what solve() gives it without sensitivities: at a fixed size and for a
  // model with a lane right-hand side (Model::has_lane_rhs).
  bool can_solve_lanes(const core::Model& model) const;
  void solve_lanes(const core::Model& model, double t0, const std::vector<double>& times, const LaneSample* samples,
                   std::size_t count, const std::vector<Event>& events = {});

  int states() const { return states_; }
  StiffFormula formula() const { return formula_; }

  struct Impl;

 private:
  int states_;
  StiffFormula formula_;
  std::unique_ptr<Impl> impl_;
  std::vector<double> initial_, columns_;  // scratch: dy0/dp
};

}  // namespace physynth::solvers
