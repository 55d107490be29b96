#include "physynth/active/rare_event.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <stdexcept>

#include <Eigen/Dense>

#include "physynth/core/random.h"
#include "physynth/core/text.h"
#include "physynth/engine/condition.h"
#include "physynth/engine/ranks.h"
#include "normal_space.h"

namespace physynth::active {

namespace {

using Method = engine::RareEventSpec::Method;
using detail::standard_normal_cdf;
constexpr double kInf = std::numeric_limits<double>::infinity();
// Keys of the sampler's simulations: far above any sample index of an ordinary run.
constexpr std::uint64_t kKeyBase = std::uint64_t{1} << 40;
// Evaluated in blocks of this many samples (a block's trajectories are held in memory).
constexpr std::size_t kBlock = 2048;

// Simulations of the scenario at points of the standard normal space, each under a key of its own.
class Evaluator {
 public:
  Evaluator(const engine::Scenario& s, int threads)
      : generator_(s, threads), response_(s), d_(generator_.dimension()) {}

  std::size_t dimension() const { return d_; }
  std::uint64_t take_key() { return next_key_++; }
  bool in_event(double r) const { return response_.in_event(r); }
  std::uint64_t simulations() const { return simulations_; }
  double closest() const { return closest_; }  // the smallest response seen
  std::uint64_t undefined() const { return undefined_; }

  // The responses at the points z (count x d), sample i keyed on keys[i].
  std::vector<double> operator()(const std::vector<double>& z, const std::vector<std::uint64_t>& keys) {
    const std::size_t n = keys.size();
    std::vector<double> r(n), unit(std::min(n, kBlock) * d_);
    for (std::size_t first = 0; first < n; first += kBlock) {
      const std::size_t count = std::min(kBlock, n - first);
      for (std::size_t k = 0; k < count * d_; ++k) unit[k] = standard_normal_cdf(z[first * d_ + k]);
      const engine::Shard shard = generator_.at(unit.data(), keys.data() + first, count);
      const auto block = response_(shard);
      std::copy(block.begin(), block.end(), r.begin() + static_cast<std::ptrdiff_t>(first));
    }
    simulations_ += n;
    for (double v : r) closest_ = std::min(closest_, v);
    undefined_ += static_cast<std::uint64_t>(std::count(r.begin(), r.end(), kInf));
    return r;
  }

 private:
  engine::ShardGenerator generator_;
  engine::ConditionResponse response_;
  std::size_t d_;
  std::uint64_t next_key_ = kKeyBase;
  std::uint64_t simulations_ = 0, undefined_ = 0;
  double closest_ = std::numeric_limits<double>::infinity();
};

// Why the event was not reached, with the nearest any sample came (r > 0 at every one: the
// event may lie outside the parameters' ranges).
std::string not_reached(int max_levels, const Evaluator& ev) {
  return "the event was not reached in max_levels = " + std::to_string(max_levels) +
         " levels; the smallest response seen was " + core::format_number(ev.closest()) +
         " (in the event below 0): raise sampling.max_levels, or check that the condition can hold within the "
         "parameters' ranges";
}

// Standard normal draws keyed on a simulation's key.
void normals(std::uint64_t seed, std::uint64_t key, std::size_t d, double* out) {
  detail::normals(seed, key, core::stream::kRareEvent, d, out);
}

// The value with `rank` values below it (0-based), ties broken by position: a level's threshold.
double order_statistic(const std::vector<double>& r, std::size_t rank) {
  std::vector<double> sorted(r);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank), sorted.end());
  return sorted[rank];
}

std::string undefined_problem(std::uint64_t undefined, std::uint64_t n) {
  return std::to_string(undefined) + " of the level's " + std::to_string(n) +
         " samples have no response (a label the condition reads is missing: an event that never fired, a "
         "failed solve), so no threshold separates the nearest ones; widen the time span or label what is missing";
}

// --- importance: cross-entropy with one Gaussian --------------------------------------------

