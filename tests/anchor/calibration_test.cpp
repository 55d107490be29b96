// Calibration (anchor/calibration.h) and the real-data reader (anchor/real_data.h).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include "physynth/anchor/calibration.h"
#include "physynth/anchor/real_data.h"
#include "support/test_problems.h"

using namespace physynth;
using anchor::CalibrationObservable;
using anchor::CalibrationOptions;
using anchor::CalibrationProblem;
using anchor::FreeParameter;
using anchor::NoiseKind;

namespace {

// The initial-rate assay's measurement: v = Vm S / (K + S) at the substrate present.
class InitialRate : public anchor::ObservationFunction {
 public:
  InitialRate(int s, int vm, int k, std::size_t n, std::size_t m) : s_(s), vm_(vm), k_(k), n_(n), m_(m) {}
  double evaluate(double, const double* y, const double* p, double* dy, double* dp) const override {
    const double S = y[s_], Vm = p[vm_], K = p[k_];
    if (dy) {
      std::fill(dy, dy + n_, 0.0);
      std::fill(dp, dp + m_, 0.0);
      dy[s_] = Vm * K / ((K + S) * (K + S));
      dp[vm_] = S / (K + S);
      dp[k_] = -Vm * S / ((K + S) * (K + S));
    }
    return Vm * S / (K + S);
  }
  std::unique_ptr<anchor::ObservationFunction> clone() const override { return std::make_unique<InitialRate>(*this); }

 private:
  int s_, vm_, k_;
  std::size_t n_, m_;
};

const char* kMichaelisMenten = R"(
species: [{name: S, initial: S0}, {name: P, initial: 0}]
reactions: [{equation: "S -> P", rate: michaelis_menten, vmax: Vm, km: K, substrate: S}]
)";

CalibrationProblem puromycin(const std::string& file) {
  const core::BuiltModel built = testing::network(kMichaelisMenten);
  const core::Model& m = *built.model;
  core::Diagnostics diags;
  const auto data = anchor::read_real_data(testing::repository_path(file), diags);
  REQUIRE(data);
  CalibrationProblem pr;
  pr.model = built.model;
  pr.ode.rtol = 1e-10;
  pr.ode.atol = 1e-12;
  pr.observables.push_back({"rate",
                            std::make_shared<InitialRate>(m.state_index("S"), m.parameter_index("Vm"),
                                                          m.parameter_index("K"), m.num_states(), m.num_parameters()),
                            NoiseKind::kAdditive, 0.0});
  pr.parameters.push_back({"Vm", m.parameter_index("Vm"), 1.0, 1000.0, true, false, 100.0});
  pr.parameters.push_back({"K", m.parameter_index("K"), 1e-3, 10.0, true, false, 1.0});
  for (const auto& u : data->units) {
    anchor::CalibrationUnit cu;
    cu.id = u.id;
    cu.parameters = testing::parameters(built, {{"S0", u.covariates.at("S0")}, {"Vm", 1.0}, {"K", 1.0}});
    for (const auto& r : u.series.at(0).readings) cu.measurements.push_back({0, r.time, r.value, r.sd});
    pr.units.push_back(cu);
  }
  return pr;
}

}  // namespace

TEST_CASE("calibrate: Puromycin (treated) gives Bates & Watts' Vm, K and standard errors") {
  const CalibrationProblem pr = puromycin("data/kinetics/puromycin/treated.csv");
  CalibrationOptions opt;
  opt.starts = 8;
  opt.seed = 3;
  const auto s = anchor::calibrate(pr, opt);
  INFO(s.message);
  REQUIRE(s.success);
  REQUIRE(s.readings == 12);
  REQUIRE(s.shared.size() == 2);
  // Bates & Watts 1988 and R's nls: Vm = 212.684 (SE 6.947), K = 0.064121 (SE 0.008281), SSE 1195.45.
  CHECK(s.shared[0].estimate == Approx(212.684).epsilon(1e-4));
  CHECK(s.shared[1].estimate == Approx(0.064121).epsilon(1e-4));
  // The standard errors are of ln θ here: SE(θ) = θ SE(ln θ) to first order.
  CHECK(s.shared[0].estimate * s.shared[0].se == Approx(6.947).epsilon(2e-3));
  CHECK(s.shared[1].estimate * s.shared[1].se == Approx(0.008281).epsilon(2e-3));
  // ML sigma^2 = SSE / n.
  CHECK(s.sigma[0] == Approx(std::sqrt(1195.45 / 12.0)).epsilon(1e-4));
  CHECK(s.shared[0].lower < 212.684);
  CHECK(s.shared[0].upper > 212.684);
  CHECK(s.starts_at_best >= 4);
  // The log-likelihood from Ceres' cost (with the sqrt(2 (ln sigma + c)) terms) is the profiled one.
  CHECK(s.starts[static_cast<std::size_t>(s.best_start)].log_likelihood == Approx(s.log_likelihood).epsilon(1e-8));
  CHECK(s.log_likelihood == Approx(-6.0 * (std::log(2.0 * M_PI * 1195.45 / 12.0) + 1.0)).epsilon(1e-6));
}

