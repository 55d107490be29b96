// One small linear system A X = B (A k x k, B k x r, both row-major, overwritten) by Gaussian
// elimination with partial pivoting, the method solve_batched (batched_solve.h) applies to each
// system of a batch with tensor operations (equal to rounding, not bit for bit): for the row
// functions, one system per row. Private to pinn/.
#pragma once

#include <cmath>
#include <cstddef>
#include <utility>

namespace physynth::pinn {

// X into B; false where a pivot is 0 or not finite (B is then not the solution).
inline bool solve_small(double* A, double* B, std::size_t k, std::size_t r) {
  for (std::size_t col = 0; col < k; ++col) {
    std::size_t best = col;
    for (std::size_t i = col + 1; i < k; ++i)
      if (std::abs(A[i * k + col]) > std::abs(A[best * k + col])) best = i;
    if (best != col) {
      for (std::size_t j = 0; j < k; ++j) std::swap(A[col * k + j], A[best * k + j]);
      for (std::size_t j = 0; j < r; ++j) std::swap(B[col * r + j], B[best * r + j]);
    }
    const double pivot = A[col * k + col];
    if (pivot == 0.0 || !std::isfinite(pivot)) return false;
    for (std::size_t i = col + 1; i < k; ++i) {
      const double factor = A[i * k + col] / pivot;
      for (std::size_t j = col; j < k; ++j) A[i * k + j] -= factor * A[col * k + j];
      for (std::size_t j = 0; j < r; ++j) B[i * r + j] -= factor * B[col * r + j];
    }
  }
  for (std::size_t col = k; col-- > 0;)
    for (std::size_t j = 0; j < r; ++j) {
      double sum = B[col * r + j];
      for (std::size_t i = col + 1; i < k; ++i) sum -= A[col * k + i] * B[i * r + j];
      B[col * r + j] = sum / A[col * k + col];
    }
  return true;
}

}  // namespace physynth::pinn
