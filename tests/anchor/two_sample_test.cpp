// The fidelity audit's two-sample statistics: distances against SciPy's, and
// each test's behaviour where the answer is known: the level under the null
// (also with units whose records are correlated, where a record-level test
// would reject far too often), power against a shift, MMD seeing a change of
// correlation that the marginals do not, precision and recall under mode
// dropping, copies found by the closest-record check.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "physynth/anchor/two_sample.h"

using namespace physynth::anchor;

namespace {

// `units` units of `per_unit` records each: unit effect ~ N(0, unit_sd) added to every
// feature, record noise N(0, 1); shift added to feature 0; correlation rho between features 0 and 1.
Records draw(std::mt19937_64& rng, int units, int per_unit, std::size_t dims, double shift, double unit_sd, double rho,
             int first_group) {
  std::normal_distribution<double> n01(0.0, 1.0);
  Records r;
  for (int u = 0; u < units; ++u) {
    const double effect = unit_sd * n01(rng);
    for (int i = 0; i < per_unit; ++i) {
      std::vector<double> f(dims);
      for (auto& v : f) v = n01(rng);
      if (dims > 1) f[1] = rho * f[0] + std::sqrt(1.0 - rho * rho) * f[1];
      for (auto& v : f) v += effect;
      f[0] += shift;
      r.add(f, first_group + u);
    }
  }
  return r;
}

std::vector<double> column(const Records& r, std::size_t c) {
  std::vector<double> v;
  for (std::size_t i = 0; i < r.size(); ++i) v.push_back(r.row(i)[c]);
  return v;
}

}  // namespace

TEST_CASE("two-sample: KS and Wasserstein distances are SciPy's (ks_2samp, wasserstein_distance)") {
  std::vector<double> a, b;
  for (int i = 0; i < 17; ++i) a.push_back(std::sin(1.3 * i) * 2 + 0.1 * i);
  for (int i = 0; i < 23; ++i) b.push_back(std::cos(0.7 * i) * 1.5 + 0.5);
  CHECK(ks_statistic(a, b) == Approx(0.29411764705882354).epsilon(1e-12));
  CHECK(wasserstein1(a, b) == Approx(0.5457545113759615).epsilon(1e-12));
  // Ties within and across the samples.
  CHECK(ks_statistic({1, 2, 2, 3, 5}, {2, 2, 4, 6}) == Approx(0.3).epsilon(1e-12));
  CHECK(wasserstein1({1, 2, 2, 3, 5}, {2, 2, 4, 6}) == Approx(0.9).epsilon(1e-12));
  CHECK(ks_test({1, 2, 2, 3, 5}, {0, 1, 2, 3, 4}, {2, 2, 4, 6}, {0, 1, 2, 3}, 0, 1).statistic ==
        Approx(0.3).epsilon(1e-12));
}

