// RosenbrockSolver's implementations (internal to physynth::solvers): one per integrator and
// state count, made once at construction. Rodas5P's instantiations live in rosenbrock_solver.cpp,
// the NDF's in ndf_solver.cpp, so that the two heavy files compile side by side.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "physynth/solvers/rodas5p_lanes.h"
#include "physynth/solvers/rosenbrock_solver.h"

namespace physynth::solvers {

struct RosenbrockSolver::Impl {
  virtual ~Impl() = default;
  virtual RosenbrockResult solve(const core::Model& model, const double* p, double t0, const double* y0,
                                 const std::vector<double>& times, double* out, const std::vector<Event>& events,
                                 const std::vector<int>& columns, const RosenbrockSensitivities& sens) = 0;
  // Several samples stepped together (rodas5p_lanes.h, ndf_lanes.h); false where there is no
  // such variant (the dynamic size).
  virtual bool solve_lanes(const core::Model& /*model*/, double /*t0*/, const std::vector<double>& /*times*/,
                           const LaneSample* /*samples*/, std::size_t /*count*/, const std::vector<Event>& /*events*/) {
    return false;
  }
};

namespace detail {

// Solver<N + 1> for n = N + 1 among the fixed sizes, Solver<Eigen::Dynamic> otherwise.
template <template <int> class Solver, int... N>
std::unique_ptr<RosenbrockSolver::Impl> make_sized(int n, RosenbrockOptions o, std::integer_sequence<int, N...>) {
  std::unique_ptr<RosenbrockSolver::Impl> impl;
  ((n == N + 1 ? (impl = std::make_unique<Solver<N + 1>>(n, o), 0) : 0), ...);
  if (!impl) impl = std::make_unique<Solver<Eigen::Dynamic>>(n, std::move(o));
  return impl;
}

// An integrator's variant on lanes (Rodas5PLanes, NdfLanes) behind Impl::solve_lanes: made on
// first use; none at the dynamic size.
template <template <int> class Lanes, int N>
struct OnLanes {
  bool solve(const RosenbrockOptions& options, const core::Model& model, double t0, const std::vector<double>& times,
             const LaneSample* samples, std::size_t count, const std::vector<Event>& events) {
    if constexpr (N == Eigen::Dynamic) {
      return false;
    } else {
      if (!lanes) lanes.emplace(options);
      lanes->solve(model, t0, times, samples, count, events);
      return true;
    }
  }
  std::optional<Lanes<N == Eigen::Dynamic ? 1 : N>> lanes;
};

// The NDF for n states (ndf_solver.cpp).
std::unique_ptr<RosenbrockSolver::Impl> make_ndf(int n, RosenbrockOptions o);

}  // namespace detail
}  // namespace physynth::solvers