TEST_CASE(
    "calibrate: Puromycin (untreated) matches nls, and the same starts give the same bytes for any thread count") {
  const CalibrationProblem pr = puromycin("data/kinetics/puromycin/untreated.csv");
  CalibrationOptions opt;
  opt.starts = 6;
  opt.threads = 1;
  const auto one = anchor::calibrate(pr, opt);
  opt.threads = 2;
  const auto two = anchor::calibrate(pr, opt);
  REQUIRE(one.success);
  CHECK(one.shared[0].estimate == Approx(160.280).epsilon(1e-4));
  CHECK(one.shared[1].estimate == Approx(0.047708).epsilon(1e-4));
  CHECK(one.shared[0].estimate == two.shared[0].estimate);
  CHECK(one.shared[1].estimate == two.shared[1].estimate);
  CHECK(one.log_likelihood == two.log_likelihood);
  for (std::size_t i = 0; i < one.starts.size(); ++i)
    CHECK(one.starts[i].log_likelihood == two.starts[i].log_likelihood);
}

namespace {

// A <-> B from A0 = 1, observed at 12 times with additive noise.
struct Reversible {
  core::BuiltModel built = testing::network(testing::kReversible);
  std::vector<double> times{0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0};

  CalibrationProblem problem(double kf, double kr, double sigma, NoiseKind noise, std::uint64_t seed) const {
    const core::Model& m = *built.model;
    CalibrationProblem pr;
    pr.model = built.model;
    pr.ode.rtol = 1e-10;
    pr.ode.atol = 1e-12;
    pr.observables.push_back(
        {"A", anchor::observe_state(m.state_index("A"), m.num_states(), m.num_parameters()), noise, 0.0});
    pr.parameters.push_back({"kf", m.parameter_index("kf"), 0.01, 100.0, true, false, 1.0});
    pr.parameters.push_back({"kr", m.parameter_index("kr"), 0.01, 100.0, true, false, 1.0});
    anchor::CalibrationUnit u;
    u.id = "run";
    u.parameters = testing::parameters(built, {{"A0", 1.0}, {"B0", 0.0}, {"kf", kf}, {"kr", kr}});
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> e(0.0, 1.0);
    for (const double t : times) {
      const double a = testing::reversible_a(t, 1.0, 0.0, kf, kr);
      const double v = noise == NoiseKind::kAdditive       ? a + sigma * e(rng)
                       : noise == NoiseKind::kProportional ? a * (1.0 + sigma * e(rng))
                                                           : a * std::exp(sigma * e(rng));
      u.measurements.push_back({0, t, v, 0.0});
    }
    pr.units.push_back(u);
    return pr;
  }
};

}  // namespace

