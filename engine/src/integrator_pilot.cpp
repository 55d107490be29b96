// solver.method auto, between the two small dense integrators: Rodas5P (one step, 8 stages)
// and the NDF (multistep, orders 1-5). Which takes less work depends on the problem more than
// on its size: on the Michaelis-Menten scenario (rtol 1e-8, a fast transient then a slow
// manifold) the NDF needs a third of Rodas5P's work, on Robertson (rtol 1e-6) and reversible
// binding Rodas5P wins. So auto solves the scenario's first samples with both and counts.
//
// The count is deterministic (the same scenario gives the same choice, on any thread or rank
// count; timing would not be): right-hand-side evaluations, plus each Jacobian as 4 of them
// (one Jet pass of 4 lanes), plus each step tried as the integrator's own work in the same
// unit, measured with `bench/rosenbrock_bench` on the kinetics scenarios (docs/PERFORMANCE.md,
// AMD EPYC, 2026-12-05; right-hand side 14-24 ns): a Rodas5P step's LU, eight back
// substitutions and stage sums cost about 17 evaluations, an NDF step's prediction, Newton
// iterations and differences about 10. Where the run will step Rodas5P's samples 4 at a time
// (OdeSolver::steps_samples_together, rodas5p_lanes.h), its work counts 0.62 of that: the lanes
// ran at 1.59-1.65 times the one-sample solver on the kinetics scenarios (docs/PERFORMANCE.md,
// Intel Xeon, 2026-12-05). The NDF's samples are then stepped together too (ndf_lanes.h), and
// its work counts 0.8: its lanes ran at 1.14-1.29 times its one-sample solver on the same
// scenarios (bench/rosenbrock_bench, AMD EPYC, 2026-12-06), where only the Newton iterations'
// arithmetic runs across the lanes and the rest of a step lane by lane. The NDF is chosen only
// when it needs at most 0.8 of Rodas5P's work (Rodas5P is the more accurate at equal tolerances
// and the one with sensitivities) and its solutions agree with Rodas5P's within 1000 tolerances.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "physynth/core/sampling.h"
#include "physynth/engine/run.h"
#include "physynth/solvers/ode_solver.h"
#include "scenario_readers.h"