TEST_CASE("two-sample: group permutation tests hold their level with correlated records and have power") {
  std::mt19937_64 rng(2024);
  int record_level_null = 0, ks_null = 0, mmd_null = 0, c2st_null = 0, ks_shift = 0, mmd_shift = 0, c2st_shift = 0;
  const int repeats = 30;
  for (int rep = 0; rep < repeats; ++rep) {
    // Null: the same clustered distribution (unit sd 1 against record sd 1, 8 records per unit).
    const Records a = draw(rng, 10, 8, 2, 0.0, 1.0, 0.0, 0), b = draw(rng, 10, 8, 2, 0.0, 1.0, 0.0, 0);
    const auto seed = static_cast<std::uint64_t>(rep);
    ks_null += ks_test(column(a, 0), a.group, column(b, 0), b.group, 199, seed).p_value < 0.05;
    std::vector<int> own_a(a.size()), own_b(b.size());  // each record its own unit: wrong here
    for (std::size_t i = 0; i < own_a.size(); ++i) own_a[i] = static_cast<int>(i);
    for (std::size_t i = 0; i < own_b.size(); ++i) own_b[i] = static_cast<int>(i);
    record_level_null += ks_test(column(a, 0), own_a, column(b, 0), own_b, 199, seed).p_value < 0.05;
    mmd_null += mmd_test(a, b, 199, seed).p_value < 0.05;
    c2st_null += classifier_test(a, b, 5, 199, seed).p_value < 0.05;
    // Shift by 1.5 record sd, units independent.
    const Records c = draw(rng, 10, 8, 2, 0.0, 0.3, 0.0, 0), d = draw(rng, 10, 8, 2, 1.5, 0.3, 0.0, 0);
    ks_shift += ks_test(column(c, 0), c.group, column(d, 0), d.group, 199, seed).p_value < 0.05;
    mmd_shift += mmd_test(c, d, 199, seed).p_value < 0.05;
    c2st_shift += classifier_test(c, d, 5, 199, seed).p_value < 0.05;
  }
  // 5 % level: at most 5 of 30 rejections (binomial tail 0.016); the same test with records
  // exchanged one by one rejects far more of these null pairs.
  WARN("null rejections of 30: record-level KS " << record_level_null << ", unit-level KS " << ks_null << ", MMD "
                                                 << mmd_null << ", C2ST " << c2st_null);
  CHECK(record_level_null >= 6);
  CHECK(ks_null <= 5);
  CHECK(mmd_null <= 5);
  CHECK(c2st_null <= 5);
  CHECK(ks_shift >= 27);
  CHECK(mmd_shift >= 27);
  CHECK(c2st_shift >= 27);
}

TEST_CASE("two-sample: MMD and the classifier see a change of correlation that leaves the marginals alone") {
  std::mt19937_64 rng(7);
  const Records a = draw(rng, 60, 2, 2, 0.0, 0.0, 0.9, 0), b = draw(rng, 60, 2, 2, 0.0, 0.0, -0.9, 0);
  CHECK(ks_test(column(a, 0), a.group, column(b, 0), b.group, 199, 1).p_value > 0.05);
  CHECK(mmd_test(a, b, 199, 1).p_value < 0.01);
  const auto c2 = classifier_test(a, b, 5, 199, 1);
  CHECK(c2.statistic > 0.7);
  CHECK(c2.p_value < 0.01);
  const auto ca = correlation_matrix(a), cb = correlation_matrix(b);
  CHECK(ca[1] == Approx(0.9).margin(0.05));
  CHECK(cb[1] == Approx(-0.9).margin(0.05));
  CHECK(ca[0] == Approx(1.0));
}

TEST_CASE("two-sample: precision and recall tell mode dropping from noise, and copies are found") {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> n01(0.0, 1.0);
  Records real, one_mode, copies;
  for (int i = 0; i < 200; ++i) {
    const double centre = i % 2 ? 5.0 : -5.0;
    real.add({centre + n01(rng), n01(rng)}, i);
  }
  for (int i = 0; i < 200; ++i) one_mode.add({5.0 + n01(rng), n01(rng)}, i);
  for (std::size_t i = 0; i < real.size(); ++i) copies.add({real.row(i)[0], real.row(i)[1]}, static_cast<int>(i));
  const auto pr = precision_recall(real, one_mode, 3);
  CHECK(pr.precision > 0.9);                     // what it makes is realistic
  CHECK(pr.recall == Approx(0.5).margin(0.08));  // but half the real variety is missing
  const auto dcr_copies = closest_records(real, copies);
  CHECK(dcr_copies.exact_copies == real.size());
  CHECK(dcr_copies.share_below_real_p5 == 1.0);
  const auto dcr_fresh = closest_records(real, one_mode);
  CHECK(dcr_fresh.exact_copies == 0);
  CHECK(dcr_fresh.share_below_real_p5 < 0.15);
}

