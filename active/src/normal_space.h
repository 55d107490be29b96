// The design's standard normal space, shared by the samplers of active/: each non-fixed
// parameter is x = F^{-1}(Phi(z)), z ~ N(0, 1) (internal).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "physynth/core/random.h"

namespace physynth::active::detail {

// |z| beyond this maps to u = 0 or 1 in double precision; the prior's mass there is 1e-15.
inline constexpr double kZMax = 8.0;

inline double standard_normal_cdf(double z) {
  return 0.5 * std::erfc(-std::clamp(z, -kZMax, kZMax) / std::sqrt(2.0));
}

// log of the standard normal density of a point of dimension d.
inline double log_standard_normal(const double* z, std::size_t d) {
  double s = 0.0;
  for (std::size_t k = 0; k < d; ++k) s += z[k] * z[k];
  return -0.5 * s - 0.5 * static_cast<double>(d) * std::log(2.0 * M_PI);
}

// Standard normal draws keyed on a simulation's key.
inline void normals(std::uint64_t seed, std::uint64_t key, std::uint32_t stream, std::size_t d, double* out) {
  core::CounterRng rng(seed, key, stream);
  for (std::size_t k = 0; k < d; ++k) out[k] = rng.normal();
}

}  // namespace physynth::active::detail
