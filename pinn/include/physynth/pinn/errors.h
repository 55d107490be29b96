// How far a network's trajectory is from the solver's: the one definition the
// trainer's validation, the held-out test and the engine's verified samples use.
// Header only and free of LibTorch.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace physynth::pinn {

// Per state i, ||u_i - y_i||_2 / ||y_i||_2 over `rows` rows of n states (row-major);
// the absolute norm where y_i is zero throughout.
inline std::vector<double> relative_l2_errors(const double* u, const double* y, std::size_t rows, std::size_t n) {
  std::vector<double> err(n);
  for (std::size_t i = 0; i < n; ++i) {
    double num = 0.0, den = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
      const double d = u[r * n + i] - y[r * n + i];
      num += d * d;
      den += y[r * n + i] * y[r * n + i];
    }
    err[i] = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  }
  return err;
}

}  // namespace physynth::pinn
