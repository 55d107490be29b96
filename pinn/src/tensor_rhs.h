// The domain models' one templated right-hand side, evaluated on tensors: the
// PINN's physics residual. Private to pinn/.
#pragma once

#include <functional>

#include <ATen/Tensor.h>

#include "physynth/core/model.h"

namespace physynth::pinn {

// f = rhs(t, y, p): t a batch of times, y one tensor per state, p one per parameter
// (each a batch, or broadcastable to one); f one tensor per state.
using TensorRhs = std::function<void(const at::Tensor& t, const at::Tensor* y, const at::Tensor* p, at::Tensor* f)>;

// The tensor right-hand side of `model` (which must outlive it); throws
// std::invalid_argument naming the model when it has none (tensor_support says why).
TensorRhs make_tensor_rhs(const core::Model& model);

}  // namespace physynth::pinn