struct Gaussian {
  Eigen::VectorXd mean;
  Eigen::MatrixXd chol;  // lower Cholesky factor of the covariance
  double log_det_chol = 0.0;
};

// Draws `n` points from g: z = mean + L xi, with log(prior / g) at each.
void draw(const Gaussian& g, std::uint64_t seed, Evaluator& ev, std::size_t n, std::vector<double>& z,
          std::vector<double>& log_ratio, std::vector<std::uint64_t>& keys) {
  const std::size_t d = ev.dimension();
  z.assign(n * d, 0.0);
  log_ratio.assign(n, 0.0);
  keys.assign(n, 0);
  Eigen::VectorXd xi(static_cast<Eigen::Index>(d));
  for (std::size_t i = 0; i < n; ++i) {
    keys[i] = ev.take_key();
    normals(seed, keys[i], d, xi.data());
    const Eigen::VectorXd zi = g.mean + g.chol * xi;
    std::copy(zi.data(), zi.data() + d, z.begin() + static_cast<std::ptrdiff_t>(i * d));
    log_ratio[i] = -0.5 * zi.squaredNorm() + 0.5 * xi.squaredNorm() + g.log_det_chol;
  }
}

// The Gaussian fitted to the points with weight w (prior / sampling density, 0 outside the
// level); Kish's effective sample size in `ess`.
Gaussian refit(const std::vector<double>& z, const std::vector<double>& w, std::size_t d, double* ess) {
  const auto D = static_cast<Eigen::Index>(d);
  double sw = 0.0, sw2 = 0.0;
  Eigen::VectorXd mean = Eigen::VectorXd::Zero(D);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0.0) continue;
    sw += w[i];
    sw2 += w[i] * w[i];
    mean += w[i] * Eigen::Map<const Eigen::VectorXd>(z.data() + i * d, D);
  }
  mean /= sw;
  *ess = sw * sw / sw2;
  Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(D, D);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0.0) continue;
    const Eigen::VectorXd dz = Eigen::Map<const Eigen::VectorXd>(z.data() + i * d, D) - mean;
    cov += w[i] * dz * dz.transpose();
  }
  cov /= sw;
  // Too few effective points for a covariance: keep the variances only. A floor keeps the
  // Gaussian from collapsing onto a point.
  if (*ess < static_cast<double>(d) + 1.0) cov = Eigen::MatrixXd(cov.diagonal().asDiagonal());
  cov.diagonal().array() += 1e-8;
  for (Eigen::Index k = 0; k < D; ++k) cov(k, k) = std::max(cov(k, k), 1e-6);
  Gaussian g;
  g.mean = mean;
  Eigen::LLT<Eigen::MatrixXd> llt(cov);
  if (llt.info() != Eigen::Success) {
    cov = Eigen::MatrixXd(cov.diagonal().asDiagonal());
    llt.compute(cov);
  }
  g.chol = llt.matrixL();
  g.log_det_chol = g.chol.diagonal().array().log().sum();
  return g;
}

// log Phi(x), also far in the lower tail (Abramowitz & Stegun 26.2.12 beyond x = -30).
double log_normal_cdf(double x) {
  if (x > -30.0) return std::log(0.5 * std::erfc(-x / std::sqrt(2.0)));
  const double x2 = x * x;
  return -0.5 * x2 - std::log(-x) - 0.5 * std::log(2.0 * M_PI) + std::log1p(-1.0 / x2 + 3.0 / (x2 * x2));
}

// log Phi(-g / sigma), the smoothed indicator of {g <= 0}; sigma infinite gives log 1/2.
double log_smooth_indicator(double g, double sigma) {
  if (g == kInf) return -kInf;
  return std::isinf(sigma) ? std::log(0.5) : log_normal_cdf(-g / sigma);
}