TEST_CASE("two-sample: prediction scores by hand, a failed prediction left out and counted") {
  const double nan = std::nan("");
  const auto s = score_predictions({1, 2, nan, 4}, {1, 3, 5, 2});  // errors 0, -1, 2 over readings 1, 3, 2
  CHECK(s.n == 3);
  CHECK(s.missing == 1);
  CHECK(s.rmse == Approx(std::sqrt(5.0 / 3.0)));
  CHECK(s.mae == Approx(1.0));
  CHECK(s.bias == Approx(1.0 / 3.0));
  CHECK(s.r2 == Approx(1.0 - 5.0 / 2.0));  // SST about the mean 2: 1 + 1 + 0
  CHECK(std::isnan(score_predictions({nan}, {1}).rmse));
}

TEST_CASE("two-sample: kNN regression learns a smooth law, and leave-one-unit-out never sees the unit") {
  Records x;
  std::vector<double> y;
  for (int i = 0; i < 400; ++i) {
    const double t = i / 40.0;
    x.add({t}, i / 4);
    y.push_back(std::sin(t));
  }
  const auto fit = knn_regression(x, y, x, y, 3, true);
  CHECK(fit.n == 400);
  CHECK(fit.r2 > 0.99);
  // Every record of one unit identical and far from the rest: only other units can predict it.
  Records lone = x;
  std::vector<double> ly = y;
  lone.add({100.0}, 999);
  ly.push_back(50.0);
  const auto loo = knn_regression(lone, ly, lone, ly, 1, true);
  CHECK(loo.rmse > 1.0);
}

TEST_CASE("two-sample: density and coverage, alpha-precision, beta-recall, authenticity and NNDR where the answer is known") {
  std::mt19937_64 rng(31);
  const Records real = draw(rng, 400, 1, 2, 0.0, 0.0, 0.0, 0);
  const Records same = draw(rng, 400, 1, 2, 0.0, 0.0, 0.0, 1000);
  const Records far = draw(rng, 400, 1, 2, 8.0, 0.0, 0.0, 2000);
  // Naeem et al. 2020: for the same distribution, E[density] = 1 and E[coverage] = 1 - 2^-k (M = N).
  const auto dc = density_coverage(real, same, 5);
  CHECK(dc.density == Approx(1.0).margin(0.15));
  CHECK(dc.coverage == Approx(1.0 - std::pow(0.5, 5)).margin(0.05));
  const auto dc_far = density_coverage(real, far, 5);
  CHECK(dc_far.density == Approx(0.0).margin(0.01));
  CHECK(dc_far.coverage == Approx(0.0).margin(0.05));
  // A synthetic sample from the real distribution fills its quantiles: both curves near the diagonal.
  const auto ab = alpha_precision_beta_recall(real, same);
  CHECK(ab.alpha_precision > 0.85);
  CHECK(ab.beta_recall > 0.5);
  CHECK(ab.authenticity == Approx(0.5).margin(0.1));
  // Every synthetic record piled on the real centre: inside every α-ball, so P_α = 1 and the score is poor.
  Records centre;
  for (int i = 0; i < 100; ++i) centre.add({0.0, 0.0}, 3000 + i);
  const auto ab_centre = alpha_precision_beta_recall(real, centre);
  CHECK(ab_centre.precision_curve.front() == Approx(1.0));
  CHECK(ab_centre.alpha_precision < 0.2);
  CHECK(ab_centre.beta_recall < 0.2);  // the real variety is not reproduced
  // Far away: outside every real quantile ball.
  CHECK(alpha_precision_beta_recall(real, far).alpha_precision < 0.0);
  // Copies of real records: not authentic, and each sits on a real record (NNDR 0).
  Records copies;
  for (std::size_t i = 0; i < 100; ++i) copies.add({real.row(i)[0], real.row(i)[1]}, 4000 + static_cast<int>(i));
  CHECK(alpha_precision_beta_recall(real, copies).authenticity == Approx(0.0));
  const auto nndr = nearest_neighbour_ratio(real, copies);
  CHECK(nndr.synthetic_median == Approx(0.0));
  CHECK(nndr.real_median > 0.3);
  CHECK(nearest_neighbour_ratio(real, same).synthetic_median == Approx(nndr.real_median).margin(0.15));
}
