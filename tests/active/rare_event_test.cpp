// Rare events on demand (active/rare_event.h) on a scenario whose event has a closed form
// (tests/fixtures/rare_event/lognormal_tail.yaml: ln y(2) ~ N(-2, 0.29)): the probability near
// 1e-4 and 1e-6 against the closed form with at most 10^4 simulations (brute force would need
// 10^6 and 10^8 for 10 %), the conditioned samples' weighted law against the exact conditional
// law (Kolmogorov-Smirnov), the same bytes for any thread count, the run folder, and the
// scenario's mistakes reported where they are.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "physynth/active/rare_event.h"
#include "physynth/engine/run.h"
#include "support/scenarios.h"

using namespace physynth;

namespace {

const std::string kTail = std::string(PHYSYNTH_TEST_DIR) + "/fixtures/rare_event/lognormal_tail.yaml";
constexpr double kMean = -2.0, kVar = 0.29;  // of ln y(2); ln A ~ N(0, 0.25), k ~ N(1, 0.01)

double normal_sf(double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); }
double tail_probability(double c) { return normal_sf((std::log(c) - kMean) / std::sqrt(kVar)); }

// Exact draws of (A, k) given y(2) > c: ln y from its truncated normal by inversion, then
// ln A given ln y from the bivariate normal (Cov(ln A, ln y) = 0.25), k = (ln A - ln y) / 2.
std::vector<std::pair<double, double>> exact_conditional(double c, std::size_t n) {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double sd = std::sqrt(kVar), lo = 1.0 - normal_sf((std::log(c) - kMean) / sd);
  std::vector<std::pair<double, double>> out;
  for (std::size_t i = 0; i < n; ++i) {
    // Invert Phi by bisection: slow but exact enough for a test.
    const double target = lo + (1.0 - lo) * u(rng);
    double a = -40.0, b = 40.0;
    for (int it = 0; it < 200; ++it) {
      const double m = 0.5 * (a + b);
      (1.0 - normal_sf(m) < target ? a : b) = m;
    }
    const double s = kMean + sd * 0.5 * (a + b);
    const double ln_a = 0.25 / kVar * (s - kMean) + std::sqrt(0.25 - 0.25 * 0.25 / kVar) * normal(rng);
    out.emplace_back(std::exp(ln_a), (ln_a - s) / 2.0);
  }
  return out;
}

// Two-sample Kolmogorov-Smirnov distance between a weighted sample and an unweighted one.
double weighted_ks(std::vector<std::pair<double, double>> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double total = 0.0;
  for (const auto& [x, w] : a) total += w;
  double fa = 0.0, d = 0.0;
  std::size_t j = 0;
  for (std::size_t i = 0; i < a.size();) {
    const double x = a[i].first;
    while (i < a.size() && a[i].first == x) fa += a[i++].second / total;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::abs(fa - static_cast<double>(j) / static_cast<double>(b.size())));
  }
  return d;
}

double effective_size(const std::vector<double>& w) {
  double s = 0.0, s2 = 0.0;
  for (double v : w) {
    s += v;
    s2 += v * v;
  }
  return s * s / s2;
}

std::size_t label(const engine::Shard& sh, const std::string& name) {
  const auto it = std::find(sh.label_names.begin(), sh.label_names.end(), name);
  REQUIRE(it != sh.label_names.end());
  return static_cast<std::size_t>(it - sh.label_names.begin());
}

// The written samples' (A, k) with their conditional weights, from the run folder.
struct Written {
  std::vector<double> A, k, weight, event, prior_weight;
};
Written read_written(const std::string& dir, double c) {
  Written out;
  for (const auto& f : std::filesystem::directory_iterator(dir))
    if (f.path().extension() == ".h5") {
      const engine::Shard sh = engine::read_hdf5(f.path().string());
      const std::size_t L = sh.num_labels(), e = label(sh, "event"), pw = label(sh, "prior_weight");
      for (std::size_t i = 0; i < sh.samples; ++i) {
        out.A.push_back(sh.parameters[i * 2]);
        out.k.push_back(sh.parameters[i * 2 + 1]);
        out.event.push_back(sh.labels[i * L + e]);
        out.prior_weight.push_back(sh.labels[i * L + pw]);
        out.weight.push_back(out.event.back() * out.prior_weight.back());
        // The written sample is the one the sampler saw: in the event exactly when it says so.
        CHECK((sh.labels[i * L + label(sh, "y_end")] > c ? 1.0 : 0.0) == out.event.back());
      }
    }
  return out;
}

