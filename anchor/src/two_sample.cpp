#include "physynth/anchor/two_sample.h"
#include "physynth/core/constants.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>

namespace physynth::anchor {

void Records::add(const std::vector<double>& features, int unit) {
  if (dims == 0 && x.empty()) dims = features.size();
  if (features.size() != dims) throw std::invalid_argument("Records::add: a record has the wrong number of features");
  x.insert(x.end(), features.begin(), features.end());
  group.push_back(unit);
}

namespace {

// Dense group indices: a's groups are 0..Ga-1, b's Ga..Ga+Gb-1 (a group id shared by the two
// samples names two different units).
struct Groups {
  std::vector<int> of;  // per pooled record
  std::vector<std::size_t> size;
  std::size_t in_a = 0;
};

Groups dense_groups(const std::vector<int>& ga, const std::vector<int>& gb) {
  Groups g;
  std::map<int, int> a, b;
  for (int id : ga) a.emplace(id, 0);
  for (int id : gb) b.emplace(id, 0);
  int next = 0;
  for (auto& [id, k] : a) k = next++;
  g.in_a = a.size();
  for (auto& [id, k] : b) k = next++;
  g.size.assign(static_cast<std::size_t>(next), 0);
  for (int id : ga) g.of.push_back(a[id]);
  for (int id : gb) g.of.push_back(b[id]);
  for (int k : g.of) ++g.size[static_cast<std::size_t>(k)];
  return g;
}

// Labels of the groups, permutation by permutation: true = sample a. The first is the observed one.
class GroupShuffle {
 public:
  GroupShuffle(std::size_t groups, std::size_t in_a, std::uint64_t seed) : rng_(seed), order_(groups), label_(groups) {
    std::iota(order_.begin(), order_.end(), 0);
    in_a_ = in_a;
    for (std::size_t g = 0; g < groups; ++g) label_[g] = g < in_a;
  }
  const std::vector<char>& labels() const { return label_; }
  void next() {
    for (std::size_t i = order_.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(static_cast<double>(rng_() >> 11) * 0x1.0p-53 * static_cast<double>(i));
      std::swap(order_[i - 1], order_[std::min(j, i - 1)]);
    }
    for (std::size_t k = 0; k < order_.size(); ++k) label_[order_[k]] = k < in_a_;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<std::size_t> order_;
  std::vector<char> label_;
  std::size_t in_a_ = 0;
};

template <class Statistic>
TestResult permutation_test(const Groups& g, int permutations, std::uint64_t seed, Statistic stat) {
  TestResult r;
  GroupShuffle shuffle(g.size.size(), g.in_a, seed);
  r.statistic = stat(shuffle.labels());
  r.permutations = permutations;
  int at_least = 0;
  for (int p = 0; p < permutations; ++p) {
    shuffle.next();
    if (stat(shuffle.labels()) >= r.statistic - 1e-12 * std::abs(r.statistic)) ++at_least;
  }
  // No permutations, no p-value (NaN; JSON null): p = 1 would read as "indistinguishable".
  r.p_value = permutations > 0 ? (1.0 + at_least) / (1.0 + permutations) : std::numeric_limits<double>::quiet_NaN();
  return r;
}

double distance2(const double* a, const double* b, std::size_t d) {
  double s = 0.0;
  for (std::size_t i = 0; i < d; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

// Pooled records of a then b.
Records pooled(const Records& a, const Records& b) {
  if (a.size() > 0 && b.size() > 0 && a.dims != b.dims)
    throw std::invalid_argument("two-sample test: the samples have different numbers of features");
  Records p;
  p.dims = a.size() > 0 ? a.dims : b.dims;
  p.x = a.x;
  p.x.insert(p.x.end(), b.x.begin(), b.x.end());
  p.group = a.group;
  p.group.insert(p.group.end(), b.group.begin(), b.group.end());
  return p;
}

// Indices of the k nearest records of `from` to `x` (by squared distance, ties by index), skipping
// records whose group is `skip_group` when `skip` is set, and record `self`.
std::vector<std::size_t> nearest(const Records& from, const double* x, std::size_t k, bool skip, int skip_group,
                                 std::size_t self = std::numeric_limits<std::size_t>::max()) {
  std::vector<std::pair<double, std::size_t>> d;
  d.reserve(from.size());
  for (std::size_t j = 0; j < from.size(); ++j) {
    if (j == self || (skip && from.group[j] == skip_group)) continue;
    d.emplace_back(distance2(x, from.row(j), from.dims), j);
  }
  k = std::min(k, d.size());
  std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
  std::vector<std::size_t> out(k);
  for (std::size_t i = 0; i < k; ++i) out[i] = d[i].second;
  return out;
}

// Distance from each record to its k-th nearest other record of the same set.
std::vector<double> kth_radius(const Records& r, std::size_t k) {
  std::vector<double> out(r.size(), kNaN);
  for (std::size_t i = 0; i < r.size(); ++i) {
    const auto nn = nearest(r, r.row(i), k, false, 0, i);
    if (nn.size() == k) out[i] = std::sqrt(distance2(r.row(i), r.row(nn.back()), r.dims));
  }
  return out;
}

// Share of the records of `probe` inside any ball (centre in `set`, radius `radius`).
double inside_share(const Records& probe, const Records& set, const std::vector<double>& radius) {
  if (probe.size() == 0) return kNaN;
  std::size_t inside = 0;
  for (std::size_t i = 0; i < probe.size(); ++i)
    for (std::size_t j = 0; j < set.size(); ++j)
      if (std::sqrt(distance2(probe.row(i), set.row(j), set.dims)) <= radius[j]) {
        ++inside;
        break;
      }
  return static_cast<double>(inside) / static_cast<double>(probe.size());
}

}  // namespace

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

double ks_statistic(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty()) return kNaN;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::size_t i = 0, j = 0;
  double d = 0.0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / static_cast<double>(a.size()) -
                             static_cast<double>(j) / static_cast<double>(b.size())));
  }
  return d;
}