// Coefficient of variation of exp(log_w); 0-weights count, infinite CoV if all are 0.
double weights_cv(const std::vector<double>& log_w) {
  double top = -kInf;
  for (double l : log_w) top = std::max(top, l);
  if (top == -kInf) return kInf;
  double sum = 0.0, sum2 = 0.0;
  for (double l : log_w) {
    const double w = std::exp(l - top);
    sum += w;
    sum2 += w * w;
  }
  const double n = static_cast<double>(log_w.size()), mean = sum / n;
  return std::sqrt(std::max(sum2 / n - mean * mean, 0.0)) / mean;
}

// The next smoothing width: the sigma in (0, previous) at which the weights
// Phi(-g/sigma) / Phi(-g/previous) have coefficient of variation `target` (bisection in log sigma;
// the CoV falls as sigma grows).
double next_sigma(const std::vector<double>& g, double previous, double target) {
  double scale = 0.0;
  for (double v : g)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  if (scale == 0.0) scale = 1.0;
  double hi = std::isinf(previous) ? 1e3 * scale : previous, lo = 1e-12 * scale;
  std::vector<double> log_w(g.size());
  const auto cv = [&](double sigma) {
    for (std::size_t i = 0; i < g.size(); ++i) {
      const double den = log_smooth_indicator(g[i], previous);
      log_w[i] = den == -kInf ? -kInf : log_smooth_indicator(g[i], sigma) - den;
    }
    return weights_cv(log_w);
  };
  for (int it = 0; it < 200 && hi / lo > 1.0 + 1e-10; ++it) {
    const double mid = std::sqrt(lo * hi);
    (cv(mid) > target ? lo : hi) = mid;
  }
  return hi;
}

// Improved cross-entropy (Papaioannou, Geyer & Straub, Reliab. Eng. Syst. Saf. 191:106564, 2019)
// with one Gaussian: the intermediate targets are the prior times a smoothed indicator
// Phi(-r / sigma), sigma shrunk each level so that the weights' coefficient of variation is
// 1.5, until the event's own weights I(r <= 0) / Phi(-r / sigma) reach that coefficient. The
// plain cross-entropy method's quantile levels let the Gaussian collapse across the event's
// boundary (its width falls at every level); the smoothed targets keep it wide.
RareEventResult importance(const engine::Scenario& s, Evaluator& ev,
                           const std::function<void(const std::string&)>& progress) {
  constexpr double kTargetCv = 1.5;
  const engine::RareEventSpec& spec = s.rare_event;
  const std::size_t d = ev.dimension(), N = spec.samples_per_level;
  RareEventResult out;
  RareEventEstimate& e = out.estimate;
  Gaussian g{Eigen::VectorXd::Zero(static_cast<Eigen::Index>(d)),
             Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d)), 0.0};
  std::vector<double> z, log_ratio, w, log_w(N);
  std::vector<std::uint64_t> keys;
  double sigma = kInf;
  int stalled = 0;
  for (int level = 0; level < spec.max_levels && !e.reached; ++level) {
    draw(g, s.seed, ev, N, z, log_ratio, keys);
    const auto r = ev(z, keys);
    std::size_t hits = 0, undefined = 0;
    for (std::size_t i = 0; i < N; ++i) {
      hits += ev.in_event(r[i]) ? 1 : 0;
      undefined += r[i] == kInf ? 1 : 0;
      log_w[i] = ev.in_event(r[i]) ? -log_smooth_indicator(r[i], sigma) : -kInf;
    }
    if (undefined == N) {
      e.message = undefined_problem(undefined, N);
      break;
    }
    RareEventLevel lv;
    lv.simulations = N;
    lv.probability = static_cast<double>(hits) / static_cast<double>(N);
    double top = -kInf;
    if (hits > 0 && weights_cv(log_w) <= kTargetCv) {  // the event itself is the last target
      e.reached = true;
      lv.threshold = 0.0;
      for (std::size_t i = 0; i < N; ++i) log_w[i] = ev.in_event(r[i]) ? log_ratio[i] : -kInf;
    } else {
      const double next = next_sigma(r, sigma, kTargetCv);
      stalled = next > 0.999 * sigma ? stalled + 1 : 0;
      sigma = next;
      lv.threshold = sigma;
      for (std::size_t i = 0; i < N; ++i) log_w[i] = log_ratio[i] + log_smooth_indicator(r[i], sigma);
    }
    for (double l : log_w) top = std::max(top, l);
    w.assign(N, 0.0);
    for (std::size_t i = 0; i < N; ++i) w[i] = log_w[i] == -kInf ? 0.0 : std::exp(log_w[i] - top);
    g = refit(z, w, d, &lv.effective_samples);
    e.levels.push_back(lv);
    if (progress)
      progress("level " + std::to_string(level + 1) + ": " +
               (e.reached ? std::string("the event") : "smoothing width " + core::format_number(sigma)) + ", " +
               std::to_string(hits) + " of " + std::to_string(N) + " samples in the event");
    if (stalled >= 3) {
      e.message = "the smoothing width stopped shrinking at " + core::format_number(sigma) +
                  " (three levels): one Gaussian cannot approach the event; try method splitting";
      break;
    }
  }
  if (!e.reached && e.message.empty())
    e.message = not_reached(spec.max_levels, ev);
  // The written samples: draws from the fitted Gaussian, weighted to the prior.
  const std::size_t M = s.samples;
  draw(g, s.seed, ev, M, z, log_ratio, keys);
  const auto r = ev(z, keys);
  auto points = std::make_shared<engine::DesignPoints>();
  points->dimension = d;
  points->keys = keys;
  points->column_names = {"event", "prior_weight"};
  points->column_units = {"1", "1"};
  points->unit.resize(M * d);
  for (std::size_t k = 0; k < M * d; ++k) points->unit[k] = standard_normal_cdf(z[k]);
  double sum = 0.0, sum2 = 0.0;
  for (std::size_t i = 0; i < M; ++i) {
    const double weight = std::exp(log_ratio[i]), hit = ev.in_event(r[i]) ? 1.0 : 0.0;
    points->columns.push_back(hit);
    points->columns.push_back(weight);
    e.event_samples += hit > 0.0 ? 1 : 0;
    sum += hit * weight;
    sum2 += hit * weight * weight;
  }
  const double mean = sum / static_cast<double>(M);
  const double var = M > 1 ? (sum2 - static_cast<double>(M) * mean * mean) / static_cast<double>(M - 1) : 0.0;
  e.probability = mean;
  e.cv = mean > 0.0 ? std::sqrt(std::max(var, 0.0) / static_cast<double>(M)) / mean : kInf;
  out.points = std::move(points);
  return out;
}

