// solver.method auto (the default): Rodas5P for a small dense system it supports, CVODES
// otherwise, the choice and its reason in the resolved scenario (manifest.json); and what auto
// picks agrees with CVODES at tight tolerances within the tolerance asked for.
#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/engine/run.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {
std::string chosen(const std::string& file, const std::vector<std::string>& overrides = {}) {
  const auto s = testing::load_scenario(testing::repository_path(file), overrides);
  return s.resolved["solver"]["chosen"].get<std::string>() + " | " + s.resolved["solver"]["method"].get<std::string>();
}
}  // namespace

TEST_CASE("solver choice: auto picks Rodas5P for small dense systems and CVODES where Rodas5P cannot follow, saying why") {
  CHECK(chosen("scenarios/kinetics/robertson.yaml") == "auto: Rodas5P, a small dense system (3 states) | rosenbrock");
  CHECK(chosen("scenarios/kinetics/boehm_stat5.yaml") == "auto: Rodas5P, a small dense system (8 states) | rosenbrock");
  CHECK(chosen("scenarios/kinetics/michaelis_menten.yaml", {"solver.method=auto"}) ==
        "auto: CVODES BDF, Rodas5P does not support events (root finding) yet | bdf");
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.sensitivities=[k1]"}) ==
        "auto: CVODES BDF, Rodas5P does not support forward sensitivities yet | bdf");
  CHECK(chosen("scenarios/kinetics/enzyme_inhibition.yaml") ==
        "auto: CVODES BDF, Rodas5P does not support models with scheduled jumps (doses, assay phases, SBML events) yet "
        "| bdf");
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.linear_solver=klu"}) ==
        "auto: CVODES BDF, solver.linear_solver: klu (sparse) is CVODES' | bdf");
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.method=bdf"}) == "bdf: asked for | bdf");
  CHECK(chosen("scenarios/kinetics/robertson.yaml", {"solver.method=adams"}) == "adams: asked for | adams");
  CHECK(chosen("scenarios/manufacturing/bearing_fleet.yaml") ==
        "auto: CVODES BDF, Rodas5P does not support events (root finding) yet | bdf");
}

TEST_CASE("solver choice: what auto picks agrees with CVODES at 10^4 times tighter tolerances", "[slow]") {
  // Robertson to 4e10 and Boehm's STAT5 model: each sample's every state at every output, in
  // units of the tolerance asked for (atol_i + rtol |y|).
  for (const char* file : {"scenarios/kinetics/robertson.yaml", "scenarios/kinetics/boehm_stat5.yaml"}) {
    INFO(file);
    const auto picked = testing::load_scenario(testing::repository_path(file), {"sampling.samples=32"});
    REQUIRE(picked.rosenbrock);
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
    REQUIRE_FALSE(reference.rosenbrock);
    engine::ShardGenerator a(picked, 2), b(reference, 2);
    const auto x = a.shard(0), y = b.shard(0);
    REQUIRE(x.states.size() == y.states.size());
    const std::size_t n = picked.model.model->num_states();
    double worst = 0.0;
    for (std::size_t k = 0; k < x.states.size(); ++k) {
      const double atol =
          picked.solver.atol_per_state.empty() ? picked.solver.atol : picked.solver.atol_per_state[k % n];
      worst = std::max(worst, std::fabs(x.states[k] - y.states[k]) / (atol + picked.solver.rtol * std::fabs(y.states[k])));
    }
    // Measured 2026-12-04: 2.9 (Robertson) and 1.1 (Boehm) tolerances; global errors of a
    // local-error-controlled method (CVODES at the same tolerances: 43 on Robertson).
    INFO("worst error " << worst << " tolerances");
    CHECK(worst < 5.0);
  }
}
