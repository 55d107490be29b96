// Fields as grids of plots: spatially correlated soil properties drawn as a
// stationary Gaussian random field, so neighbouring plots are alike and
// distant ones independent, as in the soil surveys a yield map reflects.
//
// Exact sampling by circulant embedding (Dietrich & Newsam, SIAM J. Sci.
// Comput. 18 (1997) 1088): the covariance on the grid is embedded in a
// periodic one on a grid at least twice as large in each direction (larger
// where a smooth covariance needs room to decay, until the embedding is
// non-negative definite), whose eigenvalues a 2-D FFT gives; a complex Gaussian vector scaled by their
// square roots and transformed back gives two independent fields. Counter-
// based draws keyed on (seed, field index).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace physynth::core {

struct FieldOptions {
  int rows = 10;
  int cols = 10;
  double cell_size_m = 10.0;
  double mean = 0.0;
  double sd = 1.0;
  double correlation_length_m = 30.0;
  enum class Covariance { kExponential, kGaussian } covariance = Covariance::kExponential;

  // Every violated constraint as a message; empty if valid.
  std::vector<std::string> validate() const;
  // C(h) for two plots h metres apart.
  double covariance_at(double h) const;
};

// The embedding of one field's covariance, computed once (its eigenvalues by FFT, the torus grown
// until they are non-negative), from which any number of realisations are drawn. Throws
// std::invalid_argument for invalid options, and std::runtime_error if the embedding is not
// positive (not the case for these covariances).
class GaussianRandomField {
 public:
  explicit GaussianRandomField(const FieldOptions& options);
  // One realisation, row-major rows x cols, keyed on (seed, index): the same numbers as
  // gaussian_random_field(options, seed, index).
  std::vector<double> sample(std::uint64_t seed, std::uint64_t index) const;

 private:
  FieldOptions o_;
  int R_ = 0, C_ = 0;          // the torus
  std::vector<double> scale_;  // sqrt(eigenvalue / (R C)) per frequency
};

// One realisation, row-major rows x cols (GaussianRandomField(options).sample(seed, index)).
std::vector<double> gaussian_random_field(const FieldOptions& options, std::uint64_t seed, std::uint64_t index);

}  // namespace physynth::core
