#include "batched_solve.h"

#include <stdexcept>
#include <vector>

namespace physynth::pinn {

using torch::Tensor;

std::tuple<Tensor, Tensor> solve_batched(const Tensor& A, const Tensor& B) {
  const std::int64_t k = A.size(-1);
  if (k > kSmallSystem || A.dim() != 3 || B.dim() != 3 || !A.device().is_cpu()) {
    auto [X, info] = torch::linalg::solve_ex(A, B, /*left=*/true, /*check_errors=*/false);
    return {X, info};
  }
  // Rows as [batch, k] and [batch, r] tensors; every step acts on all systems at once.
  std::vector<Tensor> a(static_cast<std::size_t>(k)), x(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i) {
    a[static_cast<std::size_t>(i)] = A.select(1, i);
    x[static_cast<std::size_t>(i)] = B.select(1, i);
  }
  Tensor singular = torch::zeros({A.size(0)}, A.options().dtype(torch::kBool));
  for (std::int64_t c = 0; c < k; ++c) {
    const auto cu = static_cast<std::size_t>(c);
    // Partial pivoting: the row at or below c with the largest |a_ic|, per system.
    Tensor best = a[cu].select(1, c).abs();
    Tensor pivot_row = torch::full_like(best, static_cast<double>(c));
    for (std::int64_t i = c + 1; i < k; ++i) {
      const Tensor v = a[static_cast<std::size_t>(i)].select(1, c).abs();
      const Tensor larger = v > best;
      best = torch::where(larger, v, best);
      pivot_row = torch::where(larger, torch::full_like(pivot_row, static_cast<double>(i)), pivot_row);
    }
    for (std::int64_t i = c + 1; i < k; ++i) {
      const auto iu = static_cast<std::size_t>(i);
      const Tensor swap = (pivot_row == static_cast<double>(i)).unsqueeze(1);
      const Tensor ac = a[cu], xc = x[cu];
      a[cu] = torch::where(swap, a[iu], ac);
      a[iu] = torch::where(swap, ac, a[iu]);
      x[cu] = torch::where(swap, x[iu], xc);
      x[iu] = torch::where(swap, xc, x[iu]);
    }
    const Tensor pivot = a[cu].select(1, c);
    singular = singular | (pivot == 0) | torch::logical_not(torch::isfinite(pivot));
    for (std::int64_t i = c + 1; i < k; ++i) {
      const auto iu = static_cast<std::size_t>(i);
      const Tensor l = (a[iu].select(1, c) / pivot).unsqueeze(1);
      a[iu] = a[iu] - l * a[cu];
      x[iu] = x[iu] - l * x[cu];
    }
  }
  for (std::int64_t i = k - 1; i >= 0; --i) {
    const auto iu = static_cast<std::size_t>(i);
    Tensor v = x[iu];
    for (std::int64_t j = i + 1; j < k; ++j) v = v - a[iu].select(1, j).unsqueeze(1) * x[static_cast<std::size_t>(j)];
    x[iu] = v / a[iu].select(1, i).unsqueeze(1);
  }
  return {torch::stack(x, 1), singular.to(torch::kInt)};
}

Tensor solve_batched_checked(const Tensor& A, const Tensor& B) {
  auto [X, info] = solve_batched(A, B);
  if (info.ne(0).any().item<bool>())
    throw std::runtime_error("linalg.solve: a system of the batch is singular (a zero pivot in the elimination)");
  return X;
}

}  // namespace physynth::pinn
