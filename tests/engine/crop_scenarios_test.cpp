// The crop example scenarios run through the engine: the numbers a scenario
// writes are the crop models' own (and, with PCSE's rules, PCSE's reference),
// generated seasons and field plots are keyed so that thread counts and
// sample ranges do not change them, and crop-specific mistakes get clear errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "physynth/core/random_field.h"
#include "physynth/domains/crop/pcse_inputs.h"
#include "physynth/engine/run.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {

const std::string kScenarios = testing::repository_path("scenarios/crop/");

engine::Scenario load(const std::string& name, const std::vector<std::string>& overrides) {
  return testing::load_scenario(kScenarios + name, overrides);
}

std::string errors_for(const std::string& name, const std::vector<std::string>& overrides) {
  return testing::scenario_errors(kScenarios + name, overrides);
}

double state(const engine::Shard& s, std::size_t sample, std::size_t row, const std::string& name) {
  const auto it = std::find(s.state_names.begin(), s.state_names.end(), name);
  REQUIRE(it != s.state_names.end());
  return s
      .states[(sample * s.times.size() + row) * s.num_states() + static_cast<std::size_t>(it - s.state_names.begin())];
}

double label(const engine::Shard& s, std::size_t sample, const std::string& name) {
  const auto it = std::find(s.label_names.begin(), s.label_names.end(), name);
  REQUIRE(it != s.label_names.end());
  return s.labels[sample * s.num_labels() + static_cast<std::size_t>(it - s.label_names.begin())];
}

double parameter(const engine::Shard& s, std::size_t sample, const std::string& name) {
  const auto it = std::find(s.parameter_names.begin(), s.parameter_names.end(), name);
  REQUIRE(it != s.parameter_names.end());
  return s.parameters[sample * s.num_parameters() + static_cast<std::size_t>(it - s.parameter_names.begin())];
}

}  // namespace

TEST_CASE("crop scenario: spring wheat with PCSE's daily step and 2018 rules writes PCSE's LINTUL3 reference") {
  // The scenario's parameters fixed at the files' values (parameters={}), Euler, PCSE's 2018 rules.
  const auto s = load("spring_wheat.yaml", {"parameters={}", "model.scheme=euler", "model.pcse_2018_rules=true",
                                            "model.RNMIN=0.10", "sampling.samples=1", "sampling.design=random"});
  engine::ShardGenerator gen(s, 1);
  const engine::Shard shard = gen.shard(0);
  REQUIRE(shard.status[0] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
  // t counts days from the campaign start, 1997-01-01: row t of the reference is day t.
  std::ifstream in(testing::repository_path("data/crop/lintul3/LINTUL3_reference_results.csv"));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) header.push_back(f);
  }
  std::map<std::string, double> worst;
  int days = 0;
  for (std::size_t row = 0; std::getline(in, line) && row < shard.times.size(); ++row, ++days) {
    std::stringstream ss(line);
    std::vector<std::string> f;
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    for (std::size_t c = 0; c < f.size() && c < header.size(); ++c) {
      if (f[c].empty() || !std::count(shard.state_names.begin(), shard.state_names.end(), header[c])) continue;
      // PCSE reports WC and TAGBM as 0 before their first update (lintul3_test explains).
      if ((header[c] == "WC" && row == 0) || (header[c] == "TAGBM" && row <= 89)) continue;
      const double e = std::fabs(state(shard, 0, row, header[c]) - std::stod(f[c]));
      worst[header[c]] = std::max(worst[header[c]], std::isnan(e) ? 1e300 : e);
    }
  }
  CHECK(days > 200);
  REQUIRE(worst.size() >= 15);
  for (const auto& [name, e] : worst) {
    INFO(name);
    CHECK(e <= 0.001);
  }
  CHECK(label(shard, 0, "grain_yield") ==
        Approx(10.0 * state(shard, 0, static_cast<std::size_t>(shard.t_reached[0]), "WSO")));
}

