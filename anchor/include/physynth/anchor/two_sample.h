// Two-sample statistics for the fidelity audit: how far a synthetic sample is
// from a real one, per variable and jointly.
//
// Records are rows of features that the caller has put on comparable scales
// (the audit divides by the real data's standard deviation). Every record
// belongs to a group: the unit (tool, plot, well) it was measured on. Records
// of one unit are not independent, so every permutation test here exchanges
// whole groups between the two samples, never single records; its p-value is
// (1 + #{permuted statistic >= observed}) / (1 + permutations), exact for any
// sample size. Results are a pure function of the inputs and the seed.
#pragma once

#include <cstdint>
#include <vector>

namespace physynth::anchor {

struct Records {
  std::size_t dims = 0;
  std::vector<double> x;   // size() x dims, row-major; finite
  std::vector<int> group;  // per record: its unit (any integers; equal = same unit)
  std::size_t size() const { return group.size(); }
  const double* row(std::size_t i) const { return x.data() + i * dims; }
  void add(const std::vector<double>& features, int unit);
};

struct TestResult {
  double statistic = 0.0;
  double p_value = 1.0;  // NaN when no permutations were asked for
  int permutations = 0;
};

// Two-sample Kolmogorov-Smirnov distance sup |F_a - F_b| of one variable, and its group
// permutation p-value.
TestResult ks_test(const std::vector<double>& a, const std::vector<int>& group_a, const std::vector<double>& b,
                   const std::vector<int>& group_b, int permutations, std::uint64_t seed);
double ks_statistic(std::vector<double> a, std::vector<double> b);

// First Wasserstein distance ∫ |F_a - F_b| of one variable (in its units).
double wasserstein1(std::vector<double> a, std::vector<double> b);

// Maximum mean discrepancy (unbiased MMD², Gretton et al. 2012) with the Gaussian kernel
// exp(-|x - y|² / (2 h²)), h the median distance between the pooled records (the median
// heuristic); bandwidth_out receives h.
TestResult mmd_test(const Records& a, const Records& b, int permutations, std::uint64_t seed,
                    double* bandwidth_out = nullptr);

// Improved precision and recall (Kynkäänniemi et al. 2019): the share of synthetic records
// inside the real data's k-nearest-neighbour balls (fidelity), and of real records inside the
// synthetic data's (coverage of the real variety).
struct PrecisionRecall {
  double precision = 0.0, recall = 0.0;
  int k = 0;
};
PrecisionRecall precision_recall(const Records& real, const Records& synthetic, int k);

// Classifier two-sample test (Lopez-Paz & Oquab 2017) with a k-nearest-neighbour classifier,
// leave-one-unit-out: each record is classified by its k nearest records of other units. The
// statistic is the accuracy (0.5: indistinguishable), the p-value from permuting unit labels.
TestResult classifier_test(const Records& real, const Records& synthetic, int k, int permutations, std::uint64_t seed);

// Distance to the closest real record of each synthetic record, against the same for each
// real record among the other real units: a synthetic record much closer to a real one than
// real units are to each other is a copy (memorisation).
struct ClosestRecord {
  double synthetic_median = 0.0;  // median distance synthetic -> nearest real
  double real_median = 0.0;       // median distance real -> nearest real of another unit
  double real_p5 = 0.0;           // 5th percentile of the latter
  double share_below_real_p5 = 0.0;
  std::size_t exact_copies = 0;  // synthetic records at distance < 1e-12
};
ClosestRecord closest_records(const Records& real, const Records& synthetic);

// How well predictions match observations. Pairs with a non-finite prediction are left out and
// counted in `missing`; every statistic is NaN when no pair is left.
struct PredictionScore {
  std::size_t n = 0, missing = 0;
  double rmse = 0.0, mae = 0.0;
  double bias = 0.0;  // mean of prediction - observation
  double r2 = 0.0;    // 1 - SSE / SST over the observations scored; NaN when they are all equal
};
PredictionScore score_predictions(const std::vector<double>& predicted, const std::vector<double>& observed);

// k-nearest-neighbour regression of y: trained on `train` and scored on `test`; with
// leave_one_unit_out (train and test the same records), each record is predicted from other units only.
PredictionScore knn_regression(const Records& train, const std::vector<double>& y_train, const Records& test,
                               const std::vector<double>& y_test, int k, bool leave_one_unit_out = false);

// Pearson correlation matrix of the features (dims x dims, row-major); NaN where a feature is constant.
std::vector<double> correlation_matrix(const Records& r);

// Quantile q of v (linear interpolation between order statistics); NaN for an empty v.
double quantile(std::vector<double> v, double q);

}  // namespace physynth::anchor