// --- splitting: subset simulation with adaptive conditional sampling --------------------------

// One level's samples as Markov chains: chain c's states are indices into z and r, in order.
struct Level {
  std::vector<double> z, r;
  std::vector<std::uint64_t> keys;
  std::vector<std::vector<std::size_t>> chains;
};

// Au & Beck's (2001, eq. 29) squared coefficient of variation of the share p of a level's
// samples with indicator `hit`, the correlation along its chains included.
double level_cv2(const Level& lv, const std::vector<char>& hit, double p) {
  const auto N = static_cast<double>(lv.r.size());
  if (p <= 0.0) return kInf;
  double gamma = 0.0;
  std::size_t longest = 0;
  for (const auto& c : lv.chains) longest = std::max(longest, c.size());
  const double r0 = p * (1.0 - p);
  for (std::size_t k = 1; k < longest && r0 > 0.0; ++k) {
    double sum = 0.0, pairs = 0.0;
    for (const auto& c : lv.chains)
      for (std::size_t l = 0; l + k < c.size(); ++l) {
        sum += hit[c[l]] && hit[c[l + k]] ? 1.0 : 0.0;
        pairs += 1.0;
      }
    if (pairs == 0.0) break;
    gamma += 2.0 * (pairs / N) * ((sum / pairs - p * p) / r0);
  }
  return (1.0 - p) / (N * p) * (1.0 + gamma);
}

