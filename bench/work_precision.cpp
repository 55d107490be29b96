// Work-precision data: time per trajectory against the error reached, for CVODES (BDF), Rodas5P
// and the NDF over a range of tolerances, on the kinetics scenarios' own models, parameter samples
// and output grids (no events, no observations: the integrators alone, one thread).
//
// The error of a trajectory set is its largest |y - y_ref| / (|y_ref| + floor_i) over samples,
// outputs and states, y_ref from CVODES at rtol 1e-12 (and the scenario's atol scaled alike),
// floor_i = the scenario's atol_i / rtol (below it a state counts as 0 in the scenario's own
// terms). Tolerance k: rtol_k and atol_i scaled from the scenario's by rtol_k / rtol.
//
//   work_precision SCENARIO_DIR OUT_DIR [SAMPLES]
// prints one JSON object per (scenario, integrator, rtol) and writes OUT_DIR/<scenario>.json
// (parameters, times, reference, floors) for bench/work_precision.py, which adds SciPy's LSODA.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/engine/run.h"
#include "physynth/engine/scenario.h"
#include "physynth/solvers/ode_solver.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace physynth;

solvers::OdeOptions scaled(const solvers::OdeOptions& base, double rtol, solvers::Method method) {
  solvers::OdeOptions o = base;
  o.method = method;
  o.sensitivity_parameters.clear();
  o.linear_solver = solvers::LinearSolverKind::kDense;
  o.max_order = 0;
  o.rtol = rtol;
  o.atol = base.atol * rtol / base.rtol;
  for (auto& a : o.atol_per_state) a *= rtol / base.rtol;
  o.max_steps = std::max<long>(base.max_steps, 1000000);
  return o;
}

// Solves every sample (repeated until 0.3 s have passed); seconds per trajectory, or -1 if any
// sample failed.
double solve_all(const core::BuiltModel& m, const solvers::OdeOptions& o, const std::vector<double>& params,
                 std::size_t samples, const std::vector<double>& times, std::vector<double>& out) {
  const std::size_t n = m.model->num_states(), p = m.model->num_parameters(), T = times.size();
  solvers::OdeSolver solver(m.model, o);
  std::vector<double> y0(n);
  const auto start = Clock::now();
  std::size_t done = 0;
  do {
    for (std::size_t k = 0; k < samples; ++k) {
      m.model->initial_state(&params[k * p], y0.data());
      const auto r = solver.solve(&params[k * p], y0.data(), times.front(), times, &out[k * T * n]);
      if (r.status != solvers::SolveStatus::kSuccess) return -1.0;
    }
    done += samples;
  } while (std::chrono::duration<double>(Clock::now() - start).count() < 0.3);
  return std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(done);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: work_precision SCENARIO_DIR OUT_DIR [SAMPLES]\n";
    return 2;
  }
  const std::string dir = argv[1], out_dir = argv[2];
  const std::size_t samples = argc > 3 ? std::stoul(argv[3]) : 100;
  for (const char* name : {"robertson", "michaelis_menten", "boehm_stat5"}) {
    core::Diagnostics d;
    auto s = engine::load_scenario(dir + "/" + name + ".yaml",
                                   {"sampling.samples=" + std::to_string(samples), "solver.sensitivities=[]"}, d);
    if (!s) {
      std::cerr << d.report();
      return 2;
    }
    const core::BuiltModel& m = s->model;
    const std::size_t n = m.model->num_states(), T = s->times.size();
    engine::ShardGenerator gen(*s, 1);
    const engine::Shard shard = gen.samples(0, samples);
    std::vector<double> ref(samples * T * n), y(samples * T * n);
    if (solve_all(m, scaled(s->solver, 1e-12, solvers::Method::kBdf), shard.parameters, samples, s->times, ref) < 0) {
      std::cerr << name << ": the reference solve failed\n";
      return 1;
    }
    std::vector<double> floor(n);
    for (std::size_t i = 0; i < n; ++i)
      floor[i] = (s->solver.atol_per_state.empty() ? s->solver.atol : s->solver.atol_per_state[i]) / s->solver.rtol;
    const auto error_of = [&](const std::vector<double>& v) {
      double worst = 0.0;
      for (std::size_t k = 0; k < v.size(); ++k)
        worst = std::max(worst, std::abs(v[k] - ref[k]) / (std::abs(ref[k]) + floor[k % n]));
      return worst;
    };
    for (double rtol : {1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10})
      for (auto method : {solvers::Method::kBdf, solvers::Method::kRosenbrock, solvers::Method::kNdf}) {
        const double seconds = solve_all(m, scaled(s->solver, rtol, method), shard.parameters, samples, s->times, y);
        nlohmann::json j = {{"scenario", name},
                            {"integrator", method == solvers::Method::kBdf          ? "CVODES BDF"
                                           : method == solvers::Method::kRosenbrock ? "Rodas5P"
                                                                                    : "NDF"},
                            {"rtol", rtol},
                            {"states", n},
                            {"samples", samples}};
        if (seconds < 0) {
          j["failed"] = true;
        } else {
          j["seconds_per_trajectory"] = seconds;
          j["error"] = error_of(y);
        }
        std::cout << j.dump() << std::endl;
      }
    const nlohmann::json data = {
        {"scenario", name},
        {"file", s->file},
        {"parameters", shard.parameters},
        {"times", s->times},
        {"reference", ref},
        {"floor", floor},
        {"rtol", s->solver.rtol},
        {"atol", s->solver.atol_per_state.empty() ? std::vector<double>(n, s->solver.atol) : s->solver.atol_per_state}};
    std::ofstream(out_dir + "/" + name + ".json") << data.dump();
  }
  return 0;
}