TestResult ks_test(const std::vector<double>& a, const std::vector<int>& group_a, const std::vector<double>& b,
                   const std::vector<int>& group_b, int permutations, std::uint64_t seed) {
  if (a.size() != group_a.size() || b.size() != group_b.size())
    throw std::invalid_argument("ks_test: values and groups differ in length");
  if (a.empty() || b.empty()) return {kNaN, kNaN, 0};
  const Groups g = dense_groups(group_a, group_b);
  std::vector<double> v = a;
  v.insert(v.end(), b.begin(), b.end());
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return v[i] < v[j]; });
  return permutation_test(g, permutations, seed, [&](const std::vector<char>& label) {
    double na = 0, nb = 0;
    for (std::size_t i = 0; i < v.size(); ++i) (label[static_cast<std::size_t>(g.of[i])] ? na : nb) += 1.0;
    if (na == 0 || nb == 0) return 0.0;
    double ca = 0, cb = 0, d = 0;
    for (std::size_t k = 0; k < order.size(); ++k) {
      (label[static_cast<std::size_t>(g.of[order[k]])] ? ca : cb) += 1.0;
      if (k + 1 < order.size() && v[order[k + 1]] == v[order[k]]) continue;  // ties: after the last of them
      d = std::max(d, std::abs(ca / na - cb / nb));
    }
    return d;
  });
}

double wasserstein1(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty()) return kNaN;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  double w = 0.0;
  std::size_t i = 0, j = 0;
  for (std::size_t k = 0; k + 1 < all.size(); ++k) {
    while (i < a.size() && a[i] <= all[k]) ++i;
    while (j < b.size() && b[j] <= all[k]) ++j;
    w += std::abs(static_cast<double>(i) / static_cast<double>(a.size()) -
                  static_cast<double>(j) / static_cast<double>(b.size())) *
         (all[k + 1] - all[k]);
  }
  return w;
}

TestResult mmd_test(const Records& a, const Records& b, int permutations, std::uint64_t seed, double* bandwidth_out) {
  if (a.size() < 2 || b.size() < 2) return {kNaN, kNaN, 0};
  const Records p = pooled(a, b);
  const Groups g = dense_groups(a.group, b.group);
  const std::size_t N = p.size(), G = g.size.size();
  std::vector<double> d2;
  d2.reserve(N * (N - 1) / 2);
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j) d2.push_back(distance2(p.row(i), p.row(j), p.dims));
  double h2 = quantile(d2, 0.5);  // median of squared distances = square of the median distance
  if (!(h2 > 0.0)) h2 = 1.0;
  if (bandwidth_out) *bandwidth_out = std::sqrt(h2);
  // Kernel sums between groups, without the diagonal.
  std::vector<double> block(G * G, 0.0);
  std::size_t k = 0;
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j, ++k) {
      const double kv = std::exp(-d2[k] / (2.0 * h2));
      const auto gi = static_cast<std::size_t>(g.of[i]), gj = static_cast<std::size_t>(g.of[j]);
      block[gi * G + gj] += kv;
      block[gj * G + gi] += kv;
    }
  return permutation_test(g, permutations, seed, [&](const std::vector<char>& label) {
    double sxx = 0, syy = 0, sxy = 0, nx = 0, ny = 0;
    for (std::size_t u = 0; u < G; ++u) (label[u] ? nx : ny) += static_cast<double>(g.size[u]);
    for (std::size_t u = 0; u < G; ++u)
      for (std::size_t v = 0; v < G; ++v) {
        const double s = block[u * G + v];
        if (label[u] && label[v])
          sxx += s;
        else if (!label[u] && !label[v])
          syy += s;
        else
          sxy += s;
      }
    if (nx < 2 || ny < 2) return 0.0;
    return sxx / (nx * (nx - 1)) + syy / (ny * (ny - 1)) - sxy / (nx * ny);  // sxy counts each pair twice
  });
}

