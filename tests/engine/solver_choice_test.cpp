// solver.method auto (the default): Rodas5P for a small dense system it supports, CVODES
// otherwise, the choice and its reason in the resolved scenario (manifest.json); and what auto
// picks agrees with CVODES at tight tolerances within the tolerance asked for.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "physynth/engine/run.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {
std::string chosen(const std::string& file, const std::vector<std::string>& overrides = {}) {
  const auto s = testing::load_scenario(file.front() == '/' ? file : testing::repository_path(file), overrides);
  return s.resolved["solver"]["chosen"].get<std::string>() + " | " + s.resolved["solver"]["method"].get<std::string>();
}
}  // namespace

TEST_CASE(
    "solver choice: auto picks Rodas5P or the NDF for small dense systems and CVODES where they cannot follow, saying "
    "why") {
  // A pilot of the first samples with both (integrator_pilot.cpp): the NDF only where it needs
  // at most 0.8 of Rodas5P's work, the count in the reason.
  const auto picked = [](const std::string& reason, const std::string& start, const std::string& method) {
    INFO(reason);
    CHECK_THAT(reason, Catch::StartsWith(start));
    CHECK_THAT(reason, Catch::EndsWith(" | " + method));
  };
  const std::string pilot = " (the first 4 samples solved with both: the NDF needs ";
  picked(chosen("scenarios/kinetics/robertson.yaml"), "auto: Rodas5P, a small dense system (3 states)" + pilot,
         "rosenbrock");
  picked(chosen("scenarios/kinetics/boehm_stat5.yaml"), "auto: Rodas5P, a small dense system (8 states)" + pilot,
         "rosenbrock");
  // A fast transient, then a slow manifold at rtol 1e-8: the multistep method's case.
  picked(chosen("scenarios/kinetics/michaelis_menten.yaml"), "auto: NDF, a small dense system (4 states)" + pilot,
         "ndf");
  picked(chosen("scenarios/manufacturing/cmapss_style.yaml"), "auto: Rodas5P, a small dense system (2 states)" + pilot,
         "rosenbrock");
  // Sensitivities: Rodas5P, no pilot (the NDF has none).
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.sensitivities=[k1]"}) ==
        "auto: Rodas5P, a small dense system (3 states) | rosenbrock");
  CHECK(chosen("scenarios/kinetics/reversible_binding.yaml") ==
        "auto: Rodas5P, a small dense system (3 states) | rosenbrock");
  picked(chosen("scenarios/kinetics/enzyme_inhibition.yaml"), "auto: Rodas5P, a small dense system (6 states)" + pilot,
         "rosenbrock");
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.linear_solver=klu"}) ==
        "auto: CVODES BDF, solver.linear_solver: klu (sparse) is CVODES' | bdf");
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.method=bdf"}) == "bdf: asked for | bdf");
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.method=adams"}) == "adams: asked for | adams");
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.method=ndf"}) == "ndf: asked for | ndf");
  picked(chosen("scenarios/manufacturing/bearing_fleet.yaml"), "auto: Rodas5P, a small dense system (2 states)" + pilot,
         "rosenbrock");
  picked(chosen("scenarios/manufacturing/nasa_milling.yaml"), "auto: Rodas5P, a small dense system (1 state)" + pilot,
         "rosenbrock");
  // Where the samples are stepped 4 at a time Rodas5P's work counts 0.62 and the NDF's 0.8
  // (integrator_pilot.cpp): at rtol 1e-6 Michaelis-Menten's NDF needs 0.78 of Rodas5P's one-sample
  // work, 1.01 of it with both on lanes (measured through the engine on 4096 samples before the
  // NDF had lanes: 0.294 s with the NDF, 0.253 s with Rodas5P on lanes).
  picked(chosen("scenarios/kinetics/michaelis_menten.yaml", {"solver.rtol=1e-6", "solver.lanes=false"}),
         "auto: NDF, a small dense system (4 states)" + pilot, "ndf");
  const std::string on_lanes = chosen("scenarios/kinetics/michaelis_menten.yaml", {"solver.rtol=1e-6"});
  picked(on_lanes, "auto: Rodas5P, a small dense system (4 states)" + pilot, "rosenbrock");
  CHECK_THAT(on_lanes, Catch::Contains(" with each stepping 4 samples together)"));
}