active::RareEventEstimate run(const std::string& method, const std::string& condition, const std::string& dir,
                              int threads = 0, std::vector<std::string> more = {}) {
  more.push_back("sampling.method=" + method);
  more.push_back("sampling.condition=" + condition);
  const auto s = testing::load_scenario(kTail, more);
  engine::RunOptions o;
  o.output_directory = dir;
  o.overwrite = true;
  o.threads = threads;
  active::RareEventEstimate e;
  const auto summary = active::run_rare_event(s, o, &e);
  INFO(summary.message);
  REQUIRE(summary.completed);
  return e;
}

const std::string out_dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/rare_event";

}  // namespace

TEST_CASE("rare events: importance sampling estimates 1e-4 and 1e-6 within 10 % with under 10^4 simulations") {
  for (const double c : {1.0, 1.75}) {
    const double truth = tail_probability(c);
    const auto e = run("importance", "y_end > " + core::format_number(c), out_dir + "/is");
    INFO("c = " << c << ": P = " << e.probability << " (truth " << truth << "), cv " << e.cv << ", "
                << e.simulations << " simulations");
    CHECK(e.reached);
    CHECK(e.message.empty());
    CHECK(std::abs(e.probability / truth - 1.0) < 0.1);
    CHECK(std::abs(e.probability / truth - 1.0) < 4.0 * e.cv);  // its own precision is honest
    CHECK(e.cv < 0.05);
    CHECK(e.simulations <= 10000);
    // P = mean(event * prior_weight) over the written samples, as the manifest says.
    const Written w = read_written(out_dir + "/is", c);
    double sum = 0.0;
    for (double v : w.weight) sum += v;
    CHECK(sum / static_cast<double>(w.weight.size()) == Approx(e.probability).epsilon(1e-12));
  }
}

TEST_CASE("rare events: subset simulation estimates 1e-4 and 1e-6 within its coefficient of variation") {
  for (const double c : {1.0, 1.75}) {
    const double truth = tail_probability(c);
    const auto e = run("splitting", "y_end > " + core::format_number(c), out_dir + "/sus");
    INFO("c = " << c << ": P = " << e.probability << " (truth " << truth << "), cv " << e.cv << ", "
                << e.simulations << " simulations");
    CHECK(e.reached);
    CHECK(std::abs(std::log(e.probability / truth)) < 3.0 * e.cv);
    CHECK(e.cv < 0.5);
    CHECK(e.simulations <= 10000);
    const Written w = read_written(out_dir + "/sus", c);
    CHECK(w.event.size() == 2000);
    CHECK(std::all_of(w.event.begin(), w.event.end(), [](double v) { return v == 1.0; }));
    CHECK(w.prior_weight.front() == e.probability);
  }
}

TEST_CASE("rare events: the conditioned samples follow the exact conditional law") {
  const auto exact = exact_conditional(1.0, 20000);
  std::vector<double> A, k;
  for (const auto& [a, kk] : exact) {
    A.push_back(a);
    k.push_back(kk);
  }
  for (const std::string method : {"importance", "splitting"}) {
    // Subset simulation's samples are Markov chain states grown from the last level's seeds,
    // themselves states of level_probability x samples_per_level chains: at most that many are
    // independent. At 1000 per level (100 chains) the KS distance over 2000 samples reaches 0.1,
    // so the law is checked at 10000 (1000 chains), where it stays below 0.045 over six seeds.
    const std::size_t per_level = method == "importance" ? 1000 : 10000;
    run(method, "y_end > 1", out_dir + "/law", 0, {"sampling.samples_per_level=" + std::to_string(per_level)});
    const Written w = read_written(out_dir + "/law", 1.0);
    std::vector<std::pair<double, double>> wa, wk;
    std::vector<double> positive;
    for (std::size_t i = 0; i < w.A.size(); ++i)
      if (w.weight[i] > 0.0) {
        wa.emplace_back(w.A[i], w.weight[i]);
        wk.emplace_back(w.k[i], w.weight[i]);
        positive.push_back(w.weight[i]);
      }
    // Effective sizes: Kish's for importance weights; the independent chains for splitting.
    const double n = method == "importance" ? effective_size(positive) : 0.1 * static_cast<double>(per_level);
    const double critical = 1.95 * std::sqrt(1.0 / n + 1.0 / static_cast<double>(exact.size()));  // alpha 0.001
    const double da = weighted_ks(wa, A), dk = weighted_ks(wk, k);
    INFO(method << ": KS distance A " << da << ", k " << dk << ", critical " << critical << " (n_eff " << n << ")");
    CHECK(da < critical);
    CHECK(dk < critical);
    // Not the prior: the conditioned A sits far above the prior's median of 1.
    double mean_a = 0.0, total = 0.0;
    for (const auto& [a, wt] : wa) {
      mean_a += a * wt;
      total += wt;
    }
    CHECK(mean_a / total > 2.0);
  }
}