TEST_CASE("crop scenario: grassland with mowing is LINGRA's season, cut to the stubble on each mowing day") {
  const auto s = load("grassland_mowing.yaml", {"sampling.samples=4"});
  engine::ShardGenerator gen(s, 2);
  const engine::Shard shard = gen.shard(0);
  core::Diagnostics d;
  const auto agro =
      domains::crop::read_pcse_agromanagement(testing::repository_path("data/crop/lingra/setup/054_NL1_1983.yaml"), d);
  REQUIRE(agro);
  REQUIRE(agro->mowings.size() == 5);
  for (std::size_t i = 0; i < shard.samples; ++i) {
    REQUIRE(shard.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
    CHECK(shard.t_reached[i] == 315.0);  // harvested on 12 November
    for (const auto& m : agro->mowings) {
      const auto day = static_cast<std::size_t>(domains::crop::days_between(1983, 1, m.year, m.day));
      // PCSE's convention: a day's state is the one it starts with, so the cut shows the day after.
      CHECK(state(shard, i, day, "WeightLVgreen") > 1000.0);
      CHECK(state(shard, i, day + 1, "WeightLVgreen") == Approx(m.biomass_remaining));
    }
  }
  // With the calibrated means, the season's biomass is within 10 % of what was measured (15,490 kg/ha).
  const auto mean = load("grassland_mowing.yaml",
                         {"parameters={}", "model.LUEmax=2.67", "model.RDRbase=0.0103", "sampling.samples=1"});
  engine::ShardGenerator one(mean, 1);
  CHECK(label(one.shard(0), 0, "season_biomass") == Approx(15490.0).epsilon(0.10));
}

TEST_CASE("crop scenario: rainfed grassland runs LINGRA's soil water balance, and drought costs biomass") {
  const auto s = load("grassland_rainfed.yaml", {"sampling.samples=4"});
  const auto wet = load("grassland_rainfed.yaml", {"sampling.samples=4", "model.water=potential"});
  engine::ShardGenerator gen(s, 2), gen_wet(wet, 2);
  const engine::Shard dry = gen.shard(0), irrigated = gen_wet.shard(0);
  for (std::size_t i = 0; i < dry.samples; ++i) {
    REQUIRE(dry.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
    const double smfcf = parameter(dry, i, "SMFCF");
    double driest = 1.0, lowest_rftra = 1.0;
    for (std::size_t row = 0; row < dry.times.size(); ++row) {
      driest = std::min(driest, state(dry, i, row, "SM"));
      lowest_rftra = std::min(lowest_rftra, state(dry, i, row, "RFTRA"));
      CHECK(state(irrigated, i, row, "SM") == parameter(irrigated, i, "SMFCF"));  // potential: field capacity
    }
    // The summer of 1983 dries the soil below the critical moisture: transpiration is cut.
    CHECK(driest < smfcf - 0.05);
    CHECK(lowest_rftra < 0.5);
    CHECK(label(dry, i, "season_biomass") < 0.9 * label(irrigated, i, "season_biomass"));
  }
}

TEST_CASE("crop scenario: generated seasons are the same whatever the threads and the sample range") {
  const auto s = load("generated_seasons.yaml", {"sampling.samples=6", "model.scheme=euler"});
  engine::ShardGenerator one(s, 1), two(s, 2);
  const engine::Shard a = one.shard(0), b = two.shard(0);
  const engine::Shard tail = one.samples(3, 3);
  std::set<double> yields;
  for (std::size_t i = 0; i < 6; ++i) {
    REQUIRE(a.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
    yields.insert(label(a, i, "grain_yield"));
  }
  CHECK(yields.size() == 6);  // every sample its own weather
  REQUIRE(a.states.size() == b.states.size());
  CHECK(std::memcmp(a.states.data(), b.states.data(), a.states.size() * sizeof(double)) == 0);
  CHECK(a.labels == b.labels);
  for (std::size_t i = 0; i < 3; ++i) CHECK(label(tail, i, "season_rain") == label(a, 3 + i, "season_rain"));
  // season: 0 gives every sample the same weather, hence the same crop.
  const auto fixed =
      load("generated_seasons.yaml", {"sampling.samples=2", "model.scheme=euler", "model.weather.season=0"});
  engine::ShardGenerator f(fixed, 1);
  const engine::Shard c = f.shard(0);
  CHECK(label(c, 0, "grain_yield") == label(c, 1, "grain_yield"));
  CHECK(label(c, 0, "grain_yield") == label(a, 0, "grain_yield"));
}

TEST_CASE("crop scenario: a field's plots carry their grid position and the random field's values") {
  const auto s = load("field_map.yaml", {"field.rows=6", "field.cols=8"});
  REQUIRE(s.samples == 48);
  engine::ShardGenerator gen(s, 2);
  const engine::Shard shard = gen.shard(0);
  REQUIRE(shard.field_rows == 6);
  REQUIRE(shard.field_cols == 8);
  REQUIRE(shard.plot.size() == 96);
  const auto& spec = s.field.parameters[0];
  REQUIRE(spec.name == "SMFCF");
  const auto field = core::gaussian_random_field(spec.options, s.seed, 0);
  for (std::size_t i = 0; i < 48; ++i) {
    CHECK(shard.plot[2 * i] == static_cast<int>(i / 8));
    CHECK(shard.plot[2 * i + 1] == static_cast<int>(i % 8));
    CHECK(parameter(shard, i, "SMFCF") == std::clamp(field[i], spec.low, spec.high));
    CHECK(shard.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
  }
  // Wetter soil, more biomass in this season: the map follows the soil.
  double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < 48; ++i) {
    const double x = parameter(shard, i, "SMFCF"), y = label(shard, i, "biomass");
    sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
  }
  const double n = 48, r = (n * sxy - sx * sy) / std::sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
  CHECK(r > 0.3);
  CHECK_THROWS_AS(gen.samples(40, 10), std::invalid_argument);  // there are only 48 plots
}

TEST_CASE("crop scenario: mistakes get a message naming the key and what is valid") {
  CHECK_THAT(errors_for("field_map.yaml", {"sampling.samples=10"}),
             Catch::Contains("sampling.samples (10) must equal the field's plots, rows x cols = 720"));
  CHECK_THAT(errors_for("field_map.yaml", {"field.parameters.SMFC={mean: 0.3, sd: 0.1, correlation_length_m: 5}"}),
             Catch::Contains(
                 "field parameter 'SMFC' is not a parameter the model lets a scenario set; did you mean 'SMFCF'?"));
  CHECK_THAT(errors_for("spring_wheat.yaml", {"solver={rtol: 1e-6}"}),
             Catch::Contains("solver: model 'lintul3' advances itself with its own scheme"));
  CHECK_THAT(errors_for("spring_wheat.yaml", {"time={start: 0, end: 10.5, points: 3}"}),
             Catch::Contains("time 5.25 is not one"));
  CHECK_THAT(errors_for("field_map.yaml", {"model.scheme=cvode"}),
             Catch::Contains("wofost72 integrates with PCSE's daily Euler step only"));
  CHECK_THAT(errors_for("spring_wheat.yaml", {"model.weather.file=nowhere.997"}),
             Catch::Contains("model.weather.file: no such file 'nowhere.997'"));
  CHECK_THAT(errors_for("spring_wheat.yaml", {"model.TSUMM=1000"}), Catch::Contains("did you mean 'TSUM1'?"));
  // A season the weather does not cover is found at load time, naming the weather file.
  CHECK_THAT(errors_for("grassland_mowing.yaml", {"model.weather.file=../../data/crop/lingra/weather/NL1_1984.csv"}),
             Catch::Contains("NL1_1984.csv: error: the weather does not cover 1983-01-01 to 1983-11-12"));
}

TEST_CASE("crop agromanagement: a malformed max_duration is an error naming the file and line, not a crash") {
  const std::string path = std::string(PHYSYNTH_TEST_OUTPUT) + "/bad_max_duration.agro";
  std::ofstream(path) << "AgroManagement:\n- 1997-01-01:\n    CropCalendar: {crop_start_date: 1997-03-31, "
                         "crop_start_type: emergence, crop_end_type: maturity, max_duration: soon}\n";
  core::Diagnostics d;
  CHECK_FALSE(domains::crop::read_pcse_agromanagement(path, d));
  CHECK_THAT(d.report(), Catch::Contains(path + ":3:") &&
                             Catch::Contains("max_duration must be a whole number of days >= 1, got 'soon'"));
}