TEST_CASE("calibrate: an estimate the readings do not determine is flagged, a determined one is not") {
  // P -> Q runs on k2, which the initial rate (of S alone) never sees: its standard error is
  // infinite, and the value reported is wherever the fit left it.
  const core::BuiltModel built = testing::network(R"(
species: [{name: S, initial: S0}, {name: P, initial: 0}, {name: Q, initial: 0}]
reactions:
  - {equation: "S -> P", rate: michaelis_menten, vmax: Vm, km: K, substrate: S}
  - {equation: "P -> Q", rate: mass_action, kf: k2}
)");
  const core::Model& m = *built.model;
  CalibrationProblem pr = puromycin("data/kinetics/puromycin/treated.csv");
  const auto s0 = static_cast<std::size_t>(pr.model->parameter_index("S0"));
  pr.model = built.model;
  pr.observables[0].function = std::make_shared<InitialRate>(
      m.state_index("S"), m.parameter_index("Vm"), m.parameter_index("K"), m.num_states(), m.num_parameters());
  pr.parameters = {{"Vm", m.parameter_index("Vm"), 1.0, 1000.0, true, false, 100.0},
                   {"K", m.parameter_index("K"), 1e-3, 10.0, true, false, 1.0},
                   {"k2", m.parameter_index("k2"), 1e-3, 10.0, true, false, 0.5}};
  for (auto& u : pr.units)
    u.parameters = testing::parameters(built, {{"S0", u.parameters[s0]}, {"Vm", 1.0}, {"K", 1.0}, {"k2", 1.0}});
  CalibrationOptions opt;
  opt.starts = 2;
  opt.threads = 1;
  const auto s = anchor::calibrate(pr, opt);
  INFO(s.message);
  REQUIRE(s.success);
  REQUIRE(s.shared.size() == 3);
  CHECK(s.shared[0].estimate == Approx(212.684).epsilon(1e-4));
  CHECK(s.shared[0].determined);
  CHECK(s.shared[1].determined);
  CHECK_FALSE(s.shared[2].determined);
  CHECK(s.sigmas.at(0).determined);
  CHECK(anchor::undetermined(s) == std::vector<std::string>{"k2"});
}

TEST_CASE("calibrate: a sigma nothing depends on (no reading without an sd of its own) is not estimated") {
  CalibrationOptions opt;
  opt.starts = 2;
  opt.threads = 1;
  const auto plain = anchor::calibrate(puromycin("data/kinetics/puromycin/treated.csv"), opt);
  REQUIRE(plain.success);
  SECTION("an observable without readings") {
    CalibrationProblem pr = puromycin("data/kinetics/puromycin/treated.csv");
    pr.observables.push_back(pr.observables[0]);
    pr.observables[1].name = "unseen";
    const auto s = anchor::calibrate(pr, opt);
    INFO(s.message);
    REQUIRE(s.success);
    REQUIRE(s.sigmas.size() == 1);  // sigma_rate alone: before, sigma_unseen was fitted and NOT DETERMINED
    CHECK(s.sigmas[0].name == "sigma_rate");
    CHECK(anchor::undetermined(s).empty());
    CHECK(anchor::sigma_not_estimated(pr, s) == std::vector<std::string>{"unseen"});
    CHECK(std::isnan(s.sigma[1]));
    // The same fit as without the observable.
    CHECK(s.shared[0].estimate == Approx(plain.shared[0].estimate).epsilon(1e-9));
    CHECK(s.shared[1].estimate == Approx(plain.shared[1].estimate).epsilon(1e-9));
    CHECK(s.log_likelihood == Approx(plain.log_likelihood).epsilon(1e-12));
  }
  SECTION("an observable whose readings all have their own sd") {
    CalibrationProblem pr = puromycin("data/kinetics/puromycin/treated.csv");
    pr.observables.push_back(pr.observables[0]);
    pr.observables[1].name = "with_sd";
    for (auto& u : pr.units) {
      const auto readings = u.measurements;
      for (const auto& m : readings) u.measurements.push_back({1, m.time, m.value, 10.0});
    }
    const auto s = anchor::calibrate(pr, opt);
    INFO(s.message);
    REQUIRE(s.success);
    REQUIRE(s.sigmas.size() == 1);
    CHECK(s.sigmas[0].name == "sigma_rate");
    CHECK(anchor::sigma_not_estimated(pr, s) == std::vector<std::string>{"with_sd"});
    CHECK(std::isnan(s.sigma[1]));
    CHECK(std::isfinite(s.log_likelihood));
  }
}

TEST_CASE("calibrate: 95% intervals cover the true rate constants in about 95% of 50 seeded repeats") {
  const Reversible r;
  const double kf = 0.8, kr = 0.3;
  int covered_kf = 0, covered_kr = 0, covered_both = 0;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    auto pr = r.problem(kf, kr, 0.02, NoiseKind::kAdditive, seed);
    pr.ode.method = solvers::Method::kRosenbrock;  // (the Puromycin and noise-kind tests run CVODES)
    CalibrationOptions opt;
    opt.starts = 3;
    opt.threads = 1;
    const auto s = anchor::calibrate(pr, opt);
    REQUIRE(s.success);
    const bool a = s.shared[0].lower <= kf && kf <= s.shared[0].upper;
    const bool b = s.shared[1].lower <= kr && kr <= s.shared[1].upper;
    covered_kf += a;
    covered_kr += b;
    covered_both += a && b;
  }
  INFO("kf covered " << covered_kf << "/50, kr " << covered_kr << "/50");
  // Binomial(50, 0.95): 44 or more with probability 0.96. Intervals without the small-sample
  // correction (normal quantile, sigma^2 = SSE/n) cover about 88% here.
  CHECK(covered_kf >= 44);
  CHECK(covered_kr >= 44);
  CHECK(covered_kf <= 50);
  CHECK(covered_both >= 40);
}

