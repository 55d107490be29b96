#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "physynth/engine/run.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

TEST_CASE("population: samples are drawn from the fitted population, with its groups, covariate effect and correlation") {
  const auto s = testing::load_scenario(testing::fixture("fixtures/population_generator.yaml"), {});
  REQUIRE(s.population.present);
  engine::ShardGenerator gen(s, 2);
  const auto shard = gen.samples(0, 4000);
  const std::size_t P = s.parameters.size();
  const int k = s.model.model->parameter_index("k"), a0 = s.model.model->parameter_index("a0"),
            line = s.model.model->parameter_index("line"), w = s.model.model->parameter_index("w");
  const double mu[2] = {std::log(0.3), std::log(0.6)};
  // Residuals from the population's typical unit: should be N(0, Ω).
  double sk = 0, sa = 0, skk = 0, saa = 0, ska = 0, sx = 0, sxx = 0;
  const double n = 4000;
  for (std::size_t i = 0; i < 4000; ++i) {
    const double* p = &shard.parameters[i * P];
    const int g = static_cast<int>(std::lround(p[line])) - 1;
    const double x = std::log(p[w] / 70.0);
    const double ek = std::log(p[k]) - mu[g] - 0.75 * x, ea = std::log(p[a0]) - std::log(10.0);
    sk += ek, sa += ea, skk += ek * ek, saa += ea * ea, ska += ek * ea;
    sx += x, sxx += x * x;
  }
  const double mk = sk / n, ma = sa / n;
  const double vk = skk / n - mk * mk, va = saa / n - ma * ma, cov = ska / n - mk * ma;
  CHECK(std::abs(mk) < 4 * 0.3 / std::sqrt(n));
  CHECK(std::abs(ma) < 4 * 0.2 / std::sqrt(n));
  CHECK(std::sqrt(vk) == Approx(0.3).epsilon(0.05));
  CHECK(std::sqrt(va) == Approx(0.2).epsilon(0.05));
  CHECK(cov / std::sqrt(vk * va) == Approx(0.6).margin(0.05));
  // The covariate's slope: ln k - μ_g regressed on x about the means (x is independent of η).
  const double mx = sx / n;
  double sxy_c = 0;
  for (std::size_t i = 0; i < 4000; ++i) {
    const double* p = &shard.parameters[i * P];
    const int g = static_cast<int>(std::lround(p[line])) - 1;
    const double x = std::log(p[w] / 70.0);
    sxy_c += (x - mx) * (std::log(p[k]) - mu[g]);
  }
  CHECK(sxy_c / (sxx - n * mx * mx) == Approx(0.75).margin(0.06));
}

TEST_CASE("population: the section's problems, each with its place") {
  const std::string path = testing::fixture("fixtures/population_generator.yaml");
  CHECK(testing::scenario_errors(path, {"population.omega=[[0.09, 0.5], [0.5, 0.04]]",
                                        "population.effects=[{parameter: a1, covariate: wt, beta: 1}]"}) ==
        "--set: error: population.omega must be symmetric and positive definite (a covariance)\n"
        "--set: error: population.effects[0].parameter: 'a1' is not a random parameter; they are k, a0\n"
        "--set: error: population.effects[0].covariate: 'wt' is not a scenario parameter; they are a0, k, line, w\n"
        "3 errors on the command line; nothing was run.\n");
  const std::string report = testing::scenario_errors(path, {"population.groups=[\"1\"]"});
  CHECK_THAT(report, Catch::Contains(path + ":19:10: error: population.group: the prior of 'line' (choice(1:0.5, "
                                            "2:0.5)) must be a fixed value or a choice among the groups 1"));
  CHECK_THAT(report, Catch::Contains(path + ":22:39: error: population.random[0].mean needs 1 value or one per "
                                            "group (1), got 2"));
  CHECK_THAT(testing::scenario_errors(path, {"parameters.k={distribution: uniform, low: 0.1, high: 1}"}),
             Catch::Contains("population.random[0].parameter: 'k' is drawn as uniform(low=0.1, high=1); a random "
                             "parameter's prior is its marginal, log_normal, whose draws give η"));
}
