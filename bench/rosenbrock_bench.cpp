// Rodas5P and the NDF against CVODES and Boost.Odeint's rosenbrock4 (a C++ peer a user would otherwise
// reach for: Kaps-Rentrop order 4, ublas matrices, dense output), integrator against integrator,
// on the kinetics example scenarios: the same model, Jacobian, sampled parameters (the
// scenario's first samples), output grid and tolerances (odeint takes one atol: the smallest of
// the scenario's), one thread. Prints one JSON object per scenario: trajectories per second of
// each, and the largest global error of each against CVODES at 10^4 times tighter tolerances,
// in units of the tolerance asked for (atol + rtol |y|).
//
//   rosenbrock_bench SCENARIO_DIR [SAMPLES] [NAME...]   (NAME: michaelis_menten, reversible_binding,
//                                                          robertson; default all three)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <boost/numeric/odeint.hpp>
#include <nlohmann/json.hpp>

#include "physynth/engine/run.h"
#include "physynth/engine/scenario.h"
#include "physynth/solvers/ode_solver.h"
#include "physynth/solvers/ndf.h"
#include "physynth/solvers/rosenbrock.h"
#include "physynth/solvers/rosenbrock_solver.h"

namespace {

using Clock = std::chrono::steady_clock;

template <int N, template <int> class Integrator>
double run_stiff(const physynth::core::Model& model, const physynth::solvers::RosenbrockOptions& o,
                 const std::vector<double>& params, std::size_t m, std::size_t samples,
                 const std::vector<double>& times, std::vector<double>& out, int* failed,
                 physynth::solvers::RosenbrockStats* stats) {
  const int n = static_cast<int>(model.num_states());
  Integrator<N> ros(n, o);
  std::vector<double> y0(static_cast<std::size_t>(n));
  const auto start = Clock::now();
  for (std::size_t s = 0; s < samples; ++s) {
    const double* p = params.data() + s * m;
    model.initial_state(p, y0.data());
    const auto r = ros.solve(physynth::solvers::ModelSystem<N>(model, p), times.front(), y0.data(), times,
                             out.data() + s * times.size() * static_cast<std::size_t>(n));
    *failed += r.status == physynth::solvers::RosenbrockStatus::kSuccess ? 0 : 1;
    stats->steps += r.stats.steps;
    stats->rejected += r.stats.rejected;
    stats->rhs_evals += r.stats.rhs_evals;
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Boost.Odeint's rosenbrock4 with its controller and dense output, integrate_times on the grid;
// the model's exact Jacobian; df/dt = 0 (the benchmark's models are autonomous).
double run_odeint(const physynth::core::Model& model, double rtol, double atol, const std::vector<double>& params,
                  std::size_t m, std::size_t samples, const std::vector<double>& times, std::vector<double>& out,
                  int* failed) {
  namespace odeint = boost::numeric::odeint;
  using Vector = boost::numeric::ublas::vector<double>;
  using Matrix = boost::numeric::ublas::matrix<double>;
  const std::size_t n = model.num_states();
  std::vector<double> jac(n * n);
  const auto start = Clock::now();
  for (std::size_t s = 0; s < samples; ++s) {
    const double* p = params.data() + s * m;
    Vector y(n);
    model.initial_state(p, &y[0]);
    auto rhs = [&](const Vector& x, Vector& dxdt, double t) { model.rhs(t, &x[0], p, &dxdt[0]); };
    auto jacobian = [&](const Vector& x, Matrix& J, double t, Vector& dfdt) {
      model.jacobian(t, &x[0], p, jac.data());
      for (std::size_t i = 0; i < n; ++i) {
        dfdt[i] = 0.0;
        for (std::size_t j = 0; j < n; ++j) J(i, j) = jac[i + n * j];
      }
    };
    std::size_t row = 0;
    double* o = out.data() + s * times.size() * n;
    try {
      odeint::integrate_times(odeint::make_dense_output(atol, rtol, odeint::rosenbrock4<double>()),
                              std::make_pair(rhs, jacobian), y, times.begin(), times.end(),
                              (times[1] - times[0]) * 1e-6, [&](const Vector& x, double) {
                                for (std::size_t i = 0; i < n; ++i) o[row * n + i] = x[i];
                                ++row;
                              });
    } catch (const std::exception&) {
      ++*failed;
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Rodas5P or the NDF on core::kLanes samples stepped together (rodas5p_lanes.h, ndf_lanes.h,
// what the engine runs where it can): seconds, and whether every number equals the one-sample
// solver's (`one`) bit for bit.
double run_lanes(const physynth::core::Model& model, const physynth::solvers::RosenbrockOptions& o,
                 const std::vector<double>& params, std::size_t m, std::size_t samples,
                 const std::vector<double>& times, const std::vector<double>& one, bool* identical,
                 physynth::solvers::StiffFormula formula) {
  namespace solvers = physynth::solvers;
  const std::size_t n = model.num_states(), T = times.size();
  std::vector<double> out(one.size()), y0(samples * n);
  std::vector<solvers::RosenbrockResult> results(samples);
  std::vector<solvers::LaneSample> batch(samples);
  solvers::RosenbrockSolver ros(static_cast<int>(n), o, formula);
  const auto start = Clock::now();
  for (std::size_t s = 0; s < samples; ++s) {
    model.initial_state(&params[s * m], &y0[s * n]);
    batch[s] = {&params[s * m], &y0[s * n], &out[s * T * n], &results[s]};
  }
  ros.solve_lanes(model, times.front(), times, batch.data(), samples);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  *identical = std::equal(out.begin(), out.end(), one.begin(),
                          [](double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; });
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace physynth;
  if (argc < 2) {
    std::cerr << "usage: rosenbrock_bench SCENARIO_DIR [SAMPLES] [NAME...]\n";
    return 2;
  }
  const std::size_t samples = argc > 2 ? std::stoul(argv[2]) : 2000;
  std::vector<std::string> names{"michaelis_menten", "reversible_binding", "robertson"};
  if (argc > 3) names.assign(argv + 3, argv + argc);
  for (const std::string& name : names) {
    core::Diagnostics d;
    auto s = engine::load_scenario(std::string(argv[1]) + "/" + name + ".yaml",
                                   {"sampling.samples=" + std::to_string(samples), "solver.sensitivities=[]"}, d);
    if (!s) {
      std::cerr << d.report();
      return 2;
    }
    const core::Model& model = *s->model.model;
    const std::size_t n = model.num_states(), m = model.num_parameters(), T = s->times.size();
    // The scenario's sampled parameters, as a run draws them.
    engine::ShardGenerator gen(*s, 1);
    const engine::Shard shard = gen.samples(0, samples);
    // CVODES as the engine configures it.
    solvers::OdeOptions co;
    co.rtol = s->solver.rtol;
    co.atol = s->solver.atol;
    co.atol_per_state = s->solver.atol_per_state;
    co.max_steps = s->solver.max_steps;
    solvers::OdeSolver cvodes(s->model.model, co);
    std::vector<double> ref(samples * T * n), out(samples * T * n), y0(n);
    int cv_failed = 0;
    auto start = Clock::now();
    for (std::size_t k = 0; k < samples; ++k) {
      const double* p = shard.parameters.data() + k * m;
      model.initial_state(p, y0.data());
      const auto r = cvodes.solve(p, y0.data(), s->times.front(), s->times, ref.data() + k * T * n);
      cv_failed += r.status == solvers::SolveStatus::kFailed ? 1 : 0;
    }
    const double cv_s = std::chrono::duration<double>(Clock::now() - start).count();
    const solvers::RosenbrockOptions ro = solvers::rosenbrock_options(co);
    int ros_failed = 0;
    double ros_s = 0.0;
    solvers::RosenbrockStats ros_stats;
    std::vector<double> ndf_out(samples * T * n);
    int ndf_failed = 0;
    double ndf_s = 0.0;
    solvers::RosenbrockStats ndf_stats;
    if (n == 3) {
      ros_s = run_stiff<3, solvers::Rodas5P>(model, ro, shard.parameters, m, samples, s->times, out, &ros_failed,
                                             &ros_stats);
      ndf_s = run_stiff<3, solvers::Ndf>(model, ro, shard.parameters, m, samples, s->times, ndf_out, &ndf_failed,
                                         &ndf_stats);
    } else if (n == 4) {
      ros_s = run_stiff<4, solvers::Rodas5P>(model, ro, shard.parameters, m, samples, s->times, out, &ros_failed,
                                             &ros_stats);
      ndf_s = run_stiff<4, solvers::Ndf>(model, ro, shard.parameters, m, samples, s->times, ndf_out, &ndf_failed,
                                         &ndf_stats);
    } else {
      ros_s = run_stiff<Eigen::Dynamic, solvers::Rodas5P>(model, ro, shard.parameters, m, samples, s->times, out,
                                                          &ros_failed, &ros_stats);
      ndf_s = run_stiff<Eigen::Dynamic, solvers::Ndf>(model, ro, shard.parameters, m, samples, s->times, ndf_out,
                                                      &ndf_failed, &ndf_stats);
    }
    const double smallest_atol =
        co.atol_per_state.empty() ? co.atol : *std::min_element(co.atol_per_state.begin(), co.atol_per_state.end());
    std::vector<double> odeint_out(samples * T * n);
    int odeint_failed = 0;
    const double odeint_s =
        run_odeint(model, co.rtol, smallest_atol, shard.parameters, m, samples, s->times, odeint_out, &odeint_failed);
    // Several samples stepped together, where the model evaluates on lanes; then the one-sample
    // solver again, for its rate on the same warm machine.
    nlohmann::json lanes, ndf_lanes;
    if (model.has_lane_rhs() && n <= 8) {
      bool same = false, ndf_same = false;
      const double lanes_s =
          run_lanes(model, ro, shard.parameters, m, samples, s->times, out, &same, solvers::StiffFormula::kRodas5P);
      const double ndf_lanes_s =
          run_lanes(model, ro, shard.parameters, m, samples, s->times, ndf_out, &ndf_same, solvers::StiffFormula::kNdf);
      std::vector<double> again(out.size());
      int f = 0;
      solvers::RosenbrockStats st;
      const double again_s =
          n == 3   ? run_stiff<3, solvers::Rodas5P>(model, ro, shard.parameters, m, samples, s->times, again, &f, &st)
          : n == 4 ? run_stiff<4, solvers::Rodas5P>(model, ro, shard.parameters, m, samples, s->times, again, &f, &st)
                   : run_stiff<Eigen::Dynamic, solvers::Rodas5P>(model, ro, shard.parameters, m, samples, s->times,
                                                                 again, &f, &st);
      lanes = {{"lanes", core::kLanes},
               {"traj_per_s", samples / lanes_s},
               {"one_sample_again_traj_per_s", samples / again_s},
               {"bitwise_equal_to_one_sample", same},
               {"speed_up_over_odeint", odeint_s / lanes_s}};
      ndf_lanes = {
          {"lanes", core::kLanes}, {"traj_per_s", samples / ndf_lanes_s}, {"bitwise_equal_to_one_sample", ndf_same}};
    }
    // Each against a reference: CVODES at tolerances 10^4 times tighter.
    solvers::OdeOptions to = co;
    to.rtol *= 1e-4;
    to.atol *= 1e-4;
    for (auto& a : to.atol_per_state) a *= 1e-4;
    to.max_steps *= 100;
    solvers::OdeSolver tight(s->model.model, to);
    std::vector<double> exact(samples * T * n);
    for (std::size_t k = 0; k < samples; ++k) {
      const double* p = shard.parameters.data() + k * m;
      model.initial_state(p, y0.data());
      tight.solve(p, y0.data(), s->times.front(), s->times, exact.data() + k * T * n);
    }
    // The largest global error of each, in units of the tolerance asked for (atol + rtol |y|).
    const auto worst_of = [&](const std::vector<double>& v) {
      double w = 0.0;
      for (std::size_t i = 0; i < v.size(); ++i) {
        const double atol = co.atol_per_state.empty() ? co.atol : co.atol_per_state[i % n];
        w = std::max(w, std::abs(v[i] - exact[i]) / (atol + co.rtol * std::abs(exact[i])));
      }
      return w;
    };
    const nlohmann::json j = {
        {"scenario", name},
        {"samples", samples},
        {"states", n},
        {"output_times", T},
        {"rtol", co.rtol},
        {"cvodes_traj_per_s", samples / cv_s},
        {"rodas5p_traj_per_s", samples / ros_s},
        {"odeint_rosenbrock4_traj_per_s", samples / odeint_s},
        {"speed_up", cv_s / ros_s},
        {"cvodes_steps_per_traj", static_cast<double>(cvodes.steps_taken()) / samples},
        {"rodas5p_steps_per_traj", static_cast<double>(ros_stats.steps) / samples},
        {"rodas5p_rejected_per_traj", static_cast<double>(ros_stats.rejected) / samples},
        {"ndf_traj_per_s", samples / ndf_s},
        {"ndf_steps_per_traj", static_cast<double>(ndf_stats.steps) / samples},
        {"ndf_rhs_evals_per_traj", static_cast<double>(ndf_stats.rhs_evals) / samples},
        {"ndf_max_error_in_tolerances", worst_of(ndf_out)},
        {"speed_up_over_odeint", odeint_s / ros_s},
        {"failed", {{"cvodes", cv_failed}, {"rodas5p", ros_failed}, {"ndf", ndf_failed}, {"odeint", odeint_failed}}},
        {"cvodes_max_error_in_tolerances", worst_of(ref)},
        {"rodas5p_max_error_in_tolerances", worst_of(out)},
        {"odeint_max_error_in_tolerances", worst_of(odeint_out)},
        {"rodas5p_lanes", lanes},
        {"ndf_lanes", ndf_lanes}};
    std::cout << j.dump() << std::endl;
  }
  return 0;
}
