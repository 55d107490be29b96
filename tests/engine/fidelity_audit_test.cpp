// The fidelity audit on data whose answer is known: "real" units drawn from
// the Michaelis-Menten scenario are not told apart from more samples of the
// same scenario, and are told apart from the scenario with a tenth of its enzyme.
// The synthetic layout copies the real times and the sampled covariates exactly.
#include <catch2/catch.hpp>

#include "physynth/engine/fidelity_audit.h"
#include "physynth/engine/run.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {

const std::string kScenario = testing::repository_path("scenarios/kinetics/michaelis_menten.yaml");

// One unit reading both channels every 600 s, with S0 as a covariate.
anchor::RealData design() {
  anchor::RealData d;
  d.covariate_columns = {"S0"};
  anchor::RealUnit u;
  u.id = "template";
  for (const std::string name : {"product_reading", "bound_fraction"}) {
    anchor::RealSeries se;
    se.observable = name;
    for (int k = 1; k <= 6; ++k) se.readings.push_back({600.0 * k, 0.0, 0.0, 0});
    u.series.push_back(se);
  }
  d.units.push_back(u);
  return d;
}

anchor::RealData units_of(const std::vector<std::string>& overrides, std::uint64_t first, std::size_t count) {
  std::vector<std::string> all = {"sampling.design=random"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  const auto s = testing::load_scenario(kScenario, all);
  engine::ShardGenerator gen(s, 2);
  const engine::Shard shard = gen.samples(first, count);
  anchor::RealData out;
  out.file = "units";
  CHECK(engine::append_synthetic_units(shard, design(), engine::observable_sources(s), count, out) == 0);
  // Covariates are the samples' own parameters, readings the channels at the design's times.
  const std::size_t s0 = static_cast<std::size_t>(
      std::find(shard.parameter_names.begin(), shard.parameter_names.end(), "S0") - shard.parameter_names.begin());
  const auto& block = shard.observation("product_reading");
  for (std::size_t i = 0; i < out.units.size() && i < 3; ++i) {
    const auto& u = out.units[i];
    const std::size_t sample = std::stoul(u.id.substr(u.id.find('_') + 1)) - first;
    CHECK(u.covariates.at("S0") == shard.parameters[sample * shard.num_parameters() + s0]);
    for (const auto& r : u.series[0].readings) {
      const std::size_t k =
          static_cast<std::size_t>(std::find(block.times.begin(), block.times.end(), r.time) - block.times.begin());
      REQUIRE(k < block.times.size());
      CHECK(r.value == block.values[sample * block.times.size() + k]);
    }
  }
  return out;
}

double p_of(const nlohmann::ordered_json& a, std::size_t observable) {
  return a["observables"][observable]["ks_p_value"].get<double>();
}

}  // namespace

TEST_CASE("fidelity audit: same scenario is not rejected, the same with a tenth of the enzyme is") {
  const auto real = units_of({}, 0, 15);
  REQUIRE(real.units.size() == 15);
  const auto same = units_of({}, 5000, 200);
  const auto slower = units_of({"parameters.E0=0.005"}, 5000, 200);
  engine::FidelityAuditOptions opt;
  opt.permutations = 299;
  opt.label = "product_reading";
  const auto a = engine::fidelity_audit(real, same, opt);
  const auto b = engine::fidelity_audit(real, slower, opt);
  INFO(a.dump(1));
  INFO(b.dump(1));
  CHECK(a["features"].get<std::vector<std::string>>() ==
        std::vector<std::string>{"time", "S0", "product_reading", "bound_fraction"});
  CHECK(p_of(a, 0) > 0.05);
  CHECK(p_of(a, 1) > 0.05);
  CHECK(a["joint"]["mmd"]["p_value"].get<double>() > 0.05);
  CHECK(a["joint"]["classifier"]["p_value"].get<double>() > 0.05);
  CHECK(a["joint"]["precision"].get<double>() > 0.7);
  CHECK(a["joint"]["recall"].get<double>() > 0.7);
  CHECK(a["joint"]["closest_record"]["exact_copies"].get<std::size_t>() == 0);
  CHECK(p_of(b, 0) < 0.01);
  CHECK(b["joint"]["mmd"]["p_value"].get<double>() < 0.01);
  CHECK(b["joint"]["classifier"]["p_value"].get<double>() < 0.05);
  // Trained on the right physics, the product is predicted on the real units better than when
  // trained on the wrong physics.
  CHECK(a["tstr"]["train_synthetic_test_real"]["r2"].get<double>() >
        b["tstr"]["train_synthetic_test_real"]["r2"].get<double>());
  CHECK(a["tstr"]["train_synthetic_test_real"]["r2"].get<double>() > 0.8);
  // Deterministic.
  CHECK(engine::fidelity_audit(real, same, opt).dump() == a.dump());
  CHECK(engine::fidelity_audit_markdown(a).find("| product_reading |") != std::string::npos);
}

TEST_CASE("fidelity audit: an observable read from nowhere, or a label that is not observed, is named") {
  const auto s = testing::load_scenario(kScenario, {"sampling.samples=4"});
  engine::ShardGenerator gen(s, 1);
  const engine::Shard shard = gen.shard(0);
  anchor::RealData out;
  try {
    engine::append_synthetic_units(shard, design(), {{"product_reading", "product_sensor"}}, 4, out);
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(e.what(), Catch::Contains("observable 'product_reading' is read from 'product_sensor', which is "
                                         "neither an observation channel nor a state of the run (there are: "
                                         "product_reading, bound_fraction, E, S, ES, P)"));
  }
  anchor::RealData covariate = design();
  covariate.covariate_columns = {"temperature"};
  CHECK_THROWS_WITH(engine::append_synthetic_units(shard, covariate, {}, 4, out),
                    "covariate column 'temperature' of the real data is not a parameter of the run");
  engine::FidelityAuditOptions opt;
  opt.label = "substrate";
  CHECK_THROWS_WITH(engine::fidelity_audit(design(), design(), opt),
                    "label 'substrate' is not an observable of the real data");
}