TEST_CASE("calibrate: proportional and log-normal noise recover their sigma, with exact Jacobians (Ceres' check)") {
  const Reversible r;
  for (const NoiseKind noise : {NoiseKind::kProportional, NoiseKind::kLogNormal}) {
    INFO(anchor::noise_name(noise));
    double sum = 0.0;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      const auto pr = r.problem(0.8, 0.3, 0.05, noise, seed);
      CalibrationOptions opt;
      opt.starts = seed == 1 ? 1 : 2;
      opt.threads = 1;
      opt.check_gradients = seed == 1;  // a failed check fails the fit
      const auto s = anchor::calibrate(pr, opt);
      INFO(s.message);
      REQUIRE(s.success);
      REQUIRE(s.sigmas.size() == 1);
      sum += s.sigma[0];
      CHECK(s.starts[static_cast<std::size_t>(s.best_start)].log_likelihood == Approx(s.log_likelihood).epsilon(1e-6));
    }
    // ML sigma is biased low by about sqrt((n - k) / n) = 0.91 with 12 readings and 2 parameters.
    CHECK(sum / 10.0 == Approx(0.05 * std::sqrt(10.0 / 12.0)).epsilon(0.15));
  }
}

TEST_CASE("calibrate: combined noise recovers its additive and proportional sigmas and the rates, exact Jacobians") {
  // A <-> B from A0 = 0.2, 2 and 20 (three units): readings m = f (1 + 0.05 e1) + 0.02 e2, the
  // engine's sensor with multiplicative_sd and additive_sd, variance 0.02² + 0.05² f².
  const Reversible r;
  const core::Model& m = *r.built.model;
  const double kf = 0.8, kr = 0.3, sa = 0.02, sp = 0.05;
  double sum_a = 0.0, sum_p = 0.0;
  int covered = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    CalibrationProblem pr = r.problem(kf, kr, 0.0, NoiseKind::kCombined, seed);
    pr.units.clear();
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> e(0.0, 1.0);
    for (const double a0 : {0.2, 2.0, 20.0}) {
      anchor::CalibrationUnit u;
      u.id = "A0=" + std::to_string(a0);
      u.parameters = testing::parameters(r.built, {{"A0", a0}, {"B0", 0.0}, {"kf", kf}, {"kr", kr}});
      for (const double t : r.times) {
        const double f = testing::reversible_a(t, a0, 0.0, kf, kr);
        u.measurements.push_back({0, t, f * (1.0 + sp * e(rng)) + sa * e(rng), 0.0});
      }
      pr.units.push_back(u);
    }
    REQUIRE(m.num_parameters() == pr.units[0].parameters.size());
    CalibrationOptions opt;
    opt.starts = seed == 1 ? 1 : 2;
    opt.threads = 1;
    opt.check_gradients = seed == 1;  // a failed check fails the fit
    const auto s = anchor::calibrate(pr, opt);
    INFO("seed " << seed << ": " << s.message);
    REQUIRE(s.success);
    REQUIRE(s.sigmas.size() == 2);
    CHECK(s.sigmas[0].name == "sigma_A");
    CHECK(s.sigmas[1].name == "sigma_proportional_A");
    // Ceres' σ (it stops at a relative change of cost of 1e-10, σ being a flat direction) and the profile's.
    CHECK(s.sigmas[0].estimate == Approx(s.sigma[0]).epsilon(2e-3));
    CHECK(s.sigmas[1].estimate == Approx(s.sigma_proportional[0]).epsilon(2e-3));
    // The profile (Newton in ln σ, ln σ_p) at the optimum gives Ceres' own log-likelihood.
    CHECK(s.starts[static_cast<std::size_t>(s.best_start)].log_likelihood == Approx(s.log_likelihood).epsilon(1e-6));
    sum_a += s.sigma[0];
    sum_p += s.sigma_proportional[0];
    covered += s.shared[0].lower <= kf && kf <= s.shared[0].upper && s.shared[1].lower <= kr && kr <= s.shared[1].upper;
  }
  CHECK(sum_a / 10.0 == Approx(sa).epsilon(0.25));
  CHECK(sum_p / 10.0 == Approx(sp).epsilon(0.15));
  CHECK(covered >= 8);
}