TEST_CASE("rare events: the same estimate and samples for one thread or two") {
  for (const std::string method : {"importance", "splitting"}) {
    const auto one = run(method, "y_end > 1", out_dir + "/t1", 1);
    const auto two = run(method, "y_end > 1", out_dir + "/t2", 2);
    CHECK(one.probability == two.probability);
    CHECK(one.simulations == two.simulations);
    const Written a = read_written(out_dir + "/t1", 1.0), b = read_written(out_dir + "/t2", 1.0);
    CHECK(a.A == b.A);
    CHECK(a.k == b.k);
    CHECK(a.prior_weight == b.prior_weight);
  }
}

TEST_CASE("rare events: a conditioned scenario is not run as an ordinary one") {
  const auto s = testing::load_scenario(kTail, {});
  engine::RunOptions o;
  o.output_directory = out_dir + "/plain";
  o.overwrite = true;
  const auto summary = engine::run_scenario(s, o);
  CHECK_FALSE(summary.completed);
  CHECK(summary.refused);
  CHECK_THAT(summary.message, Catch::Contains("rare-event sampler"));
  engine::ShardGenerator g(s, 1);
  CHECK_THROWS_WITH(g.samples(0, 4), Catch::Contains("sampling.condition"));
}

TEST_CASE("rare events: a folder the run would refuse is refused before any simulation") {
  run("importance", "y_end > 1", out_dir + "/taken");
  const auto s = testing::load_scenario(kTail, {});
  engine::RunOptions o;
  o.output_directory = out_dir + "/taken";  // holds that run; no overwrite
  active::RareEventEstimate e;
  const auto summary = active::run_rare_event(s, o, &e);
  CHECK_FALSE(summary.completed);
  CHECK(summary.refused);
  CHECK_THAT(summary.message, Catch::Contains("already holds a run") && Catch::Contains("--overwrite"));
  CHECK(e.simulations == 0);  // the sampler never ran
  CHECK(std::filesystem::exists(out_dir + "/taken/manifest.json"));  // and the earlier run is whole
}

TEST_CASE("rare events: the scenario's mistakes at file:line:column") {
  using testing::scenario_errors;
  CHECK_THAT(scenario_errors(kTail, {"sampling.condition=y_end"}), Catch::Contains("must compare two expressions"));
  CHECK_THAT(scenario_errors(kTail, {"sampling.condition=y_end > 1 && A > 2"}),
             Catch::Contains("one comparison") && Catch::Contains("'&&'"));
  CHECK_THAT(scenario_errors(kTail, {"sampling.condition=y_ned > 1"}),
             Catch::Contains("y_ned") && Catch::Contains("y_end, A, k"));
  CHECK_THAT(scenario_errors(kTail, {"sampling.design=sobol"}), Catch::Contains("cannot be combined"));
  CHECK_THAT(scenario_errors(kTail, {"sampling.method=bisection"}), Catch::Contains("importance"));
  CHECK_THAT(scenario_errors(kTail, {"sampling.samples_per_level=50"}), Catch::Contains("samples_per_level"));
  CHECK_THAT(scenario_errors(kTail, {"parameters.A={value: 1}", "parameters.k={value: 1}"}),
             Catch::Contains("no parameter is drawn"));
}