// Chains from the seeds (indices into `from`) to `total` states, all inside {r <= b} (or the
// event when `event`): the conditional sampler of Papaioannou et al. (2015), proposal
// z' = rho z + sigma xi per coordinate with sigma = min(1, lambda * seeds' sd), lambda adapted to
// an acceptance of 0.44 after each synchronous step of all chains.
Level grow_chains(const Level& from, const std::vector<std::size_t>& seeds, std::size_t total, double b, bool event,
                  std::uint64_t seed, Evaluator& ev, double* acceptance) {
  const std::size_t d = ev.dimension(), ns = seeds.size();
  Level lv;
  std::vector<double> sd(d, 0.0);
  for (std::size_t k = 0; k < d; ++k) {
    double m = 0.0, m2 = 0.0;
    for (std::size_t c : seeds) m += from.z[c * d + k];
    m /= static_cast<double>(ns);
    for (std::size_t c : seeds) m2 += (from.z[c * d + k] - m) * (from.z[c * d + k] - m);
    sd[k] = ns > 1 ? std::sqrt(m2 / static_cast<double>(ns - 1)) : 1.0;
  }
  std::vector<std::size_t> length(ns, total / ns);
  for (std::size_t c = 0; c < total % ns; ++c) ++length[c];
  lv.chains.assign(ns, {});
  auto push = [&](const double* z, double r, std::uint64_t key) {
    lv.z.insert(lv.z.end(), z, z + d);
    lv.r.push_back(r);
    lv.keys.push_back(key);
    return lv.r.size() - 1;
  };
  std::vector<std::size_t> current(ns);
  for (std::size_t c = 0; c < ns; ++c) {
    if (length[c] == 0) continue;
    current[c] = push(from.z.data() + seeds[c] * d, from.r[seeds[c]], from.keys[seeds[c]]);
    lv.chains[c].push_back(current[c]);
  }
  const auto inside = [&](double r) { return event ? ev.in_event(r) : r <= b; };
  double lambda = 0.6;
  std::size_t proposed = 0, accepted = 0;
  const std::size_t steps = *std::max_element(length.begin(), length.end());
  std::vector<double> z, xi(d);
  std::vector<std::uint64_t> keys;
  std::vector<std::size_t> moving;
  for (std::size_t t = 1; t < steps; ++t) {
    z.clear();
    keys.clear();
    moving.clear();
    for (std::size_t c = 0; c < ns; ++c) {
      if (length[c] <= t) continue;
      moving.push_back(c);
      keys.push_back(ev.take_key());
      normals(seed, keys.back(), d, xi.data());
      for (std::size_t k = 0; k < d; ++k) {
        const double sigma = std::min(1.0, lambda * sd[k]), rho = std::sqrt(1.0 - sigma * sigma);
        z.push_back(rho * lv.z[current[c] * d + k] + sigma * xi[k]);
      }
    }
    const auto r = ev(z, keys);
    std::size_t step_accepted = 0;
    for (std::size_t j = 0; j < moving.size(); ++j) {
      const std::size_t c = moving[j];
      if (inside(r[j])) {
        current[c] = push(z.data() + j * d, r[j], keys[j]);
        ++step_accepted;
      } else {
        current[c] = push(lv.z.data() + current[c] * d, lv.r[current[c]], lv.keys[current[c]]);
      }
      lv.chains[c].push_back(current[c]);
    }
    proposed += moving.size();
    accepted += step_accepted;
    const double rate = static_cast<double>(step_accepted) / static_cast<double>(moving.size());
    lambda = std::clamp(lambda * std::exp((rate - 0.44) / std::sqrt(static_cast<double>(t))), 1e-3, 1e3);
  }
  *acceptance = proposed > 0 ? static_cast<double>(accepted) / static_cast<double>(proposed) : 0.0;
  return lv;
}