TEST_CASE("calibrate: combined noise takes no given sigma") {
  const Reversible r;
  CalibrationProblem pr = r.problem(0.8, 0.3, 0.02, NoiseKind::kAdditive, 1);
  pr.observables[0].noise = NoiseKind::kCombined;
  pr.observables[0].sigma = 0.02;
  const auto s = anchor::calibrate(pr, CalibrationOptions{});
  CHECK_FALSE(s.success);
  CHECK(s.message.find("combined noise estimates both of its sigmas") != std::string::npos);
}

TEST_CASE("calibrate: per-unit rates of a fleet give the population's median and spread") {
  // 40 units decaying at k_u ~ lognormal(ln 0.5, 0.3), each read 8 times with sd 0.01.
  const core::BuiltModel built = testing::network(testing::kDecay);
  const core::Model& m = *built.model;
  CalibrationProblem pr;
  pr.model = built.model;
  pr.ode.rtol = 1e-11;  // Ceres' gradient check differentiates the solves numerically
  pr.ode.atol = 1e-14;
  pr.ode.method = solvers::Method::kRosenbrock;  // as solver.method auto picks (CVODES: 10x the time)
  pr.observables.push_back({"A", anchor::observe_state(0, 1, m.num_parameters()), NoiseKind::kAdditive, 0.0});
  pr.parameters.push_back({"k", m.parameter_index("k"), 0.01, 10.0, true, true, 1.0});
  std::mt19937_64 rng(11);
  std::normal_distribution<double> e(0.0, 1.0);
  for (int u = 0; u < 40; ++u) {
    const double k = std::exp(std::log(0.5) + 0.3 * e(rng));
    anchor::CalibrationUnit cu;
    cu.id = "unit_" + std::to_string(u);
    cu.parameters = testing::parameters(built, {{"A0", 1.0}, {"k", k}});
    for (const double t : {0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0})
      cu.measurements.push_back({0, t, testing::decay(t, 1.0, k) + 0.01 * e(rng), 0.0});
    pr.units.push_back(cu);
  }
  CalibrationOptions opt;
  opt.starts = 1;  // from the given start, where Ceres' numerical derivatives are accurate enough to compare
  opt.check_gradients = true;
  REQUIRE(anchor::calibrate(pr, opt).success);
  opt.starts = 3;
  opt.check_gradients = false;
  const auto s = anchor::calibrate(pr, opt);
  INFO(s.message);
  REQUIRE(s.success);
  REQUIRE(s.per_unit.size() == 40);
  REQUIRE(s.population.size() == 1);
  const auto& p = s.population[0];
  CHECK(p.log);
  CHECK(p.mean_lower <= std::log(0.5));
  CHECK(std::log(0.5) <= p.mean_upper);
  CHECK(p.sd == Approx(0.3).epsilon(0.25));
  CHECK(p.sd <= p.raw_sd);
  CHECK(s.sigma[0] == Approx(0.01).epsilon(0.15));
}

