// The quasi-steady manifold's Newton iteration row by row, in double, with the model's own
// right-hand side and Jacobian (core::Model::rhs_and_jacobian, and its _lanes form): what
// Impl::to_manifold computes with tensor operations and autograd, for a CPU batch in float64 and
// an autonomous model. On Michaelis-Menten's 1,000 samples it took the generation from 0.47 to
// 0.39 s on one thread (the tensor Newton and the matrices after it had been 0.23 s of 0.56 s,
// timed by phase); with up to 4 states kLanes rows go at once (SIMD over rows), a row's numbers
// the same wherever a range of rows starts. Torch-free; pinn_impl.h hands it the batch's arrays.
// Private to pinn/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "physynth/core/model.h"

namespace physynth::pinn {

// Row-major arrays of B rows; n states, k conservation laws, q quasi-steady states, m parameters.
struct ManifoldRows {
  std::size_t n = 0, k = 0, q = 0, m = 0;
  std::vector<std::int64_t> qss;  // the quasi-steady states' indices [q]
  std::vector<char> clamp;        // [n]: f sees max(u_i, 0) (non-negative states, not quasi-steady)
  double t0 = 0.0, tol = 0.0;     // Impl::manifold_tolerance, or output_tolerance
  int max_iterations = 0;      // Impl::kManifoldSteps
  // Inputs per row.
  // The directions a row moves along, M = [W C^T | D] (Impl::directions), from C, D and W's
  // diagonal (the states that hold the laws: 1, else 0; [n]).
  std::vector<double> law_weight;
  const double* v_net = nullptr;   // [n] the network's scaled state, quasi-steady entries zero
  const double* C = nullptr;       // [k, n] the conservation laws in scaled states (k > 0)
  const double* c = nullptr;       // [k]
  const double* s = nullptr;       // [n] scales
  const double* g0 = nullptr;      // [q] f_Q(t0, y0)
  const double* rate = nullptr;    // [q] relaxation rates
  const double* D = nullptr;       // [n, q] fast directions
  const double* t = nullptr;       // [1] physical time
  const double* dt_dth = nullptr;  // [1] dt/dt^
  std::vector<const double*> p;    // m columns: the parameters, p[j][r * p_stride]
  std::size_t p_stride = 1;
  // Rows per sample. Above 1, s, C, c, g0, rate, D and the parameters are the samples' (row r
  // reads sample r / per): a grid's rows need no copies of what their sample's rows share.
  std::size_t per = 1;
  // Outputs per row: v on the manifold, P = dv/dv_net, the drift M A^-1 [0; dG/dt^], the
  // quasi-steady columns of M A^-1; a row that does not converge to a finite, stable root
  // keeps v_net, P = I and zeros (as the tensor version).
  // P, drift and MAq null: v alone (what a prediction without autograd reads; a row is kept where
  // M A^-1, J and dG/dt^ are finite, which is where P and the drift are, short of an overflow).
  double* v = nullptr;      // [n]
  double* P = nullptr;      // [n, n]
  double* drift = nullptr;  // [n]
  double* MAq = nullptr;    // [n, q]
};

// Rows [first, last) of a batch whose row r's arrays start at the pointers above plus r times
// their row sizes.
void solve_manifold_rows(const core::Model& model, const ManifoldRows& rows, std::size_t first, std::size_t last);

// Impl::fast_subspace row by row (a CPU batch in float64): the scaled Jacobian J~ = S^-1 J S at
// each row's point u and t0 (non-negative states clamped at zero in f, as Impl::rhs_of does, so
// their columns vanish below zero), then 4 steps of D <- J~ D held on the conservation laws
// (D - Q C D) and normalised to a unit component in each quasi-steady state's own row; a step
// whose result is not finite or exceeds 1e6 leaves D as it was. The same arithmetic as the
// tensor version (autograd's Jacobian there, Jets here: equal to rounding), without its few
// hundred tensor operations on a row per sample (about 2.5 ms per call on 1,000 samples).
struct SubspaceRows {
  std::size_t n = 0, k = 0, q = 0, m = 0;
  std::vector<std::int64_t> qss;  // [q]
  std::vector<char> clamp;        // [n]: the model's non-negative states
  double t0 = 0.0;
  const double* u = nullptr;     // [n] the point (physical states)
  const double* s = nullptr;     // [n] scales
  const double* C = nullptr;     // [k, n] (k > 0)
  const double* Q = nullptr;     // [n, k] (k > 0)
  std::vector<const double*> p;  // m columns of B rows
  double* D = nullptr;           // [n, q]: the start in, the fast directions out
  // relaxation_rates_rows: out [q], and the least rate (1 / (t1 - t0)).
  double* rate = nullptr;
  double rate_floor = 0.0;
};
void fast_subspace_rows(const core::Model& model, const SubspaceRows& rows, std::size_t first, std::size_t last);

// Impl::set_relaxation's rates row by row: at the point u (the quasi-steady point of y0) each
// quasi-steady state's rate |(d f_Q / s_Q along D_j) / D_Qj|, not a number taken as 0, at least
// rate_floor; D read, not written. clamp: the states Impl::rhs_of clamps on the manifold (the
// non-negative ones that are not quasi-steady).
void relaxation_rates_rows(const core::Model& model, const SubspaceRows& rows, std::size_t first, std::size_t last);

}  // namespace physynth::pinn
