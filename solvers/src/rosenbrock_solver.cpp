#include "physynth/solvers/rosenbrock_solver.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "stiff_solver_impl.h"

namespace physynth::solvers {

namespace {

template <int N>
struct Fixed final : RosenbrockSolver::Impl {
  Fixed(int n, RosenbrockOptions o) : rodas(n, o), options(std::move(o)) {}
  RosenbrockResult solve(const core::Model& model, const double* p, double t0, const double* y0,
                         const std::vector<double>& times, double* out, const std::vector<Event>& events,
                         const std::vector<int>& columns, const RosenbrockSensitivities& sens) override {
    return rodas.solve(ModelSystem<N>(model, p, model.is_autonomous(), &columns), t0, y0, times, out, events, p, sens);
  }
  bool solve_lanes(const core::Model& model, double t0, const std::vector<double>& times, const LaneSample* samples,
                   std::size_t count, const std::vector<Event>& events) override {
    return lanes.solve(options, model, t0, times, samples, count, events);
  }
  Rodas5P<N> rodas;
  RosenbrockOptions options;
  detail::OnLanes<Rodas5PLanes, N> lanes;
};

std::unique_ptr<RosenbrockSolver::Impl> make(int n, RosenbrockOptions o, StiffFormula formula) {
  if (formula == StiffFormula::kNdf) return detail::make_ndf(n, std::move(o));
  return detail::make_sized<Fixed>(n, std::move(o), std::make_integer_sequence<int, kRosenbrockFixedStates>{});
}

}  // namespace

RosenbrockSolver::RosenbrockSolver(int states, RosenbrockOptions options, StiffFormula formula)
    : states_(states), formula_(formula), impl_(make(states, std::move(options), formula)) {}
RosenbrockSolver::~RosenbrockSolver() = default;
RosenbrockSolver::RosenbrockSolver(RosenbrockSolver&&) noexcept = default;
RosenbrockSolver& RosenbrockSolver::operator=(RosenbrockSolver&&) noexcept = default;

RosenbrockResult RosenbrockSolver::solve(const core::Model& model, const double* p, double t0, const double* y0,
                                         const std::vector<double>& times, double* out,
                                         const std::vector<Event>& events,
                                         const std::vector<int>& sensitivity_parameters,
                                         const double* initial_sensitivities, double* sensitivities) {
  RosenbrockSensitivities sens;
  const std::size_t n = model.num_states(), K = sensitivity_parameters.size();
  if (K > 0 && formula_ == StiffFormula::kNdf)
    throw std::invalid_argument("RosenbrockSolver::solve: the NDF computes no sensitivities; use Rodas5P");
  if (K > 0) {
    if (!sensitivities)
      throw std::invalid_argument("RosenbrockSolver::solve: sensitivities asked for without a buffer");
    for (int c : sensitivity_parameters)
      if (c < 0 || static_cast<std::size_t>(c) >= model.num_parameters())
        throw std::invalid_argument("RosenbrockSolver::solve: sensitivity parameter index " + std::to_string(c) +
                                    " is out of range (the model has " + std::to_string(model.num_parameters()) +
                                    " parameters)");
    sens.count = static_cast<int>(K);
    sens.out = sensitivities;
    if (initial_sensitivities) {
      sens.initial = initial_sensitivities;
    } else {
      // dy0/dp from the model, the sensitivity parameters' columns.
      initial_.assign(n * model.num_parameters(), 0.0);
      model.initial_state_jacobian(p, initial_.data());
      columns_.resize(n * K);
      for (std::size_t k = 0; k < K; ++k)
        std::copy_n(&initial_[n * static_cast<std::size_t>(sensitivity_parameters[k])], n, &columns_[n * k]);
      sens.initial = columns_.data();
    }
  }
  return impl_->solve(model, p, t0, y0, times, out, events, sensitivity_parameters, sens);
}

bool RosenbrockSolver::can_solve_lanes(const core::Model& model) const {
  return states_ >= 1 && states_ <= kRosenbrockFixedStates && model.has_lane_rhs();
}

void RosenbrockSolver::solve_lanes(const core::Model& model, double t0, const std::vector<double>& times,
                                   const LaneSample* samples, std::size_t count, const std::vector<Event>& events) {
  if (!can_solve_lanes(model) || !impl_->solve_lanes(model, t0, times, samples, count, events))
    throw std::invalid_argument("RosenbrockSolver::solve_lanes: not for this model or integrator (can_solve_lanes)");
}

}  // namespace physynth::solvers