TEST_CASE("calibrate: a shared parameter's uncertainty, which moves every unit together, does not shrink the spread") {
  // 30 units lose A by two first-order paths: to B at a shared kb = 0.1 and away at their own
  // k_u ~ lognormal(ln 0.5, 0.2). A is read precisely, so each unit's kb + k_u is sharp; B, which
  // alone separates kb from k_u, is read with noise of sd 1, so kb is loose, and its error shifts every
  // k_u the same way. That common part is most of the estimates' marginal variances, which the
  // independent-estimates correction (raw variance less their mean) would take off the spread;
  // each unit's own part is tiny, so the spread must stay what the estimates show.
  const core::BuiltModel built = testing::network(R"(
species: [{name: A, initial: A0}, {name: B, initial: 0}]
reactions: [{equation: "A -> B", k: kb}, {equation: "A -> ", k: k}]
)");
  const core::Model& m = *built.model;
  CalibrationProblem pr;
  pr.model = built.model;
  pr.ode.rtol = 1e-10;
  pr.ode.atol = 1e-13;
  pr.ode.method = solvers::Method::kRosenbrock;  // as solver.method auto picks (CVODES: 10x the time)
  pr.observables.push_back({"A", anchor::observe_state(0, 2, m.num_parameters()), NoiseKind::kAdditive, 0.001});
  pr.observables.push_back({"B", anchor::observe_state(1, 2, m.num_parameters()), NoiseKind::kAdditive, 1.0});
  pr.parameters.push_back({"kb", m.parameter_index("kb"), 0.001, 1.0, true, false, 0.2});
  pr.parameters.push_back({"k", m.parameter_index("k"), 0.01, 10.0, true, true, 1.0});
  std::mt19937_64 rng(5);
  std::normal_distribution<double> e(0.0, 1.0);
  const double kb = 0.1;
  for (int u = 0; u < 30; ++u) {
    const double k = std::exp(std::log(0.5) + 0.2 * e(rng)), r = k + kb;
    anchor::CalibrationUnit cu;
    cu.id = "unit_" + std::to_string(u);
    cu.parameters = testing::parameters(built, {{"A0", 1.0}, {"kb", kb}, {"k", k}});
    for (const double t : {0.5, 1.0, 2.0, 3.0, 4.0}) {
      cu.measurements.push_back({0, t, std::exp(-r * t) + 0.001 * e(rng), 0.0});
      cu.measurements.push_back({1, t, kb / r * (1.0 - std::exp(-r * t)) + 1.0 * e(rng), 0.0});
    }
    pr.units.push_back(cu);
  }
  CalibrationOptions opt;
  opt.starts = 3;
  const auto s = anchor::calibrate(pr, opt);
  INFO(s.message);
  REQUIRE(s.success);
  const auto& p = s.population[0];
  double mean_se2 = 0.0;
  for (const auto& e : s.per_unit) mean_se2 += e.se * e.se / static_cast<double>(s.per_unit.size());
  const double independent = std::sqrt(std::max(p.raw_sd * p.raw_sd - mean_se2, 0.0));
  WARN("kb " << s.shared[0].estimate << " (se of ln " << s.shared[0].se << "); population sd " << p.sd << " (raw "
             << p.raw_sd << ", independent-estimates correction " << independent << "), true 0.2");
  CHECK(p.sd == Approx(0.2).epsilon(0.3));
  CHECK(p.sd > 0.95 * p.raw_sd);
  CHECK(independent < 0.7 * p.sd);
}

TEST_CASE("calibrate: a bad problem is refused with a message naming what is wrong") {
  const Reversible r;
  auto pr = r.problem(0.8, 0.3, 0.02, NoiseKind::kAdditive, 1);
  pr.parameters[0].lower = 0.0;
  auto s = anchor::calibrate(pr, {});
  CHECK_FALSE(s.success);
  CHECK(s.message == "parameter 'kf' is fitted in ln, so its lower bound must be > 0, got 0");
  pr = r.problem(0.8, 0.3, 0.02, NoiseKind::kLogNormal, 1);
  pr.units[0].measurements[3].value = -0.1;
  s = anchor::calibrate(pr, {});
  CHECK(s.message ==
        "unit 'run': observable 'A' has log-normal noise, so its readings must be > 0, got -0.1 at t = 0.6");
  pr = r.problem(0.8, 0.3, 0.02, NoiseKind::kAdditive, 1);
  pr.parameters.clear();
  pr.observables[0].sigma = 0.02;
  CHECK(anchor::calibrate(pr, {}).message == "nothing to fit: no free parameters and every sigma is known");
  CalibrationOptions bad;
  bad.starts = 0;
  CHECK(anchor::calibrate(r.problem(0.8, 0.3, 0.02, NoiseKind::kAdditive, 1), bad).message ==
        "starts must be >= 1, got 0");
}

