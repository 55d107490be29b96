// Helpers for templated right-hand sides that must work for double, Ceres
// Jets and torch::Tensor alike: no branches on values, only smooth functions
// written with operators and unqualified math calls (ADL picks the overload).
#pragma once

#include <cmath>

namespace physynth::core {

// 1 / (1 + e^-x): a smooth step from 0 to 1 around x = 0.
template <class T>
T logistic(const T& x) {
  using std::exp;
  return 1.0 / (1.0 + exp(-x));
}

}  // namespace physynth::core