TEST_CASE("solver choice: auto gives a large sparse network CVODES with KLU, unless the scenario names a linear solver") {
  const auto file = std::filesystem::path(PHYSYNTH_TEST_OUTPUT) / "solver_choice_chain.yaml";
  std::filesystem::create_directories(file.parent_path());
  std::string model = testing::catalysed_chain(150), indented;
  for (std::size_t at = 0, next; at < model.size(); at = next + 1) {
    next = model.find('\n', at);
    indented += "  " + model.substr(at, next - at) + "\n";
  }
  std::ofstream(file) << "name: chain\ndomain: kinetics\nmodel:\n" << indented
                      << "time: {start: 0, end: 10, points: 5}\nsampling: {samples: 2, seed: 1}\n";
  // E's row is empty but for its diagonal; A_i's reads A_i, A_{i-1}, A_{i+1} and E: 595 entries.
  CHECK(chosen(file.string()) ==
        "auto: CVODES BDF, 150 states, more than the 16 Rodas5P is chosen for; KLU (sparse): 595 of the Jacobian's "
        "22500 entries can be nonzero | bdf");
  const auto s = testing::load_scenario(file.string(), {});
  CHECK(s.solver.linear_solver == solvers::LinearSolverKind::kKlu);
  const auto dense = testing::load_scenario(file.string(), {"solver.linear_solver=dense"});
  CHECK(dense.solver.linear_solver == solvers::LinearSolverKind::kDense);
  CHECK(dense.resolved["solver"]["chosen"].get<std::string>() ==
        "auto: CVODES BDF, 150 states, more than the 16 Rodas5P is chosen for");
}

TEST_CASE("solver choice: rosenbrock refuses CVODES-only settings at load, naming them, dense is fine") {
  const auto refused = [](const std::vector<std::string>& overrides) {
    core::Diagnostics d;
    const auto s = engine::load_scenario(testing::repository_path("scenarios/kinetics/robertson.yaml"), overrides, d);
    return s ? std::string() : d.report();
  };
  CHECK_THAT(refused({"solver.method=rosenbrock", "solver.linear_solver=klu"}),
             Catch::Contains("solver.linear_solver: klu (sparse) is CVODES'"));
  CHECK_THAT(refused({"solver.method=rosenbrock", "solver.max_order=3"}),
             Catch::Contains("solver.max_order is a CVODES setting"));
  CHECK(refused({"solver.method=rosenbrock", "solver.linear_solver=dense"}).empty());
  CHECK_THAT(refused({"solver.method=ndf", "solver.sensitivities=[k1]"}),
             Catch::Contains("solver.method: ndf computes no sensitivities"));
  CHECK_THAT(refused({"solver.method=ndf", "solver.max_order=3"}),
             Catch::Contains("solver.max_order is a CVODES setting (the NDF chooses its orders, 1 to 5)"));
}

