// A X = B for a batch of small square systems (A [batch, k, k], B [batch, k, r]) by Gaussian
// elimination with partial pivoting in whole-batch tensor operations, differentiable as any
// tensor expression. torch's linalg.solve on a CPU batch calls LAPACK once per matrix (with
// OpenBLAS's threading around each call): for the quasi-steady manifolds' and conservation laws'
// 1 to 8 unknowns, on a batch of 65,536 points, that was most of a PINN generation's time.
// Above kSmallSystem unknowns, or on another device, torch's solver.
#pragma once

#include <torch/torch.h>

#include <tuple>

namespace physynth::pinn {

inline constexpr std::int64_t kSmallSystem = 8;

// (X, info): info [batch] is nonzero where a pivot was 0 or not finite (X is not finite there),
// as linalg::solve_ex's without error checks.
std::tuple<torch::Tensor, torch::Tensor> solve_batched(const torch::Tensor& A, const torch::Tensor& B);

// X, throwing std::runtime_error where any system is singular (as linalg::solve does).
torch::Tensor solve_batched_checked(const torch::Tensor& A, const torch::Tensor& B);

}  // namespace physynth::pinn
