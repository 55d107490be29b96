// torch::Tensor as a scalar type of templated models: the element-wise
// comparisons and selections core::ScalarOps needs (core/expression_tape.h),
// so that compiled models (SBML) run on tensor batches like hand-written ones.
// Include only from pinn/ sources and tests: it pulls in LibTorch.
#pragma once

#include <torch/torch.h>

#include "physynth/core/expression_tape.h"

namespace physynth::core {

template <>
struct ScalarOps<at::Tensor> {
  static at::Tensor less(const at::Tensor& a, const at::Tensor& b) { return (a < b).to(a.scalar_type()); }
  static at::Tensor less_equal(const at::Tensor& a, const at::Tensor& b) { return (a <= b).to(a.scalar_type()); }
  static at::Tensor equal(const at::Tensor& a, const at::Tensor& b) { return (a == b).to(a.scalar_type()); }
  static at::Tensor select(const at::Tensor& condition, const at::Tensor& if_true, const at::Tensor& if_false) {
    return at::where(condition != 0, if_true, if_false);
  }
  static at::Tensor factorial(const at::Tensor& x) { return at::exp(at::lgamma(x + 1.0)).detach(); }
};

}  // namespace physynth::core
