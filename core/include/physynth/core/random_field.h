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

// One realisation, row-major rows x cols. Throws std::invalid_argument for invalid options, and
// std::runtime_error if the embedding is not positive (not the case for these covariances).
std::vector<double> gaussian_random_field(const FieldOptions& options, std::uint64_t seed, std::uint64_t index);

}  // namespace physynth::core
