#include "physynth/active/loop.h"
#include "physynth/core/constants.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>


#include <boost/math/special_functions/erf.hpp>

#include "normal_space.h"
#include "model.h"
#include "rows.h"
#include "physynth/core/sampling.h"
#include "physynth/core/text.h"
#include "physynth/engine/modules.h"
#include "physynth/engine/run.h"

namespace physynth::active {

const char* strategy_name(Strategy s) {
  switch (s) {
    case Strategy::kActive: return "active";
    case Strategy::kRandom: return "random";
    case Strategy::kSobol: return "sobol";
  }
  return "?";
}

namespace {

using detail::Rows;
using detail::Simulator;
using Clock = std::chrono::steady_clock;
// Keys of the loop's simulations: training samples and the test set, apart from each other and
// from any ordinary run's sample indices. The i-th training sample has the same key (and so
// the same noise) under every strategy.
constexpr std::uint64_t kTrainKeys = std::uint64_t{1} << 42;
constexpr std::uint64_t kTestKeys = std::uint64_t{1} << 43;

double normal_quantile(double u) { return -std::sqrt(2.0) * boost::math::erfc_inv(2.0 * u); }

// The training set so far, with each row's sample's prior_weight.
struct Training {
  std::vector<double> x, y, w;
};

// Adds the rows with a target; counts the samples that gave none.
void add(Training& t, const std::vector<double>& x, const std::vector<double>& y, const std::vector<std::size_t>& owner,
         const std::vector<double>& weight, std::size_t f, std::uint64_t* dropped) {
  std::vector<char> used(weight.size(), 0);
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) continue;
    used[owner[i]] = 1;
    t.x.insert(t.x.end(), x.begin() + static_cast<std::ptrdiff_t>(i * f),
               x.begin() + static_cast<std::ptrdiff_t>((i + 1) * f));
    t.y.push_back(y[i]);
    t.w.push_back(weight[owner[i]]);
  }
  for (char u : used) *dropped += u ? 0 : 1;
}

// The training set re-weighted to the prior: as many rows as it has, drawn with probability
// proportional to their prior_weight (systematic resampling, its offset keyed on `key`).
Training resampled(const Training& t, std::size_t f, std::uint64_t seed, std::uint64_t key) {
  const std::size_t n = t.y.size();
  const double total = std::accumulate(t.w.begin(), t.w.end(), 0.0);
  Training r;
  core::CounterRng rng(seed, key, core::stream::kActive);
  const double offset = rng.uniform();
  double acc = 0.0;
  std::size_t j = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const double at = (offset + static_cast<double>(k)) / static_cast<double>(n) * total;
    while (j + 1 < n && acc + t.w[j] < at) acc += t.w[j++];
    r.x.insert(r.x.end(), t.x.begin() + static_cast<std::ptrdiff_t>(j * f),
               t.x.begin() + static_cast<std::ptrdiff_t>((j + 1) * f));
    r.y.push_back(t.y[j]);
    r.w.push_back(1.0);
  }
  return r;
}

// The targeted draws' density: a Gaussian kernel mixture on the probes z_j (weights w_j, width h)
// beside the prior's share s; log of s phi(z) + (1 - s) sum_j w_j N(z; z_j, h^2 I).
struct Proposal {
  std::vector<double> centres, weights;
  double h = 1.0, share = 1.0;
  std::size_t d = 0;
  double log_density(const double* z) const {
    const double prior = detail::log_standard_normal(z, d);
    if (share >= 1.0) return prior;
    std::vector<double> terms{std::log(share) + prior};
    const double norm = -0.5 * static_cast<double>(d) * std::log(2.0 * M_PI * h * h);
    for (std::size_t j = 0; j < weights.size(); ++j) {
      if (weights[j] <= 0.0) continue;
      double s2 = 0.0;
      for (std::size_t k = 0; k < d; ++k) s2 += (z[k] - centres[j * d + k]) * (z[k] - centres[j * d + k]);
      terms.push_back(std::log((1.0 - share) * weights[j]) + norm - 0.5 * s2 / (h * h));
    }
    const double top = *std::max_element(terms.begin(), terms.end());
    double sum = 0.0;
    for (double t : terms) sum += std::exp(t - top);
    return top + std::log(sum);
  }
};

}  // namespace