PrecisionRecall precision_recall(const Records& real, const Records& synthetic, int k) {
  PrecisionRecall r;
  r.k = k;
  const auto kk = static_cast<std::size_t>(std::max(1, k));
  r.precision = inside_share(synthetic, real, kth_radius(real, kk));
  r.recall = inside_share(real, synthetic, kth_radius(synthetic, kk));
  return r;
}

DensityCoverage density_coverage(const Records& real, const Records& synthetic, int k) {
  DensityCoverage r;
  r.k = k;
  const auto kk = static_cast<std::size_t>(std::max(1, k));
  if (real.size() <= kk || synthetic.size() == 0) {
    r.density = r.coverage = kNaN;
    return r;
  }
  const std::vector<double> radius = kth_radius(real, kk);
  std::size_t in_balls = 0;
  std::vector<char> covered(real.size(), 0);
  for (std::size_t j = 0; j < synthetic.size(); ++j)
    for (std::size_t i = 0; i < real.size(); ++i)
      if (std::sqrt(distance2(synthetic.row(j), real.row(i), real.dims)) <= radius[i]) {
        ++in_balls;
        covered[i] = 1;
      }
  r.density = static_cast<double>(in_balls) / (static_cast<double>(kk) * static_cast<double>(synthetic.size()));
  r.coverage = static_cast<double>(std::count(covered.begin(), covered.end(), 1)) / static_cast<double>(real.size());
  return r;
}

AlphaPrecisionBetaRecall alpha_precision_beta_recall(const Records& real, const Records& synthetic, int k, int levels) {
  AlphaPrecisionBetaRecall r;
  if (real.size() < 2 || synthetic.size() == 0 || levels < 1) {
    r.alpha_precision = r.beta_recall = r.authenticity = kNaN;
    return r;
  }
  const std::size_t d = real.dims;
  const auto mean_of = [d](const Records& r) {
    std::vector<double> c(d, 0.0);
    for (std::size_t i = 0; i < r.size(); ++i)
      for (std::size_t f = 0; f < d; ++f) c[f] += r.row(i)[f] / static_cast<double>(r.size());
    return c;
  };
  const std::vector<double> centre = mean_of(real), synthetic_centre = mean_of(synthetic);
  // Distances to the real centre (α-support of the real data) and to the synthetic centre (β-support of the synthetic).
  std::vector<double> real_radius(real.size()), synthetic_radius(synthetic.size()), synthetic_own(synthetic.size());
  for (std::size_t i = 0; i < real.size(); ++i) real_radius[i] = std::sqrt(distance2(real.row(i), centre.data(), d));
  for (std::size_t j = 0; j < synthetic.size(); ++j) {
    synthetic_radius[j] = std::sqrt(distance2(synthetic.row(j), centre.data(), d));
    synthetic_own[j] = std::sqrt(distance2(synthetic.row(j), synthetic_centre.data(), d));
  }
  // Each synthetic record's k-NN ball among the synthetic records: the synthetic support near it.
  const std::vector<double> synthetic_ball = kth_radius(synthetic, static_cast<std::size_t>(std::max(1, k)));
  // Each real record's nearest real neighbour of another unit, and its nearest synthetic record.
  std::vector<double> real_nn(real.size(), kNaN), to_synthetic(real.size(), kNaN);
  std::vector<std::size_t> nearest_synthetic(real.size(), 0);
  for (std::size_t i = 0; i < real.size(); ++i) {
    const auto nr = nearest(real, real.row(i), 1, true, real.group[i]);
    if (!nr.empty()) real_nn[i] = std::sqrt(distance2(real.row(i), real.row(nr[0]), d));
    const auto ns = nearest(synthetic, real.row(i), 1, false, 0);
    nearest_synthetic[i] = ns[0];
    to_synthetic[i] = std::sqrt(distance2(real.row(i), synthetic.row(ns[0]), d));
  }
  double gap_p = 0.0, gap_r = 0.0;
  for (int l = 1; l <= levels; ++l) {
    const double a = static_cast<double>(l) / static_cast<double>(levels);
    const double ra = quantile(real_radius, a), rb_radius = quantile(synthetic_own, a);
    const double p = static_cast<double>(std::count_if(synthetic_radius.begin(), synthetic_radius.end(),
                                                       [&](double x) { return x <= ra; })) /
                     static_cast<double>(synthetic.size());
    // A real record is recalled at β when its nearest synthetic record lies in the synthetic
    // β-support and the real record in that record's k-NN ball.
    std::size_t recalled = 0;
    for (std::size_t i = 0; i < real.size(); ++i) {
      const std::size_t j = nearest_synthetic[i];
      if (synthetic_own[j] <= rb_radius && to_synthetic[i] <= synthetic_ball[j]) ++recalled;
    }
    const double rb = static_cast<double>(recalled) / static_cast<double>(real.size());
    r.levels.push_back(a);
    r.precision_curve.push_back(p);
    r.recall_curve.push_back(rb);
    gap_p += std::abs(p - a);
    gap_r += std::abs(rb - a);
  }
  r.alpha_precision = 1.0 - 2.0 * gap_p / static_cast<double>(levels);
  r.beta_recall = 1.0 - 2.0 * gap_r / static_cast<double>(levels);
  std::size_t authentic = 0, judged = 0;
  for (std::size_t j = 0; j < synthetic.size(); ++j) {
    const auto nr = nearest(real, synthetic.row(j), 1, false, 0);
    if (nr.empty() || std::isnan(real_nn[nr[0]])) continue;
    ++judged;
    if (std::sqrt(distance2(synthetic.row(j), real.row(nr[0]), d)) > real_nn[nr[0]]) ++authentic;
  }
  r.authenticity = judged ? static_cast<double>(authentic) / static_cast<double>(judged) : kNaN;
  return r;
}