RareEventResult splitting(const engine::Scenario& s, Evaluator& ev,
                          const std::function<void(const std::string&)>& progress) {
  const engine::RareEventSpec& spec = s.rare_event;
  const std::size_t d = ev.dimension(), N = spec.samples_per_level;
  const auto nc = static_cast<std::size_t>(spec.level_probability * static_cast<double>(N));
  RareEventResult out;
  RareEventEstimate& e = out.estimate;
  Level lv;
  lv.keys.resize(N);
  lv.z.resize(N * d);
  for (std::size_t i = 0; i < N; ++i) {
    lv.keys[i] = ev.take_key();
    normals(s.seed, lv.keys[i], d, lv.z.data() + i * d);
    lv.chains.push_back({i});
  }
  lv.r = ev(lv.z, lv.keys);
  double probability = 1.0, cv2 = 0.0;
  std::uint64_t simulations = N;
  double acceptance = 0.0, previous_b = kInf;
  int stalled = 0;
  for (int level = 0; level < spec.max_levels; ++level) {
    std::vector<char> hit(N);
    std::size_t in_event = 0;
    for (std::size_t i = 0; i < N; ++i) in_event += (hit[i] = ev.in_event(lv.r[i]) ? 1 : 0);
    RareEventLevel rec;
    rec.simulations = simulations;
    rec.acceptance = acceptance;
    if (in_event >= nc) {  // the event is this level's conditional share
      rec.threshold = 0.0;
      rec.probability = static_cast<double>(in_event) / static_cast<double>(N);
      probability *= rec.probability;
      cv2 += level_cv2(lv, hit, rec.probability);
      e.levels.push_back(rec);
      e.reached = true;
      if (progress)
        progress("level " + std::to_string(level + 1) + ": " + std::to_string(in_event) + " of " + std::to_string(N) +
                 " samples in the event; probability " + core::format_number(probability));
      break;
    }
    const double b = order_statistic(lv.r, nc - 1);
    stalled = b < previous_b ? 0 : stalled + 1;
    previous_b = std::min(previous_b, b);
    if (stalled >= 3) {
      e.message = "the threshold stopped falling at " + core::format_number(previous_b) +
                  " (three levels): the response has a floor there within the parameters' ranges";
      break;
    }
    if (!std::isfinite(b)) {
      e.message = undefined_problem(static_cast<std::uint64_t>(std::count(lv.r.begin(), lv.r.end(), kInf)), N);
      break;
    }
    std::vector<std::size_t> seeds;
    for (std::size_t i = 0; i < N; ++i) {
      hit[i] = lv.r[i] <= b ? 1 : 0;
      if (hit[i]) seeds.push_back(i);
    }
    rec.threshold = b;
    rec.probability = static_cast<double>(seeds.size()) / static_cast<double>(N);
    probability *= rec.probability;
    cv2 += level_cv2(lv, hit, rec.probability);
    e.levels.push_back(rec);
    if (progress)
      progress("level " + std::to_string(level + 1) + ": threshold " + core::format_number(b) + ", probability " +
               core::format_number(probability));
    if (level + 1 == spec.max_levels) {
      e.message = not_reached(spec.max_levels, ev);
      break;
    }
    const std::uint64_t before = ev.simulations();
    lv = grow_chains(lv, seeds, N, b, false, s.seed, ev, &acceptance);
    simulations = ev.simulations() - before;
  }
  e.probability = e.reached ? probability : 0.0;
  e.cv = e.reached ? std::sqrt(cv2) : kInf;
  if (!e.reached) return out;
  // The written samples: chains inside the event from the last level's event samples.
  std::vector<std::size_t> seeds;
  for (std::size_t i = 0; i < N; ++i)
    if (ev.in_event(lv.r[i])) seeds.push_back(i);
  const Level final = grow_chains(lv, seeds, s.samples, 0.0, true, s.seed, ev, &acceptance);
  auto points = std::make_shared<engine::DesignPoints>();
  points->dimension = d;
  points->column_names = {"event", "prior_weight"};
  points->column_units = {"1", "1"};
  // Chain by chain, so that a chain's states are neighbours in the dataset.
  for (const auto& chain : final.chains)
    for (std::size_t i : chain) {
      points->keys.push_back(final.keys[i]);
      for (std::size_t k = 0; k < d; ++k) points->unit.push_back(standard_normal_cdf(final.z[i * d + k]));
      points->columns.push_back(1.0);
      points->columns.push_back(e.probability);
    }
  e.event_samples = points->size();
  out.points = std::move(points);
  return out;
}

}  // namespace