namespace physynth::engine::detail {

namespace {
constexpr double kJacobianCost = 4.0, kRodasStepCost = 17.0, kNdfStepCost = 10.0, kNdfMustSave = 0.8;
constexpr double kLaneWork = 0.62;     // Rodas5P's work per sample with samples stepped together
constexpr double kNdfLaneWork = 0.8;   // the NDF's
constexpr double kAgreement = 1000.0;  // tolerances
constexpr std::size_t kPilotSamples = 4;

// The work of solving the scenario's first samples with `method` (its events too: a terminal
// one ends a solve, as in a run), in right-hand-side evaluations; negative if a solve failed.
// The solutions go to `out` (count x times x states).
double pilot_work(const Scenario& s, solvers::Method method, const std::vector<double>& params, std::size_t count,
                  std::vector<double>& out) {
  solvers::OdeOptions o = s.solver;
  o.method = method;
  o.sensitivity_parameters.clear();
  solvers::OdeSolver solver(s.model.model, o, scenario_events(s.events, s.model.model.get()));
  const core::Model& model = *s.model.model;
  const std::size_t n = model.num_states(), m = model.num_parameters();
  const std::size_t rows = s.times.size() * n;
  std::vector<double> y0(n);
  out.assign(count * rows, 0.0);
  double work = 0.0;
  for (std::size_t k = 0; k < count; ++k) {
    const double* p = params.data() + k * m;
    model.initial_state(p, y0.data());
    const auto r = solver.solve(p, y0.data(), s.times.front(), s.times, out.data() + k * rows);
    if (r.status == solvers::SolveStatus::kFailed) return -1.0;
    const double step_cost = method == solvers::Method::kNdf ? kNdfStepCost : kRodasStepCost;
    work += static_cast<double>(r.stats.rhs_evals) + kJacobianCost * static_cast<double>(r.stats.jacobian_evals) +
            step_cost * static_cast<double>(r.stats.steps + r.stats.error_test_failures);
  }
  return work;
}

std::string ratio_text(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", x);
  return buffer;
}
}  // namespace

std::string choose_stiff_formula(Scenario& s) {
  if (s.samples == 0 || s.times.size() < 2 || !s.solver.sensitivity_parameters.empty()) return {};
  const core::Model& model = *s.model.model;
  const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(kPilotSamples, s.samples));
  std::vector<core::Distribution> distributions;
  for (const auto& p : s.parameters) distributions.push_back(p.distribution);
  std::vector<double> params(count * model.num_parameters());
  try {
    core::Sampler(s.design, distributions, s.seed, s.samples).sample(0, count, params.data());
  } catch (const std::exception&) {
    return {};  // a design the pilot cannot draw from: Rodas5P, as before
  }
  std::vector<double> by_rodas, by_ndf;
  const double rodas = pilot_work(s, solvers::Method::kRosenbrock, params, count, by_rodas);
  const double ndf = pilot_work(s, solvers::Method::kNdf, params, count, by_ndf);
  const std::string first = "the first " + std::to_string(count) + (count == 1 ? " sample" : " samples");
  if (rodas < 0.0 || ndf < 0.0)
    return " (a solve of " + first + " failed with " + (rodas < 0.0 ? "Rodas5P" : "the NDF") + "; Rodas5P kept)";
  // The two must agree: a multistep method can go wrong where a one-step method does not (the
  // NDF, like CVODES, on Robertson at rtol 1e-4: B negative and growing). Their difference in
  // units of the tolerance (atol_i + rtol |y|); both solutions' own errors, measured against
  // tight references, are tens of tolerances at most on the example scenarios.
  const std::size_t n = model.num_states();
  double apart = 0.0;
  for (std::size_t k = 0; k < by_rodas.size(); ++k) {
    if (std::isnan(by_rodas[k]) && std::isnan(by_ndf[k])) continue;  // after a terminal event
    const double atol = s.solver.atol_per_state.empty() ? s.solver.atol : s.solver.atol_per_state[k % n];
    const double d = std::abs(by_ndf[k] - by_rodas[k]) / (atol + s.solver.rtol * std::abs(by_rodas[k]));
    apart = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(apart, d);
  }
  if (apart > kAgreement)
    return " (the NDF's solutions of " + first + " differ from Rodas5P's by " +
           (std::isfinite(apart) ? core::format_number(std::round(apart)) : std::string("a non-number")) +
           " tolerances; Rodas5P kept)";
  // Whether the run would step the samples together (engine/src/run.cpp, solve_together): the
  // same conditions for Rodas5P and the NDF.
  solvers::OdeOptions lane_options = s.solver;
  lane_options.method = solvers::Method::kRosenbrock;
  const bool lanes =
      !s.regimes.present && s.backend != Backend::kPinn &&
      solvers::OdeSolver(s.model.model, lane_options, scenario_events(s.events, &model)).steps_samples_together();
  const double rodas_cost = lanes ? kLaneWork * rodas : rodas, ndf_cost = lanes ? kNdfLaneWork * ndf : ndf;
  if (rodas > 0.0 && ndf_cost <= kNdfMustSave * rodas_cost) s.solver.method = solvers::Method::kNdf;
  std::string why = " (" + first + " solved with both: the NDF needs " + ratio_text(rodas > 0.0 ? ndf / rodas : 1.0) +
                    " of Rodas5P's work";
  if (lanes && rodas > 0.0) why += ", " + ratio_text(ndf_cost / rodas_cost) + " with each stepping 4 samples together";
  return why + ")";
}

}  // namespace physynth::engine::detail