NearestNeighbourRatio nearest_neighbour_ratio(const Records& real, const Records& synthetic) {
  NearestNeighbourRatio r;
  const auto ratio = [&](const double* x, bool skip, int group) {
    const auto nn = nearest(real, x, 2, skip, group);
    if (nn.size() < 2) return kNaN;
    const double d2 = std::sqrt(distance2(x, real.row(nn[1]), real.dims));
    return d2 > 0.0 ? std::sqrt(distance2(x, real.row(nn[0]), real.dims)) / d2 : 1.0;
  };
  std::vector<double> s, q;
  for (std::size_t j = 0; j < synthetic.size(); ++j)
    if (const double v = ratio(synthetic.row(j), false, 0); std::isfinite(v)) s.push_back(v);
  for (std::size_t i = 0; i < real.size(); ++i)
    if (const double v = ratio(real.row(i), true, real.group[i]); std::isfinite(v)) q.push_back(v);
  r.synthetic_median = quantile(s, 0.5);
  r.synthetic_p5 = quantile(s, 0.05);
  r.real_median = quantile(q, 0.5);
  r.real_p5 = quantile(q, 0.05);
  return r;
}

TestResult classifier_test(const Records& real, const Records& synthetic, int k, int permutations, std::uint64_t seed) {
  if (real.size() == 0 || synthetic.size() == 0) return {kNaN, kNaN, 0};
  const Records p = pooled(real, synthetic);
  const Groups g = dense_groups(real.group, synthetic.group);
  Records dense = p;
  dense.group = g.of;
  // The neighbours do not depend on the labels: find them once.
  std::vector<std::vector<std::size_t>> nn(p.size());
  for (std::size_t i = 0; i < p.size(); ++i)
    nn[i] = nearest(dense, p.row(i), static_cast<std::size_t>(std::max(1, k)), true, g.of[i]);
  return permutation_test(g, permutations, seed, [&](const std::vector<char>& label) {
    std::size_t correct = 0, scored = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (nn[i].empty()) continue;
      std::size_t votes = 0;
      for (std::size_t j : nn[i]) votes += label[static_cast<std::size_t>(g.of[j])] ? 1 : 0;
      const double share = static_cast<double>(votes) / static_cast<double>(nn[i].size());
      const bool says_a = share > 0.5 || (share == 0.5 && label[static_cast<std::size_t>(g.of[nn[i][0]])]);
      correct += says_a == static_cast<bool>(label[static_cast<std::size_t>(g.of[i])]) ? 1 : 0;
      ++scored;
    }
    return scored ? static_cast<double>(correct) / static_cast<double>(scored) : 0.0;
  });
}

