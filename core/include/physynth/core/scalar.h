// Helpers for templated right-hand sides that must work for double, Ceres
// Jets and torch::Tensor alike: no branches on values, only smooth functions
// written with operators and unqualified math calls (ADL picks the overload).
#pragma once

#include <cmath>

namespace physynth::core {

// The logistic function 1 / (1 + e^-x), a smooth step from 0 to 1 around
// x = 0, written as (1 + tanh(x/2)) / 2: it saturates without overflow, so
// value and derivatives stay finite for any x (1 / (1 + e^-x) gives e^7000 =
// inf, and a NaN derivative on autodiff scalars).
template <class T>
T logistic(const T& x) {
  using std::tanh;
  return 0.5 * (1.0 + tanh(0.5 * x));
}

}  // namespace physynth::core