namespace {
// One scenario, 32 samples, with solver.method `method` against CVODES at 10^4 times tighter
// tolerances and at the same tolerances: each sample's every state at every output, in units of
// the tolerance asked for (atol_i + rtol |y|), and the same events at the same times.
void agrees_with_tight_cvodes(const char* file, const std::string& method) {
  INFO(file);
  const auto picked =
      testing::load_scenario(testing::repository_path(file), {"sampling.samples=32", "solver.method=" + method});
  REQUIRE((picked.solver.method == solvers::Method::kRosenbrock || picked.solver.method == solvers::Method::kNdf));
  std::vector<std::string> tight = {"sampling.samples=32", "solver.method=bdf", "solver.max_steps=10000000",
                                    "solver.rtol=" + core::format_number(picked.solver.rtol * 1e-4)};
  if (picked.solver.atol_per_state.empty())
    tight.push_back("solver.atol=" + core::format_number(picked.solver.atol * 1e-4));
  else {
    std::string atol = "solver.atol={";
    for (std::size_t i = 0; i < picked.solver.atol_per_state.size(); ++i)
      atol += (i ? ", " : "") + picked.model.model->states()[i].name + ": " +
              core::format_number(picked.solver.atol_per_state[i] * 1e-4);
    tight.push_back(atol + "}");
  }
  const auto reference = testing::load_scenario(testing::repository_path(file), tight);
  const auto cvodes =
      testing::load_scenario(testing::repository_path(file), {"sampling.samples=32", "solver.method=bdf"});
  REQUIRE(reference.solver.method == solvers::Method::kBdf);
  engine::ShardGenerator a(picked, 2), b(reference, 2), c(cvodes, 2);
  const auto x = a.shard(0), y = b.shard(0), z = c.shard(0);
  REQUIRE(x.states.size() == y.states.size());
  // The same samples stop at their events, at the same times within the tolerance.
  CHECK(x.status == y.status);
  for (std::size_t i = 0; i < x.samples; ++i)
    CHECK(x.t_reached[i] == Approx(y.t_reached[i]).epsilon(100 * picked.solver.rtol));
  for (std::size_t k = 0; k < x.labels.size(); ++k)
    if (!std::isnan(y.labels[k])) CHECK(x.labels[k] == Approx(y.labels[k]).epsilon(1e-3).margin(1e-9));
  const std::size_t n = picked.model.model->num_states();
  const auto worst_of = [&](const std::vector<double>& v) {
    double worst = 0.0;
    for (std::size_t k = 0; k < v.size(); ++k) {
      if (std::isnan(v[k]) && std::isnan(y.states[k])) continue;  // after a unit's end
      const double atol =
          picked.solver.atol_per_state.empty() ? picked.solver.atol : picked.solver.atol_per_state[k % n];
      worst = std::max(worst, std::fabs(v[k] - y.states[k]) / (atol + picked.solver.rtol * std::fabs(y.states[k])));
    }
    return worst;
  };
  // Global errors of local-error-controlled methods exceed the tolerance; what auto picks is
  // at least as accurate as CVODES at the same tolerances (measured 2026-12-04, Rodas5P
  // against CVODES, in tolerances: Robertson 2.9 against 43, Boehm 1.1 against 29,
  // Michaelis-Menten 8.8 against 228, the bearing fleet 34 against 757, enzyme inhibition 3.9
  // against 11.5, SPR 0.38 against 70, theophylline 0.30 against 56, cmapss_style through its
  // regimes 4.1 against 467).
  const double rodas = worst_of(x.states), bdf = worst_of(z.states);
  INFO("worst error " << rodas << " tolerances; CVODES at the same tolerances " << bdf);
  CHECK(rodas <= bdf);
  // Forward sensitivities (reversible binding's kon, koff): against the tight reference, each
  // parameter's largest difference relative to its largest |dy/dp|, no worse than CVODES'.
  REQUIRE(x.sensitivities.size() == y.sensitivities.size());
  if (!x.sensitivities.empty()) {
    const std::size_t K = x.sensitivity_names.size(), T = picked.times.size();
    for (std::size_t k = 0; k < K; ++k) {
      double scale = 0.0, d_rodas = 0.0, d_bdf = 0.0;
      for (std::size_t i = 0; i < x.samples; ++i)
        for (std::size_t r = 0; r < T; ++r)
          for (std::size_t j = 0; j < n; ++j) {
            const std::size_t at = ((i * T + r) * K + k) * n + j;
            scale = std::max(scale, std::fabs(y.sensitivities[at]));
            d_rodas = std::max(d_rodas, std::fabs(x.sensitivities[at] - y.sensitivities[at]));
            d_bdf = std::max(d_bdf, std::fabs(z.sensitivities[at] - y.sensitivities[at]));
          }
      INFO(x.sensitivity_names[k] << ": largest |dy/dp| " << scale << ", " << method << " off by " << d_rodas
                                  << ", CVODES at the same tolerances by " << d_bdf);
      CHECK(d_rodas <= 1e-5 * scale);
      CHECK(d_rodas <= d_bdf);
    }
  }
}
}  // namespace

TEST_CASE("solver choice: what auto picks agrees with CVODES at 10^4 times tighter tolerances", "[slow]") {
  // Robertson to 4e10, Boehm's STAT5 model, Michaelis-Menten (events recorded), the bearing
  // fleet (run to a failure event), three with scheduled jumps (assay phases, SPR injections,
  // doses) and a fleet under changing operating regimes (cmapss_style): each sample's every state
  // at every output, in units of the tolerance asked for (atol_i + rtol |y|), and the same events
  // at the same times.
  for (const char* file : {"scenarios/kinetics/robertson.yaml", "scenarios/kinetics/boehm_stat5.yaml",
                           "scenarios/kinetics/michaelis_menten.yaml", "scenarios/manufacturing/bearing_fleet.yaml",
                           "scenarios/kinetics/enzyme_inhibition.yaml", "scenarios/kinetics/spr_screen.yaml",
                           "scenarios/kinetics/theophylline.yaml", "scenarios/manufacturing/cmapss_style.yaml",
                           "scenarios/kinetics/reversible_binding.yaml"})
    agrees_with_tight_cvodes(file, "auto");
}

TEST_CASE("solver choice: the NDF (method ndf) agrees with CVODES at tight tolerances through jumps, regimes, events",
          "[slow]") {
  // Scheduled jumps (enzyme assay phases, SPR injections, doses), operating regimes (cmapss_style),
  // a terminal event (the bearing fleet), Robertson to 4e10: each a restart or a root on the
  // NDF's interpolating polynomial.
  for (const char* file : {"scenarios/kinetics/robertson.yaml", "scenarios/manufacturing/bearing_fleet.yaml",
                           "scenarios/kinetics/enzyme_inhibition.yaml", "scenarios/kinetics/spr_screen.yaml",
                           "scenarios/kinetics/theophylline.yaml", "scenarios/manufacturing/cmapss_style.yaml"})
    agrees_with_tight_cvodes(file, "ndf");
}