LoopResult run_loop(const engine::Scenario& s, Strategy strategy, const LoopOptions& o,
                    const std::function<void(const std::string&)>& progress) {
  if (o.rounds < 1 || o.budget < static_cast<std::uint64_t>(2 * o.rounds))
    throw std::invalid_argument("--budget " + std::to_string(o.budget) + " cannot fill " + std::to_string(o.rounds) +
                                " rounds of at least 2 samples");
  if (s.field.present)
    throw std::invalid_argument("a field's plots are fixed by the field; the loop chooses its own samples");
  if (s.rare_event.present)
    throw std::invalid_argument("sampling.condition: a conditioned scenario's samples come from the rare-event "
                                "sampler; drop the condition for the loop");
  if (!(o.space_filling > 0.0 && o.space_filling < 1.0))
    throw std::invalid_argument("the space-filling share must be in (0, 1)");
  // LibTorch, unless the user's model stands in: refused here, before any simulation.
  if (o.model_command.empty()) engine::pinn_runtime();
  Simulator sim(s, o.target, o.covariates, o.threads);
  const std::size_t d = sim.dimension();
  if (d == 0) throw std::invalid_argument("no parameter of the scenario is drawn: there is nowhere to steer samples");
  std::vector<core::Distribution> dists;
  for (const auto& p : s.parameters) dists.push_back(p.distribution);
  const core::Sampler random(core::Design::kRandom, dists, s.seed, o.budget);
  const core::Sampler sobol(core::Design::kSobol, dists, s.seed, o.budget);
  const core::Sampler test_design(core::Design::kRandom, dists, core::mix64(s.seed ^ 0x7e57ull), o.test);

  LoopResult result;
  // The test set: prior samples under keys of their own.
  std::vector<double> test_unit(o.test * d);
  Rows test;
  std::vector<std::uint64_t> test_keys(o.test);
  test_design.unit_points(0, o.test, test_unit.data());
  std::iota(test_keys.begin(), test_keys.end(), kTestKeys);
  test = sim(test_unit, test_keys);
  if (std::none_of(test.y.begin(), test.y.end(), [](double v) { return std::isfinite(v); }))
    throw std::invalid_argument("no test sample has a value of '" + o.target + "' (every one failed or is censored)");
  const std::size_t F = sim.features();
  // Real data: scored every round beside the test set, never trained on.
  Rows real;
  if (o.real) {
    real = sim.real(*o.real, &result.real);
  }

  Training train;
  std::uint64_t next_key = kTrainKeys, random_next = 0, sobol_next = 0;
  const std::uint64_t per_round = o.budget / static_cast<std::uint64_t>(o.rounds);
  // Adds a batch at design points u (n x d) with its origin and sampling log density.
  // `done`: the batch's rows when it was simulated already (under the keys it gets here).
  auto simulate_batch = [&](int round, const std::string& origin, const std::vector<double>& u,
                            const std::vector<double>& log_q, const Rows* done) {
    const std::size_t n = log_q.size();
    std::vector<std::uint64_t> keys(n);
    std::iota(keys.begin(), keys.end(), next_key);
    next_key += n;
    Rows rows;
    if (done)
      rows = *done;
    else
      rows = sim(u, keys);
    std::vector<double> z(d);
    for (std::size_t i = 0; i < n; ++i) {
      LoopSample smp;
      smp.round = round;
      smp.origin = origin;
      smp.key = keys[i];
      smp.unit.assign(u.begin() + static_cast<std::ptrdiff_t>(i * d), u.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
      for (std::size_t k = 0; k < d; ++k) z[k] = normal_quantile(smp.unit[k]);
      smp.log_density = log_q[i];
      smp.prior_weight = std::exp(detail::log_standard_normal(z.data(), d) - log_q[i]);
      smp.target = sim.windows() ? kNaN : rows.y[i];  // windows: a target per window, in the rows
      result.samples.push_back(std::move(smp));
    }
    std::vector<double> weight;
    for (std::size_t i = result.samples.size() - n; i < result.samples.size(); ++i)
      weight.push_back(result.samples[i].prior_weight);
    add(train, rows.x, rows.y, rows.owner, weight, F, &result.dropped);
  };
  auto prior_points = [&](const core::Sampler& design, std::uint64_t& next, std::size_t n,
                          std::vector<double>& u, std::vector<double>& log_q) {
    u.resize(n * d);
    design.unit_points(next, n, u.data());
    next += n;
    log_q.resize(n);
    std::vector<double> z(d);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t k = 0; k < d; ++k) z[k] = normal_quantile(u[i * d + k]);
      log_q[i] = detail::log_standard_normal(z.data(), d);
    }
  };
  // Trains on the set so far, predicts the test set (and `extra` rows after it); reports.
  auto train_and_report = [&](int round, const std::vector<double>& extra, std::vector<double>* extra_mean,
                              std::vector<double>* extra_sd) {
    const auto start = Clock::now();
    std::vector<double> q = test.x;
    q.insert(q.end(), real.x.begin(), real.x.end());
    q.insert(q.end(), extra.begin(), extra.end());
    pinn::RegressorOptions model = o.model;
    model.seed = s.seed + static_cast<std::uint64_t>(round);
    model.threads = 1;  // one thread: the same sums, so the same samples, whatever the thread count
    const Training& fit = o.reweight && strategy == Strategy::kActive
                              ? resampled(train, F, s.seed, kTrainKeys - 1 - static_cast<std::uint64_t>(round))
                              : train;
    const auto [mean, sd] = detail::fit_predict(model, o.model_command, fit.x, fit.y, F, q, round);
    RoundReport r;
    r.strategy = strategy;
    r.round = round;
    r.samples = result.samples.size();
    r.rows = train.y.size();
    const std::size_t rows = test.y.size();
    r.test = detail::error_summary(mean.data(), sd.data(), test.y);
    if (o.real) r.real = detail::error_summary(mean.data() + rows, sd.data() + rows, real.y);
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    result.rounds.push_back(r);
    if (progress)
      progress(std::string(strategy_name(strategy)) + " round " + std::to_string(round) + ": " +
               std::to_string(r.samples) + " samples" +
               (sim.windows() ? " (" + std::to_string(r.rows) + " windows)" : std::string()) + ", test RMSE " +
               core::format_significant(r.test.rmse) +
               (o.real ? ", real RMSE " + core::format_significant(r.real.rmse) : std::string()));
    const auto skip = static_cast<std::ptrdiff_t>(rows + real.y.size());
    if (extra_mean) extra_mean->assign(mean.begin() + skip, mean.end());
    if (extra_sd) extra_sd->assign(sd.begin() + skip, sd.end());
  };

  for (int round = 0; round < o.rounds; ++round) {
    const std::size_t n =
        round + 1 == o.rounds ? static_cast<std::size_t>(o.budget - per_round * static_cast<std::uint64_t>(round))
                              : static_cast<std::size_t>(per_round);
    std::vector<double> u, log_q;
    if (round == 0 || strategy != Strategy::kActive) {
      // Random draws, or Sobol points (also the active loop's start: space-filling).
      const bool use_sobol = strategy != Strategy::kRandom;
      if (round > 0) train_and_report(round, {}, nullptr, nullptr);
      prior_points(use_sobol ? sobol : random, use_sobol ? sobol_next : random_next, n, u, log_q);
      simulate_batch(round, round == 0 ? "initial" : "space-filling", u, log_q, nullptr);
      continue;
    }
    // Active: probes from the prior, scored by the model trained so far before they join it.
    const std::size_t probes = std::max<std::size_t>(
        static_cast<std::size_t>(std::max(1, o.neighbours)),
        static_cast<std::size_t>(std::lround(o.space_filling * static_cast<double>(n))));
    const std::size_t targeted = n > probes ? n - probes : 0;
    std::vector<double> pu, plog;
    prior_points(random, random_next, probes, pu, plog);
    Rows pr;
    // The probes' sampling density is the round's mixture, known only once they are scored:
    // simulate first, record after.
    std::vector<std::uint64_t> pkeys(probes);
    std::iota(pkeys.begin(), pkeys.end(), next_key);
    pr = sim(pu, pkeys);
    std::vector<double> pmean, psd;
    train_and_report(round, pr.x, &pmean, &psd);
    std::vector<double> pz(probes * d), score(probes, 0.0), rows_of(probes, 0.0);
    for (std::size_t i = 0; i < probes * d; ++i) pz[i] = normal_quantile(pu[i]);
    // A probe's score: its rows' mean of |prediction - target| + the members' sd, or either alone
    // (a probe without a target: the disagreement alone; without rows, the median of the others).
    for (std::size_t j = 0; j < pr.y.size(); ++j) {
      const std::size_t owner = pr.owner[j];
      const double error = std::isfinite(pr.y[j]) ? std::abs(pmean[j] - pr.y[j]) : 0.0;
      score[owner] += o.score == Score::kError          ? error
                      : o.score == Score::kDisagreement ? psd[j]
                                                        : error + psd[j];
      rows_of[owner] += 1.0;
    }
    // The model's error on the fresh probes, beside the test set's (synthetic, never trained on).
    double sq = 0.0, counted = 0.0;
    for (std::size_t j = 0; j < pr.y.size(); ++j)
      if (std::isfinite(pr.y[j])) {
        sq += (pmean[j] - pr.y[j]) * (pmean[j] - pr.y[j]);
        counted += 1.0;
      }
    result.rounds.back().probe_rmse = counted > 0.0 ? std::sqrt(sq / counted) : kNaN;
    std::vector<double> scored;
    for (std::size_t j = 0; j < probes; ++j)
      if (rows_of[j] > 0.0) scored.push_back(score[j] /= rows_of[j]);
    std::sort(scored.begin(), scored.end());
    for (std::size_t j = 0; j < probes; ++j)
      if (rows_of[j] == 0.0) score[j] = scored.empty() ? 1.0 : scored[scored.size() / 2];
    // The surrogate over theta: each probe's score averaged with its k - 1 nearest probes'.
    Proposal prop;
    prop.d = d;
    prop.share = o.space_filling;
    prop.centres = pz;
    prop.weights.assign(probes, 0.0);
    const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, o.neighbours)), probes);
    std::vector<std::pair<double, std::size_t>> dist(probes);
    for (std::size_t j = 0; j < probes; ++j) {
      for (std::size_t l = 0; l < probes; ++l) {
        double s2 = 0.0;
        for (std::size_t c = 0; c < d; ++c) s2 += (pz[j * d + c] - pz[l * d + c]) * (pz[j * d + c] - pz[l * d + c]);
        dist[l] = {s2, l};
      }
      std::partial_sort(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(k), dist.end());
      for (std::size_t l = 0; l < k; ++l) prop.weights[j] += score[dist[l].second] / static_cast<double>(k);
    }
    const double total = std::accumulate(prop.weights.begin(), prop.weights.end(), 0.0);
    for (double& w : prop.weights) w = total > 0.0 ? w / total : 1.0 / static_cast<double>(probes);
    prop.h = std::pow(static_cast<double>(probes), -1.0 / (static_cast<double>(d) + 4.0));  // Scott's rule
    // Targeted draws: a probe by weight, then a kernel step; keyed on the sample.
    std::vector<double> tu(targeted * d), tlog(targeted), z(d);
    for (std::size_t i = 0; i < targeted; ++i) {
      const std::uint64_t key = next_key + probes + i;
      core::CounterRng rng(s.seed, key, core::stream::kActive);
      double pick = rng.uniform(), acc = 0.0;
      std::size_t j = 0;
      for (; j + 1 < probes; ++j) {
        acc += prop.weights[j];
        if (pick <= acc) break;
      }
      for (std::size_t c = 0; c < d; ++c) {
        z[c] = pz[j * d + c] + prop.h * rng.normal();
        tu[i * d + c] = detail::standard_normal_cdf(z[c]);
        z[c] = normal_quantile(tu[i * d + c]);  // as the engine will see it (clamped to |z| <= 8)
      }
      tlog[i] = prop.log_density(z.data());
    }
    // The round's samples under the round's mixture density (probes included: they are its prior share).
    for (std::size_t j = 0; j < probes; ++j) plog[j] = prop.log_density(pz.data() + j * d);
    simulate_batch(round, "space-filling", pu, plog, &pr);
    for (std::size_t j = 0; j < probes; ++j) result.samples[result.samples.size() - probes + j].score = score[j];
    simulate_batch(round, "targeted", tu, tlog, nullptr);
  }
  train_and_report(o.rounds, {}, nullptr, nullptr);
  return result;
}

}  // namespace physynth::active
