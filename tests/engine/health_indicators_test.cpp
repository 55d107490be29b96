// Coble and Hines' health-indicator measures on trajectories whose values are known in closed
// form, and on a bearing fleet run to failure.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "physynth/core/random.h"
#include "physynth/engine/health_indicators.h"
#include "physynth/engine/run.h"
#include "support/test_problems.h"

using namespace physynth;

TEST_CASE("health indicators: closed forms of monotonicity, prognosability and trendability") {
  // Three units of different lengths, each rising steadily to the same failure level 10:
  // perfectly monotonic, trendable (the same shape) and prognosable (one failure value).
  std::vector<std::vector<double>> rising;
  for (int n : {5, 8, 13}) {
    std::vector<double> x;
    for (int k = 0; k < n; ++k) x.push_back(10.0 * k / (n - 1));
    rising.push_back(x);
  }
  auto q = engine::indicator_quality(rising);
  CHECK(q.units == 3);
  CHECK(q.monotonicity == 1.0);
  CHECK(q.prognosability == 1.0);
  CHECK(q.trendability == Approx(1.0).epsilon(1e-12));

  // One step down in each unit of 5 readings (+, +, -, +): |3 - 1| / 4 = 0.5.
  const std::vector<std::vector<double>> wobbly = {{0, 1, 2, 1, 3}, {0, 2, 4, 3, 6}};
  CHECK(engine::indicator_quality(wobbly).monotonicity == 0.5);

  // Failure values 8 and 12 from a start of 0: std 2.828..., mean range 10: exp(-0.2828...).
  const std::vector<std::vector<double>> spread = {{0, 4, 8}, {0, 6, 12}};
  CHECK(engine::indicator_quality(spread).prognosability == Approx(std::exp(-std::sqrt(8.0) / 10.0)).epsilon(1e-14));

  // A rising and a falling unit: |corr| is 1 (trendability looks at shape, not sign).
  CHECK(engine::indicator_quality({{0, 1, 2, 3}, {3, 2, 1, 0}}).trendability == Approx(1.0));
  // A rising unit and a V-shaped one: corr(0,1,2,3,4; 2,1,0,1,2) = 0.
  CHECK(engine::indicator_quality({{0, 1, 2, 3, 4}, {2, 1, 0, 1, 2}}).trendability == Approx(0.0).margin(1e-15));

  // Noise is neither monotonic nor trendable.
  std::vector<std::vector<double>> noise(20);
  for (std::size_t u = 0; u < noise.size(); ++u) {
    core::CounterRng rng(1, u, 0);
    for (int k = 0; k < 200; ++k) noise[u].push_back(rng.normal());
  }
  q = engine::indicator_quality(noise);
  CHECK(q.monotonicity < 0.15);
  CHECK(q.trendability < 0.05);

  // Missing readings are left out; fewer than two units give no measure.
  CHECK(engine::indicator_quality({{0, NAN, 1, 2}, {0, 1, NAN, 2}}).monotonicity == 1.0);
  CHECK(std::isnan(engine::indicator_quality({{0, 1, 2}}).trendability));
}

TEST_CASE(
    "health indicators: a mixed bearing fleet's audit finds temperature and RMS trendable, the fault-specific "
    "envelopes not",
    "[slow]") {
  core::Diagnostics d;
  auto s = engine::load_scenario(testing::repository_path("scenarios/manufacturing/mixed_fleet.yaml"),
                                 {"sampling.samples=60"}, d);
  INFO(d.report());
  REQUIRE(s);
  engine::RunOptions o;
  o.output_directory = std::string(PHYSYNTH_TEST_OUTPUT) + "/health_indicators";
  std::filesystem::remove_all(o.output_directory);
  o.threads = 2;
  const auto summary = engine::run_scenario(*s, o);
  REQUIRE(summary.completed);
  std::ifstream in(o.output_directory + "/audit.json");
  const auto audit = nlohmann::json::parse(in);
  REQUIRE(audit.contains("health_indicators"));
  const auto& h = audit["health_indicators"];
  CHECK(h["units"].get<std::size_t>() == summary.stopped_by_event);
  for (const auto& [name, q] : h["channels"].items()) {
    INFO(name);
    for (const char* m : {"monotonicity", "prognosability", "trendability"}) {
      REQUIRE(q[m].is_number());
      CHECK(q[m].get<double>() >= 0.0);
      CHECK(q[m].get<double>() <= 1.0);
    }
  }
  // Temperature (friction heat) and RMS follow the spall in every unit, whatever its fault mode;
  // each envelope amplitude grows only in units with its own fault, and the 1x amplitude is
  // imbalance, not wear. (Raw reading-to-reading monotonicity is noise-dominated for all.)
  const auto trend = [&](const char* c) { return h["channels"][c]["trendability"].get<double>(); };
  CHECK(trend("temperature_sensor") > 0.5);
  CHECK(trend("vib_rms") > 0.5);
  for (const char* c : {"env_bpfo", "env_bpfi", "env_bsf", "env_ftf", "vib_1x"}) CHECK(trend(c) < 0.1);
  CHECK(h["channels"]["temperature_sensor"]["prognosability"].get<double>() >
        h["channels"]["env_bpfo"]["prognosability"].get<double>());
}