RareEventResult sample_rare_event(const engine::Scenario& s, int threads,
                                  const std::function<void(const std::string&)>& progress) {
  if (!s.rare_event.present) throw std::invalid_argument("the scenario has no sampling.condition");
  Evaluator ev(s, threads);
  RareEventResult result =
      s.rare_event.method == Method::kSplitting ? splitting(s, ev, progress) : importance(s, ev, progress);
  RareEventEstimate& e = result.estimate;
  e.method = s.rare_event.method == Method::kSplitting ? "splitting" : "importance";
  e.condition = s.rare_event.condition;
  e.simulations = ev.simulations();
  e.undefined = ev.undefined();
  e.samples = result.points ? result.points->size() : 0;
  if (e.message.empty() && result.points && e.event_samples == 0)
    e.message = "none of the " + std::to_string(e.samples) +
                " written samples is in the event: the estimate is 0 with no precision; raise samples";
  return result;
}

nlohmann::ordered_json to_json(const RareEventEstimate& e) {
  nlohmann::ordered_json j;
  j["condition"] = e.condition;
  j["method"] = e.method;
  j["reached"] = e.reached;
  j["probability"] = e.probability;
  if (std::isfinite(e.cv))
    j["cv"] = e.cv;
  else
    j["cv"] = nullptr;
  j["simulations"] = e.simulations;
  j["samples"] = e.samples;
  j["event_samples"] = e.event_samples;
  j["undefined_responses"] = e.undefined;
  nlohmann::ordered_json levels = nlohmann::ordered_json::array();
  for (const auto& lv : e.levels) {
    nlohmann::ordered_json l = {{"threshold", lv.threshold}, {"probability", lv.probability}};
    if (e.method == "splitting") {
      l["simulations"] = lv.simulations;
      l["acceptance"] = lv.acceptance;
    } else {
      l["simulations"] = lv.simulations;
      l["effective_samples"] = lv.effective_samples;
    }
    levels.push_back(l);
  }
  j["levels"] = levels;
  j["columns"] = "labels event (1 in the event) and prior_weight (prior over sampling density): P = "
                 "mean(event * prior_weight)";
  if (!e.message.empty()) j["problem"] = e.message;
  return j;
}

engine::RunSummary run(const engine::Scenario& s, const engine::RunOptions& options, RareEventEstimate* estimate,
                       const std::function<void(const std::string&)>& progress) {
  return s.rare_event.present ? run_rare_event(s, options, estimate, progress) : engine::run_scenario(s, options);
}

engine::RunSummary run_rare_event(const engine::Scenario& s, const engine::RunOptions& options,
                                  RareEventEstimate* estimate,
                                  const std::function<void(const std::string&)>& progress) {
  engine::RunSummary summary;
  summary.directory = options.output_directory.empty() ? s.output.directory : options.output_directory;
  // The folder first: whatever the run would refuse (busy, foreign files, an earlier run without
  // --overwrite, a resume that cannot be) is refused before the sampler's simulations, not after.
  if (engine::num_ranks() == 1)
    if (std::string why = engine::run_directory_refusal(s, options, &summary.refused); !why.empty()) {
      summary.message = why;
      return summary;
    }
  RareEventResult result = sample_rare_event(s, options.threads, progress);
  if (estimate) *estimate = result.estimate;
  if (!result.points) {
    summary.message = "sampling.condition: " + result.estimate.message;
    return summary;
  }
  engine::Scenario written = s;
  written.samples = result.points->size();
  engine::RunOptions o = options;
  o.points = result.points;
  o.manifest_extra["rare_event"] = to_json(result.estimate);
  return engine::run_scenario(written, o);
}

}  // namespace physynth::active