ClosestRecord closest_records(const Records& real, const Records& synthetic) {
  ClosestRecord c;
  std::vector<double> ds, dr;
  for (std::size_t i = 0; i < synthetic.size(); ++i) {
    const auto nn = nearest(real, synthetic.row(i), 1, false, 0);
    if (nn.empty()) continue;
    const double d = std::sqrt(distance2(synthetic.row(i), real.row(nn[0]), real.dims));
    ds.push_back(d);
    if (d < 1e-12) ++c.exact_copies;
  }
  for (std::size_t i = 0; i < real.size(); ++i) {
    const auto nn = nearest(real, real.row(i), 1, true, real.group[i]);
    if (!nn.empty()) dr.push_back(std::sqrt(distance2(real.row(i), real.row(nn[0]), real.dims)));
  }
  c.synthetic_median = quantile(ds, 0.5);
  c.real_median = quantile(dr, 0.5);
  c.real_p5 = quantile(dr, 0.05);
  if (!ds.empty() && !dr.empty())
    c.share_below_real_p5 =
        static_cast<double>(std::count_if(ds.begin(), ds.end(), [&](double d) { return d < c.real_p5; })) /
        static_cast<double>(ds.size());
  else
    c.share_below_real_p5 = kNaN;
  return c;
}

PredictionScore score_predictions(const std::vector<double>& predicted, const std::vector<double>& observed) {
  if (predicted.size() != observed.size())
    throw std::invalid_argument("score_predictions: predictions and observations differ in length");
  PredictionScore s;
  double sse = 0.0, sae = 0.0, sum = 0.0, mean = 0.0;
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    if (!std::isfinite(predicted[i])) {
      ++s.missing;
      continue;
    }
    const double d = predicted[i] - observed[i];
    sse += d * d;
    sae += std::abs(d);
    sum += d;
    mean += observed[i];
    ++s.n;
  }
  if (s.n == 0) {
    s.rmse = s.mae = s.bias = s.r2 = kNaN;
    return s;
  }
  const auto n = static_cast<double>(s.n);
  mean /= n;
  double sst = 0.0;
  for (std::size_t i = 0; i < predicted.size(); ++i)
    if (std::isfinite(predicted[i])) sst += (observed[i] - mean) * (observed[i] - mean);
  s.rmse = std::sqrt(sse / n);
  s.mae = sae / n;
  s.bias = sum / n;
  s.r2 = sst > 0.0 ? 1.0 - sse / sst : kNaN;
  return s;
}

PredictionScore knn_regression(const Records& train, const std::vector<double>& y_train, const Records& test,
                               const std::vector<double>& y_test, int k, bool leave_one_unit_out) {
  if (train.size() != y_train.size() || test.size() != y_test.size())
    throw std::invalid_argument("knn_regression: records and targets differ in length");
  std::vector<double> predicted(test.size(), kNaN);  // NaN: no neighbour to predict from
  for (std::size_t i = 0; i < test.size(); ++i) {
    const auto nn =
        nearest(train, test.row(i), static_cast<std::size_t>(std::max(1, k)), leave_one_unit_out, test.group[i]);
    if (nn.empty()) continue;
    double f = 0.0;
    for (std::size_t j : nn) f += y_train[j];
    predicted[i] = f / static_cast<double>(nn.size());
  }
  return score_predictions(predicted, y_test);
}

std::vector<double> correlation_matrix(const Records& r) {
  const std::size_t d = r.dims, n = r.size();
  std::vector<double> mean(d, 0.0), c(d * d, 0.0);
  if (n < 2) return std::vector<double>(d * d, kNaN);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < d; ++a) mean[a] += r.row(i)[a] / static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < d; ++a)
      for (std::size_t b = 0; b < d; ++b) c[a * d + b] += (r.row(i)[a] - mean[a]) * (r.row(i)[b] - mean[b]);
  std::vector<double> out(d * d);
  for (std::size_t a = 0; a < d; ++a)
    for (std::size_t b = 0; b < d; ++b) {
      const double den = std::sqrt(c[a * d + a] * c[b * d + b]);
      out[a * d + b] = den > 0.0 ? c[a * d + b] / den : kNaN;
    }
  return out;
}

}  // namespace physynth::anchor
