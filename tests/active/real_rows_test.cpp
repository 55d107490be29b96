// physynth active's real data and mixes without LibTorch (so the sanitizer build runs them):
// the user's model through --model-cmd (examples/active_model.py, ridge regressions in numpy),
// and the refusals of real data that cannot be read as the task.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "physynth/active/loop.h"
#include "physynth/active/mix.h"
#include "real_units.h"
#include "support/scenarios.h"

using namespace physynth;

namespace {
const std::string kMM = std::string(PHYSYNTH_SOURCE_DIR) + "/scenarios/kinetics/michaelis_menten.yaml";
const std::string kModel = "/usr/bin/python3 " + std::string(PHYSYNTH_SOURCE_DIR) + "/examples/active_model.py";

active::LoopOptions small() {
  active::LoopOptions o;
  o.target = "km_apparent";
  o.budget = 60;
  o.rounds = 2;
  o.test = 40;
  o.model_command = kModel;
  return o;
}
}  // namespace

TEST_CASE("active loop with a user's model: real data scored every round, settings from the draws and the file") {
  const auto s = testing::load_scenario(kMM, {"sampling.design=random"});
  const auto data = testing::read_real(testing::write_real(s, 30, 2, "km_apparent", "kcat", "physynth-cmd-real.csv"));
  auto o = small();
  o.real = &data;
  o.covariates = {"kcat"};
  o.reweight = true;  // the resampled training set goes to the user's model too
  const auto r = active::run_loop(s, active::Strategy::kActive, o);
  CHECK(r.real.units == 30);
  CHECK(r.real.rows == 30);
  CHECK(r.real.interpolated > 0);
  REQUIRE(r.rounds.size() == 2);
  for (const auto& round : r.rounds) {
    CHECK(std::isfinite(round.real.rmse));
    CHECK(round.real.max_error >= round.real.rmse);
  }
}

TEST_CASE("active mix with a user's model: the rows of each ratio add up") {
  const auto s = testing::load_scenario(kMM, {"sampling.design=random"});
  const auto train = testing::read_real(testing::write_real(s, 10, 1, "km_apparent", "", "physynth-cmd-train.csv"));
  const auto test = testing::read_real(testing::write_real(s, 20, 1, "km_apparent", "", "physynth-cmd-test.csv"));
  active::MixOptions o;
  o.target = "km_apparent";
  o.train = &train;
  o.test = &test;
  o.ratios = {0, 3};
  o.model_command = kModel;
  const auto r = active::run_mix(s, o);
  REQUIRE(r.points.size() == 3);
  CHECK(r.points[0].synthetic_rows == 0);
  CHECK(r.points[1].synthetic_rows == 30);
  CHECK(r.points[2].real_rows == 0);
  for (const auto& p : r.points) CHECK(std::isfinite(p.error.rmse));
}

TEST_CASE("active loop: real data that cannot be read as the task is refused, naming the file") {
  const auto s = testing::load_scenario(kMM, {"sampling.design=random"});
  auto o = small();
  o.budget = 20;
  o.rounds = 1;
  o.test = 20;
  const auto path = testing::write_real(s, 5, 1, "final_product", "kcat", "physynth-active-real-bad.csv");
  const auto data = testing::read_real(path);
  o.real = &data;
  CHECK_THROWS_WITH(active::run_loop(s, active::Strategy::kRandom, o),
                    Catch::Contains(path) && Catch::Contains("no reading of the target 'km_apparent'") &&
                        Catch::Contains("final_product"));
  o.target = "final_product";
  o.covariates = {"kon"};
  CHECK_THROWS_WITH(active::run_loop(s, active::Strategy::kRandom, o),
                    Catch::Contains("no covariate column 'kon'") && Catch::Contains("kcat"));
  o.covariates = {"Km"};
  CHECK_THROWS_WITH(active::run_loop(s, active::Strategy::kRandom, o),
                    Catch::Contains("'Km' is not a parameter") && Catch::Contains("kcat"));
  // A unit with the target but no reading of any channel gives no row (not a row of zeros).
  std::ofstream(path) << "unit,time,observable,value\nu1,0,final_product,3\nu1,60,product_reading,1\n"
                         "u2,0,final_product,4\n";
  const auto partial = testing::read_real(path);
  o.real = &partial;
  o.covariates.clear();
  const auto r = active::run_loop(s, active::Strategy::kRandom, o);
  CHECK(r.real.units == 2);
  CHECK(r.real.rows == 1);
  CHECK(r.real.units_without_rows == 1);
  std::ofstream(path) << "unit,time,observable,value\nu1,0,final_product,3\nu1,60,pressure,1\n";
  const auto other = testing::read_real(path);
  o.real = &other;
  o.covariates.clear();
  CHECK_THROWS_WITH(active::run_loop(s, active::Strategy::kRandom, o),
                    Catch::Contains("no observable is a channel the model sees") && Catch::Contains("product_reading"));
}

