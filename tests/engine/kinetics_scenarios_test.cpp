// The molecular-interaction example scenarios through the engine: the SPR
// screen's sensorgrams are the closed-form 1:1 curves under their schedule,
// the inhibition study's initial rates are the textbook competitive-inhibition
// rates, the Boehm model from SBML matches its PEtab simulation at the nominal
// parameters, and scheduled or SBML mistakes are reported with file and line.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>

#include "physynth/anchor/real_data.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/run.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {

const std::string kScenarios = testing::repository_path("scenarios/kinetics/");

engine::Scenario load(const std::string& name, const std::vector<std::string>& overrides) {
  return testing::load_scenario(kScenarios + name, overrides);
}

std::size_t index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  REQUIRE(it != names.end());
  return static_cast<std::size_t>(it - names.begin());
}

}  // namespace

TEST_CASE("kinetics scenario: SPR single-cycle sensorgrams follow the 1:1 closed form phase by phase") {
  const auto s = load("spr_screen.yaml", {"sampling.samples=8"});
  engine::ShardGenerator gen(s, 2);
  const auto shard = gen.shard(0);
  const std::size_t n = shard.num_states(), T = shard.times.size(), la = index_of(shard.state_names, "LA");
  for (std::size_t i = 0; i < shard.samples; ++i) {
    REQUIRE(shard.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
    auto param = [&](const std::string& name) {
      return shard.parameters[i * shard.num_parameters() + index_of(shard.parameter_names, name)];
    };
    const double ka = param("ka"), kd = param("kd"), Rmax = param("Rmax");
    // Phases: (start, end, analyte concentration).
    const std::vector<std::tuple<double, double, double>> phases = {
        {0, 60, 0},    {60, 180, param("C1")},  {180, 240, 0}, {240, 360, param("C2")},
        {360, 420, 0}, {420, 540, param("C3")}, {540, 1200, 0}};
    double R = 0.0, worst = 0.0;
    for (const auto& [a, b, C] : phases) {
      // dR/dt = ka C (Rmax - R) - kd R: relaxation to Req at kobs = ka C + kd.
      const double kobs = ka * C + kd, Req = ka * C * Rmax / kobs;
      for (std::size_t row = 0; row < T; ++row) {
        const double t = shard.times[row];
        if (t <= a || t > b) continue;
        const double expected = Req + (R - Req) * std::exp(-kobs * (t - a));
        worst = std::max(worst, std::fabs(shard.states[(i * T + row) * n + la] - expected));
      }
      R = Req + (R - Req) * std::exp(-kobs * (b - a));
    }
    CHECK(worst < 1e-5 * Rmax);
  }
}

TEST_CASE("kinetics scenario: initial rates from the noisy plate readings are the competitive-inhibition rates") {
  const auto s = load("enzyme_inhibition.yaml", {});
  engine::ShardGenerator gen(s, 2);
  const auto shard = gen.shard(0);
  const std::size_t L = shard.num_labels();
  const std::size_t v0 = index_of(shard.label_names, "v0"), v0_true = index_of(shard.label_names, "v0_true"),
                    theory = index_of(shard.label_names, "v0_theory");
  std::vector<double> noisy, exact;
  for (std::size_t i = 0; i < shard.samples; ++i) {
    REQUIRE(shard.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
    const double th = shard.labels[i * L + theory];
    exact.push_back(std::fabs(shard.labels[i * L + v0_true] / th - 1));
    noisy.push_back(std::fabs(shard.labels[i * L + v0] / th - 1));
  }
  std::sort(exact.begin(), exact.end());
  std::sort(noisy.begin(), noisy.end());
  // The noise-free slope over 5 s is the quasi-steady-state rate within 1 %; the analyst's slope
  // over a minute of noisy readings within 2 % for most wells.
  CHECK(exact.back() < 0.01);
  CHECK(noisy[noisy.size() / 2] < 0.02);
}

TEST_CASE("kinetics scenario: Boehm STAT5 from SBML at the nominal parameters gives PEtab's simulated observables") {
  // The nominal values: the log-normal medians (sigma 0 is not a distribution, so fix them by value).
  const auto s =
      load("boehm_stat5.yaml",
           {"parameters.Epo_degradation_BaF3=0.026982514033029", "parameters.k_exp_hetero=1.00067973851508E-05",
            "parameters.k_exp_homo=0.006170228086381", "parameters.k_imp_hetero=0.0163679184468",
            "parameters.k_imp_homo=97749.3794024716", "parameters.k_phos=15766.5070195731", "observations[0].noise={}",
            "sampling.samples=1", "sampling.design=random"});
  engine::ShardGenerator gen(s, 1);
  const auto shard = gen.shard(0);
  REQUIRE(shard.status[0] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
  // simulatedData_Boehm_JProteomeRes2014.tsv, pSTAT5A_rel at t = 10, 20, 40, 60, 120, 240 min.
  const std::map<double, double> reference = {{10, 90.6694732203}, {20, 92.5018522474},  {40, 90.625262994},
                                              {60, 86.5228969273}, {120, 65.1055254027}, {240, 17.1453510648}};
  const auto& ob = shard.observations[0];
  REQUIRE(ob.name == "pSTAT5A_rel");
  for (const auto& [t, value] : reference) {
    const auto j = static_cast<std::size_t>(std::find(ob.times.begin(), ob.times.end(), t) - ob.times.begin());
    REQUIRE(j < ob.times.size());
    CHECK(ob.values[j] == Approx(value).margin(1e-3));
  }
}

TEST_CASE("kinetics scenario: schedule and SBML mistakes name the file, line and key") {
  auto errors = [](const std::vector<std::string>& overrides) {
    return testing::scenario_errors(kScenarios + "spr_screen.yaml", overrides);
  };
  CHECK_THAT(errors({"model.schedule[0].set={B: C1}"}),
             Catch::Contains("'B' is not a state of the model; states are L, A, LA"));
  CHECK_THAT(errors({"model.schedule[1].count=3"}), Catch::Contains("needs 'every'"));
  CHECK_THAT(errors({"solver.sensitivities=[ka]"}), Catch::Contains("forward sensitivities do not cross those jumps"));
  CHECK_THAT(errors({"model.sbml=missing.xml"}), Catch::Contains("no such file 'missing.xml'"));
  CHECK_THAT(testing::scenario_errors(kScenarios + "boehm_stat5.yaml", {"model.units=loose"}),
             Catch::Contains("model.units must be 'strict', 'warn' or 'ignore', got 'loose'"));
}

// Boehm et al. (2014) through `physynth anchor`'s calibration: from a start far from the PEtab
// nominal values (each rate at 1, the middle of PEtab's box in log space) and a 40-point Sobol
// design, the multi-start reaches the benchmark's best log-likelihood, -138.22199694 (AMICI at
// the published maximum-likelihood parameters).
TEST_CASE("kinetics scenario: Boehm STAT5 multi-start from far away reaches the PEtab optimum's log-likelihood") {
  const auto s = load("boehm_stat5.yaml", {});
  core::Diagnostics diagnostics;
  const auto data =
      anchor::read_real_data(testing::repository_path("data/kinetics/boehm/measurements.csv"), diagnostics);
  REQUIRE(data);
  auto pr = engine::calibration_problem(s, *data, diagnostics);
  INFO(diagnostics.report());
  REQUIRE(pr);
  REQUIRE(pr->parameters.size() == 6);
  for (auto& fp : pr->parameters) fp.start = 1.0;
  anchor::CalibrationOptions opt;
  opt.starts = 40;
  opt.seed = 1;
  opt.threads = 2;
  const auto c = anchor::calibrate(*pr, opt);
  INFO(c.message);
  REQUIRE(c.success);
  WARN("Boehm multi-start: " << c.message << ", log-likelihood " << std::setprecision(12) << c.log_likelihood);
  CHECK(c.log_likelihood >= -138.22199694);
  CHECK(c.best_start != 0);
  CHECK(c.starts_at_best >= 2);
  // The identifiable rates are the published ones (k_exp_hetero and k_imp_homo sit on PEtab's bounds).
  const std::map<std::string, double> published = {{"Epo_degradation_BaF3", 0.026982514},
                                                   {"k_exp_homo", 0.0061702281},
                                                   {"k_imp_hetero", 0.016367918},
                                                   {"k_phos", 15766.507}};
  for (const auto& e : c.shared)
    if (published.count(e.name)) CHECK(e.estimate == Approx(published.at(e.name)).epsilon(1e-3));
}
