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

// Density and coverage (Naeem, Oh, Uh, Choi & Yoo, ICML 2020): with B_i the ball around real
// record i out to its k-th nearest real neighbour, density = (1 / kM) sum over the M synthetic
// records of the number of balls each lies in (about 1 when the synthetic data lie where the
// real data do, as densely; above 1 where they crowd), coverage = the share of real records whose
// ball holds a synthetic record. Unlike precision and recall, one real outlier does not inflate them.
struct DensityCoverage {
  double density = 0.0, coverage = 0.0;
  int k = 0;
};
DensityCoverage density_coverage(const Records& real, const Records& synthetic, int k);

// α-precision, β-recall and authenticity (Alaa, van Breugel, Saveliev & van der Schaar, ICML
// 2022), on the features as given (the audit's scaled features stand in for the paper's learned
// one-class embedding). With c the real records' mean and r_α the α-quantile of their distances
// to c, P_α is the share of synthetic records within r_α of c. With c_s the synthetic mean, r_β
// the β-quantile of the synthetic records' distances to it, and ŷ each real record's nearest
// synthetic record, R_β is the share of real records for which ŷ lies within r_β of c_s and the
// real record within ŷ's k-nearest-neighbour ball among the synthetic records.
// The scores are 1 - 2 mean_α |P_α - α| (1: the synthetic data fill the real support as the
// real data do) and the same for R_β. Authenticity is the share of synthetic records farther
// from their nearest real record than that record is from its nearest real neighbour of another
// unit (near 1: no copies; about 0.5 for data drawn from the real distribution itself).
struct AlphaPrecisionBetaRecall {
  double alpha_precision = 0.0, beta_recall = 0.0, authenticity = 0.0;
  std::vector<double> levels;                   // α (and β) at which the curves are evaluated
  std::vector<double> precision_curve, recall_curve;
};
AlphaPrecisionBetaRecall alpha_precision_beta_recall(const Records& real, const Records& synthetic, int k = 5,
                                                     int levels = 20);

// Nearest-neighbour distance ratio (as in SDMetrics and mostly.ai's QA): for each synthetic
// record, its distance to the nearest real record over that to the second nearest; a ratio near
// 0 means it sits on one real record (a copy). Compared with the same ratio of each real record
// against the real records of other units.
struct NearestNeighbourRatio {
  double synthetic_median = 0.0, real_median = 0.0;
  double synthetic_p5 = 0.0, real_p5 = 0.0;
};
NearestNeighbourRatio nearest_neighbour_ratio(const Records& real, const Records& synthetic);

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
