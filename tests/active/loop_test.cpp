// The closed loop (active/loop.h) on Michaelis-Menten progress curves, the model learning the
// apparent Km from the readings: the model learns (better than the mean), the recorded sampling
// densities re-weight the samples to the prior, the same samples for one thread or two, and the
// mistakes a user can make.
#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/active/loop.h"
#include "physynth/active/mix.h"
#include "real_units.h"
#include "support/scenarios.h"

using namespace physynth;

namespace {
const std::string kMM = std::string(PHYSYNTH_SOURCE_DIR) + "/scenarios/kinetics/michaelis_menten.yaml";

active::LoopOptions small() {
  active::LoopOptions o;
  o.target = "km_apparent";
  o.budget = 150;
  o.rounds = 3;
  o.test = 200;
  o.model.members = 3;
  o.model.epochs = 60;
  return o;
}
}  // namespace

TEST_CASE("active loop: every strategy learns Km from the curves, better than predicting the mean") {
  const auto s = testing::load_scenario(kMM, {});
  for (const auto st : {active::Strategy::kActive, active::Strategy::kRandom, active::Strategy::kSobol}) {
    const auto r = active::run_loop(s, st, small());
    REQUIRE(r.rounds.size() == 3);
    CHECK(r.rounds[0].samples == 50);
    CHECK(r.rounds.back().samples == 150);
    CHECK(r.rounds.back().rows + r.dropped == 150);
    CHECK(r.samples.size() == 150);
    // The test labels' spread: what predicting their mean would score.
    double mean = 0.0, var = 0.0;
    for (const auto& smp : r.samples) mean += smp.target / 150.0;
    for (const auto& smp : r.samples) var += (smp.target - mean) * (smp.target - mean) / 149.0;
    INFO(active::strategy_name(st) << ": RMSE " << r.rounds.front().test.rmse << " -> " << r.rounds.back().test.rmse
                                   << ", label sd " << std::sqrt(var));
    CHECK(r.rounds.back().test.rmse < 0.6 * std::sqrt(var));
    CHECK(r.rounds.back().test.rmse < r.rounds.front().test.rmse);
  }
}

TEST_CASE("active loop: the recorded densities re-weight the samples to the prior") {
  const auto s = testing::load_scenario(kMM, {});
  auto o = small();
  o.budget = 600;
  const auto r = active::run_loop(s, active::Strategy::kActive, o);
  // Under the prior every design coordinate is uniform on (0, 1): mean 1/2. The targeted
  // samples alone are not; weighted by prior_weight (self-normalised) all samples are.
  const std::size_t d = r.samples.front().unit.size();
  std::size_t targeted = 0;
  for (std::size_t k = 0; k < d; ++k) {
    double sw = 0.0, sw2 = 0.0, m = 0.0;
    for (const auto& smp : r.samples) {
      sw += smp.prior_weight;
      sw2 += smp.prior_weight * smp.prior_weight;
      m += smp.prior_weight * smp.unit[k];
    }
    m /= sw;
    const double n_eff = sw * sw / sw2, se = std::sqrt(1.0 / 12.0 / n_eff);
    INFO("coordinate " << k << ": weighted mean " << m << ", effective size " << n_eff);
    CHECK(std::abs(m - 0.5) < 4.0 * se);
  }
  for (const auto& smp : r.samples) {
    targeted += smp.origin == "targeted" ? 1 : 0;
    if (smp.round == 0) CHECK(smp.prior_weight == Approx(1.0).epsilon(1e-9));
  }
  CHECK(targeted > 0);
}

TEST_CASE("active loop: the same samples and errors for one thread or two") {
  const auto s = testing::load_scenario(kMM, {});
  auto a = small(), b = small();
  a.threads = 1;
  b.threads = 2;
  const auto one = active::run_loop(s, active::Strategy::kActive, a);
  const auto two = active::run_loop(s, active::Strategy::kActive, b);
  REQUIRE(one.samples.size() == two.samples.size());
  for (std::size_t i = 0; i < one.samples.size(); ++i) {
    CHECK(one.samples[i].unit == two.samples[i].unit);
    CHECK(one.samples[i].log_density == two.samples[i].log_density);
  }
  CHECK(one.rounds.back().test.rmse == two.rounds.back().test.rmse);
}

TEST_CASE("active loop: a target that is not a label, and a budget too small, are refused") {
  const auto s = testing::load_scenario(kMM, {});
  auto o = small();
  o.target = "km";
  CHECK_THROWS_WITH(active::run_loop(s, active::Strategy::kActive, o),
                    Catch::Contains("'km' is not a label") && Catch::Contains("km_apparent"));
  o = small();
  o.budget = 4;
  CHECK_THROWS_WITH(active::run_loop(s, active::Strategy::kRandom, o), Catch::Contains("cannot fill"));
}

