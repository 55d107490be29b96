// The network's output and residual around the quasi-steady manifold, row by row in double: what
// Impl::raw_output, raw_tangent and fibre_base (before the manifold) and Impl::residual with its
// sign penalty (after it) compute with tensor operations, for inference on a CPU batch in float64
// whose manifold runs by rows (manifold_rows.h). On Michaelis-Menten's 1,000 samples those tensor
// operations took about 25 ms of the 134 ms a 1-thread generation spent in the network's call
// (AMD EPYC, 2026-12-06), each a pass over memory and a call through LibTorch's dispatcher for a
// few arithmetic operations a row. A row's numbers depend on that row alone. Torch-free;
// pinn_impl.h hands it the batch's arrays. Private to pinn/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "physynth/core/model.h"

namespace physynth::pinn {

// Row-major arrays of B rows; n states, q quasi-steady states, m parameters.
struct RawRows {
  std::size_t n = 0;
  std::vector<std::int64_t> qss;  // [q] the quasi-steady states' indices
  std::vector<char> positive;     // [n] NetworkOptions::positive
  double sharpness = 0.0;         // pinn_impl.h's kSharpness
  const double* th = nullptr;     // [B] t^
  const double* N = nullptr;      // [B, n] the network's output
  const double* dN = nullptr;     // [B, n] its derivative along t^, or null (a prediction)
  // Per sample (row r reads sample r / per):
  std::size_t per = 1;
  const double* y0 = nullptr;  // [n]
  const double* s = nullptr;   // [n]
  const double* z0 = nullptr;  // [n] softplus^-1(y0 / s) (positive states), or null (none)
  // Outputs: v = fibre_base(raw_output / s) and, with dN, dv = fibre_base(raw_tangent / s).
  double* v = nullptr;
  double* dv = nullptr;
};

// Rows [first, last).
void raw_rows(const RawRows& R, std::size_t first, std::size_t last);

struct ResidualRows {
  std::size_t n = 0, q = 0, m = 0;
  std::vector<std::int64_t> qss;   // [q]
  std::vector<char> nonneg;        // [n] the model's non-negative states: f sees max(u, 0), and the penalty
  bool relative = false;           // TrainOptions::Residual::kRelative (else kPlain)
  const double* v = nullptr;       // [B, n] on the manifold (OnManifold::v)
  const double* P = nullptr;       // [B, n, n] dv/dv_net
  const double* drift = nullptr;   // [B, n]
  const double* dv = nullptr;      // [B, n] RawRows::dv
  const double* t = nullptr;       // [B]
  const double* dt_dth = nullptr;  // [B]
  // Per sample (row r reads sample r / per):
  std::size_t per = 1;
  const double* s = nullptr;     // [n]
  const double* tau = nullptr;   // [1] the characteristic time, or null (off)
  const double* D = nullptr;     // [n, q] fast directions
  std::vector<const double*> p;  // m columns, p[j][sample * p_stride]
  std::size_t p_stride = 1;
  // Output: each row's sum of squares over its residual's n + (non-negative states) columns.
  double* squares = nullptr;
};

// Rows [first, last). Throws std::runtime_error where a row's quasi-steady block of D is
// singular, as Impl::residual's solve_batched_checked does.
void residual_rows(const core::Model& model, const ResidualRows& R, std::size_t first, std::size_t last);

}  // namespace physynth::pinn
