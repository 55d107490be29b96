// The NDF's instantiations behind RosenbrockSolver (StiffFormula::kNdf), one per fixed state
// count and the dynamic size.
#include "physynth/solvers/ndf.h"
#include "physynth/solvers/ndf_lanes.h"
#include "stiff_solver_impl.h"

namespace physynth::solvers::detail {

namespace {
template <int N>
struct FixedNdf final : RosenbrockSolver::Impl {
  FixedNdf(int n, RosenbrockOptions o) : ndf(n, o), options(std::move(o)) {}
  RosenbrockResult solve(const core::Model& model, const double* p, double t0, const double* y0,
                         const std::vector<double>& times, double* out, const std::vector<Event>& events,
                         const std::vector<int>& /*columns*/, const RosenbrockSensitivities& /*sens*/) override {
    return ndf.solve(ModelSystem<N>(model, p, model.is_autonomous()), t0, y0, times, out, events, p);
  }
  bool solve_lanes(const core::Model& model, double t0, const std::vector<double>& times, const LaneSample* samples,
                   std::size_t count, const std::vector<Event>& events) override {
    return lanes.solve(options, model, t0, times, samples, count, events);
  }
  Ndf<N> ndf;
  RosenbrockOptions options;
  OnLanes<NdfLanes, N> lanes;
};

}  // namespace

std::unique_ptr<RosenbrockSolver::Impl> make_ndf(int n, RosenbrockOptions o) {
  return make_sized<FixedNdf>(n, std::move(o), std::make_integer_sequence<int, kRosenbrockFixedStates>{});
}

}  // namespace physynth::solvers::detail