TEST_CASE("active loop: real data is scored every round, read as the synthetic rows are") {
  // "Real" units from the scenario itself: the model's error on them is the test set's, up to
  // sampling spread, when their rows are laid out exactly as the synthetic ones.
  const auto s = testing::load_scenario(kMM, {"sampling.design=random"});
  auto o = small();
  o.test = 300;
  o.covariates = {"kcat"};
  const auto all = testing::read_real(testing::write_real(s, 300, 1, "km_apparent", "kcat", "physynth-active-real-all.csv"));
  o.real = &all;
  const auto r = active::run_loop(s, active::Strategy::kRandom, o);
  CHECK(r.real.units == 300);
  CHECK(r.real.rows == 300);
  // Only the dropouts (1 % of the product readings, not written) fall between readings.
  CHECK(r.real.interpolated > 0);
  CHECK(r.real.interpolated < r.real.direct / 50);
  CHECK(r.real.missing < r.real.direct / 500);  // a dropout at a unit's last reading: no extrapolation
  REQUIRE(r.rounds.size() == 3);
  for (const auto& round : r.rounds) {
    INFO("round " << round.round << ": test RMSE " << round.test.rmse << ", real RMSE " << round.real.rmse);
    CHECK(std::isfinite(round.real.rmse));
    CHECK(round.real.rmse < 1.5 * round.test.rmse);
    CHECK(round.real.rmse > round.test.rmse / 1.5);
  }
  // Every other reading: the rest interpolated between neighbours, none invented past the ends.
  const auto half = testing::read_real(testing::write_real(s, 100, 2, "km_apparent", "kcat", "physynth-active-real-half.csv"));
  o.real = &half;
  const auto h = active::run_loop(s, active::Strategy::kRandom, o);
  // (the model, trained on noisy readings at every time, scores worse on interpolated curves:
  // a shift the summary's counts make visible; here only the placement is checked)
  CHECK(h.real.interpolated > h.real.direct / 2);
  CHECK(h.real.direct > h.real.interpolated);
  CHECK(std::isfinite(h.rounds.back().real.rmse));
}

TEST_CASE("active loop: real remaining life on windows, clipped as the label, only where the readings are") {
  const auto s = testing::load_scenario(std::string(PHYSYNTH_SOURCE_DIR) + "/scenarios/manufacturing/bearing_fleet.yaml",
                                        {"sampling.design=random"});
  auto o = small();
  o.target = "rul";
  o.budget = 40;
  o.rounds = 2;
  o.test = 30;
  o.model.epochs = 10;
  const auto data = testing::read_real(testing::write_real(s, 12, 1, "rul", "", "physynth-active-real-rul.csv"));
  o.real = &data;
  const auto r = active::run_loop(s, active::Strategy::kRandom, o);
  CHECK(r.real.units == 12);
  CHECK(r.real.rows > 12);
  CHECK(r.real.missing == 0);  // every window inside its unit's readings
  CHECK(std::isfinite(r.rounds.back().real.rmse));
  // A unit's readings every 3rd time: windows in between interpolated, the same count of windows.
  const auto sparse = testing::read_real(testing::write_real(s, 12, 3, "rul", "", "physynth-active-real-rul3.csv"));
  o.real = &sparse;
  const auto t = active::run_loop(s, active::Strategy::kRandom, o);
  CHECK(t.real.interpolated > 0);
  CHECK(t.real.missing == 0);
  CHECK(t.real.rows <= r.real.rows);
  CHECK(t.real.rows + 12 * 4 >= r.real.rows);  // at most a window or so lost at each unit's end
}

TEST_CASE("active mix: synthetic rows from the same law as the real units help a small real set") {
  // "Real" units simulated by the scenario: synthetic rows are then more of the same, so the
  // error on the real test units must fall as they are added, and the rows add up.
  const auto s = testing::load_scenario(kMM, {"sampling.design=random"});
  const auto train = testing::read_real(testing::write_real(s, 30, 1, "km_apparent", "", "physynth-mix-train.csv"));
  const auto test = testing::read_real(testing::write_real(s, 150, 1, "km_apparent", "", "physynth-mix-test.csv"));
  active::MixOptions o;
  o.target = "km_apparent";
  o.train = &train;
  o.test = &test;
  o.ratios = {0, 8};
  o.model.members = 3;
  o.model.epochs = 60;
  const auto r = active::run_mix(s, o);
  REQUIRE(r.points.size() == 3);
  CHECK(r.train.rows == 30);
  CHECK(r.test.rows == 150);
  CHECK(r.points[0].real_rows == 30);
  CHECK(r.points[0].synthetic_rows == 0);
  CHECK(r.points[1].synthetic_rows == 240);
  CHECK(std::isinf(r.points[2].ratio));
  CHECK(r.points[2].real_rows == 0);
  CHECK(r.points[2].synthetic_rows == 240);
  INFO("real only " << r.points[0].error.rmse << ", 8:1 " << r.points[1].error.rmse << ", synthetic alone "
                    << r.points[2].error.rmse);
  CHECK(r.points[1].error.rmse < 0.85 * r.points[0].error.rmse);
  CHECK(r.points[2].error.rmse < r.points[0].error.rmse);
  o.ratios = {-1};
  CHECK_THROWS_WITH(active::run_mix(s, o), Catch::Contains("--ratios: -1"));
}

TEST_CASE("active loop: --reweight resamples only the active model's rows, and equal weights change nothing") {
  const auto s = testing::load_scenario(kMM, {});
  auto plain = small(), reweight = small();
  reweight.reweight = true;
  const auto a = active::run_loop(s, active::Strategy::kRandom, plain);
  const auto b = active::run_loop(s, active::Strategy::kRandom, reweight);
  CHECK(a.rounds.back().test.rmse == b.rounds.back().test.rmse);
  const auto c = active::run_loop(s, active::Strategy::kActive, plain);
  const auto d = active::run_loop(s, active::Strategy::kActive, reweight);
  // Round 1 trains on the initial Sobol points, every weight 1: systematic resampling takes each
  // row once, so the same model. Later rounds hold targeted samples of other weights.
  REQUIRE(c.rounds.size() == d.rounds.size());
  CHECK(c.rounds.front().test.rmse == d.rounds.front().test.rmse);
  CHECK(c.rounds.back().test.rmse != d.rounds.back().test.rmse);
  for (std::size_t i = 0; i < 50; ++i) CHECK(c.samples[i].unit == d.samples[i].unit);
}
