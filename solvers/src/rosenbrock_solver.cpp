#include "physynth/solvers/rosenbrock_solver.h"

#include <utility>

namespace physynth::solvers {

struct RosenbrockSolver::Impl {
  virtual ~Impl() = default;
  virtual RosenbrockResult solve(const core::Model& model, const double* p, double t0, const double* y0,
                                 const std::vector<double>& times, double* out, const std::vector<Event>& events) = 0;
};

namespace {

template <int N>
struct Fixed final : RosenbrockSolver::Impl {
  Fixed(int n, RosenbrockOptions o) : rodas(n, std::move(o)) {}
  RosenbrockResult solve(const core::Model& model, const double* p, double t0, const double* y0,
                         const std::vector<double>& times, double* out, const std::vector<Event>& events) override {
    return rodas.solve(ModelSystem<N>(model, p, model.is_autonomous()), t0, y0, times, out, events, p);
  }
  Rodas5P<N> rodas;
};

template <int... N>
std::unique_ptr<RosenbrockSolver::Impl> make(int n, RosenbrockOptions o, std::integer_sequence<int, N...>) {
  std::unique_ptr<RosenbrockSolver::Impl> impl;
  ((n == N + 1 ? (impl = std::make_unique<Fixed<N + 1>>(n, o), 0) : 0), ...);
  if (!impl) impl = std::make_unique<Fixed<Eigen::Dynamic>>(n, std::move(o));
  return impl;
}

}  // namespace

RosenbrockSolver::RosenbrockSolver(int states, RosenbrockOptions options)
    : states_(states), impl_(make(states, std::move(options), std::make_integer_sequence<int, kRosenbrockFixedStates>{})) {}
RosenbrockSolver::~RosenbrockSolver() = default;
RosenbrockSolver::RosenbrockSolver(RosenbrockSolver&&) noexcept = default;
RosenbrockSolver& RosenbrockSolver::operator=(RosenbrockSolver&&) noexcept = default;

RosenbrockResult RosenbrockSolver::solve(const core::Model& model, const double* p, double t0, const double* y0,
                                         const std::vector<double>& times, double* out,
                                         const std::vector<Event>& events) {
  return impl_->solve(model, p, t0, y0, times, out, events);
}

}  // namespace physynth::solvers