namespace {

std::string write(const std::string& name, const std::string& text) {
  const std::string path = std::string(PHYSYNTH_TEST_OUTPUT) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::vector<std::string> problems(const std::string& path) {
  core::Diagnostics d;
  const auto data = anchor::read_real_data(path, d);
  CHECK_FALSE(data);
  std::vector<std::string> out;
  for (const auto& x : d.list()) out.push_back(x.format());
  return out;
}

}  // namespace

TEST_CASE("read_real_data: reads units, series, covariates and sd") {
  const std::string path = write("real_ok.csv",
                                 "unit,time,observable,value,sd,units,S0\n"
                                 "a,0,P,0.0,,uM,10\n"
                                 "a,1,P,1.5,0.1,uM,10\n"
                                 "b,0,P,0.1,,uM,20\n"
                                 "a,1,ES,0.02,,uM,10\n"
                                 "b,2,P,3,,uM,20\n");
  core::Diagnostics d;
  const auto data = anchor::read_real_data(path, d);
  INFO(d.report());
  REQUIRE(data);
  CHECK(data->readings() == 5);
  CHECK(data->covariate_columns == std::vector<std::string>{"S0"});
  REQUIRE(data->units.size() == 2);
  CHECK(data->units[0].id == "a");
  CHECK(data->units[0].covariates.at("S0") == 10.0);
  REQUIRE(data->units[0].series.size() == 2);
  CHECK(data->units[0].series[0].readings[1].sd == 0.1);
  CHECK(data->units[0].series[1].observable == "ES");
  CHECK(data->units[1].series[0].readings[1].time == 2.0);
  CHECK(data->observables() == std::vector<std::string>{"P", "ES"});
}

TEST_CASE("read_real_data: every problem is reported with file, line, column and value") {
  const std::string a = write("real_bad.csv",
                              "unit,time,observable,value,sd,S0\n"
                              "a,0,P,nan,,10\n"
                              "a,2,P,1,,10\n"
                              "a,1,P,1,,10\n"
                              "a,3,P,1,-2,10\n"
                              "a,4,P,1,,11\n"
                              "b,x,P,1,,10\n"
                              "b,5,P,1\n");
  CHECK(problems(a) == std::vector<std::string>{
                           a + ":2:7: error: value must be a finite number, got 'nan'",
                           a + ":4:3: error: time 1 is earlier than 2 on line 3 for unit 'a', observable 'P'; each "
                               "unit's readings of an observable must be in non-decreasing time",
                           a + ":5:9: error: sd must be > 0 (or empty for the noise model's), got '-2'",
                           a + ":6:10: error: covariate 'S0' of unit 'a' is 11 here but 10 on line 3; a covariate is "
                               "constant within a unit",
                           a + ":7:3: error: time must be a finite number, got 'x'",
                           a + ":8:1: error: row has 4 fields, the header 6",
                       });
  const std::string b = write("real_header.csv", "unit,t,observable,value\na,0,P,1\n");
  CHECK(problems(b) == std::vector<std::string>{b + ":1:1: error: missing column 'time'; the header must name unit, "
                                                    "time, observable and value (optional: sd, units, covariate "
                                                    "columns)"});
  const std::string c = write("real_units.csv", "unit,time,observable,value,units\na,0,P,1,uM\na,1,P,2,nM\n");
  CHECK(problems(c) ==
        std::vector<std::string>{c + ":3:9: error: units 'nM' of observable 'P' differ from 'uM' on line 2"});
  CHECK(problems(write("real_empty.csv", "")).size() == 1);
  // A quote never closed would read the rest of its line as one field, commas and all (found by
  // fuzz/real_data_fuzz.cpp: a header read that way had one column whose name held five commas).
  const std::string q = write("real_quote.csv", "unit,time,observable,value,S\"0,k\na,0,P,1,2,3\n");
  CHECK(problems(q) == std::vector<std::string>{
                           q + ":1:29: error: the header's quote is never closed (a quoted name must end with a quote "
                               "before the next comma); got \"0,k"});
  const std::string r = write("real_quote_row.csv", "unit,time,observable,value\na,0,P,1\n\"b,1,P,2\n");
  CHECK(problems(r) == std::vector<std::string>{
                           r + ":3:1: error: this quote is never closed (a quoted field must end with a quote before "
                               "the next comma)"});
}

TEST_CASE("real data: names with commas (read from quotes) are written quoted, and read back the same") {
  const std::string path = write("real_comma.csv", "unit,time,observable,value,units,\"S,0\"\n"
                                                   "\"well,1\",0,\"P,total\",1.5,\"mg,dry\",10\n");
  core::Diagnostics d;
  const auto data = anchor::read_real_data(path, d);
  INFO(d.report());
  REQUIRE(data);
  CHECK(data->units[0].id == "well,1");
  const std::string text = anchor::format_real_data(*data);
  CHECK(text == "unit,time,observable,value,units,\"S,0\"\n\"well,1\",0,\"P,total\",1.5,\"mg,dry\",10\n");
  const auto back = anchor::read_real_data(write("real_comma_again.csv", text), d);
  REQUIRE(back);
  CHECK(anchor::format_real_data(*back) == text);
}
