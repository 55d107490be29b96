// The closed loop (active/loop.h) on Michaelis-Menten progress curves, the model learning the
// apparent Km from the readings: the model learns (better than the mean), the recorded sampling
// densities re-weight the samples to the prior, the same samples for one thread or two, and the
// mistakes a user can make.
#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/active/loop.h"
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
    INFO(active::strategy_name(st) << ": RMSE " << r.rounds.front().rmse << " -> " << r.rounds.back().rmse
                                   << ", label sd " << std::sqrt(var));
    CHECK(r.rounds.back().rmse < 0.6 * std::sqrt(var));
    CHECK(r.rounds.back().rmse < r.rounds.front().rmse);
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
  CHECK(one.rounds.back().rmse == two.rounds.back().rmse);
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
