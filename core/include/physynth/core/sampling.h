// Sampling designs over the stochastic parameters of a scenario.
//
// A design produces points u in (0,1)^d (d = number of non-fixed parameters);
// each coordinate goes through its parameter's quantile function. Every point
// depends only on (seed, sample index), never on how samples are split across
// threads, shards or ranks:
//   random          u_ij = Philox(seed, i, kDesign)_j
//   latin_hypercube u_ij = (pi_j(i) + Philox(seed, i, kDesign)_j) / N, pi_j a keyed permutation
//   sobol           Joe-Kuo Sobol point i (Boost), digitally shifted by seed-keyed bits
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "physynth/core/distribution.h"

namespace physynth::core {

enum class Design { kRandom, kLatinHypercube, kSobol };
const char* design_name(Design d);

class Sampler {
 public:
  Sampler(Design design, std::vector<Distribution> distributions, std::uint64_t seed, std::uint64_t num_samples);

  std::size_t num_parameters() const { return distributions_.size(); }
  std::size_t dimension() const { return stochastic_.size(); }

  // Parameters of samples [first, first + count), row-major count x num_parameters().
  void sample(std::uint64_t first, std::size_t count, double* params) const;
  // The parameters of given design points: u is count x dimension() in (0, 1), one coordinate
  // per non-fixed parameter in order; params as for sample(). For points drawn elsewhere (a
  // rare-event sampler's, an active-learning round's).
  void map_unit(const double* u, std::size_t count, double* params) const;
  // The design's points [first, first + count) themselves, count x dimension() in (0, 1).
  void unit_points(std::uint64_t first, std::size_t count, double* u) const;

 private:

  Design design_;
  std::vector<Distribution> distributions_;
  std::vector<std::size_t> stochastic_;  // indices of non-fixed parameters
  std::uint64_t seed_;
  std::uint64_t num_samples_;
};

}  // namespace physynth::core
