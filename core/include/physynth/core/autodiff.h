// Exact derivatives of a templated function by forward-mode automatic
// differentiation with Ceres' Jet (header-only; no Ceres library is linked).
//
// Directions are seeded kChunk at a time, so an n-column Jacobian costs
// ceil(n / kChunk) evaluations of the function on Jets of fixed size: no heap
// traffic per operation, and any n works.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include <ceres/jet.h>

namespace physynth::core {

inline constexpr int kJacobianChunk = 8;
using Dual = ceres::Jet<double, kJacobianChunk>;

// f(const Dual* x, Dual* out) computes out[0..rows) from x[0..cols).
// Writes d out_i / d x_j to jac[i + rows * j] (column-major).
// Scratch Jets that live with the thread, so a Jacobian in an integrator's step loop touches
// no heap after its first call. Slot: one buffer per call site that may be live at once.
template <class J, int Slot>
std::vector<J>& jet_scratch_of(std::size_t size) {
  thread_local std::vector<J> v;
  if (v.size() < size) v.resize(size);
  return v;
}
template <int Slot>
std::vector<Dual>& jet_scratch(std::size_t size) {
  return jet_scratch_of<Dual, Slot>(size);
}

// The same on Jets of J's size: kChunk directions per evaluation, scratch in slots Slot and Slot + 1.
// Where `values` is given, f(x) too (its Jets' values).
template <class J, int Slot, class F>
void forward_jacobian_of(F&& f, std::size_t rows, std::size_t cols, const double* x, double* jac,
                         double* values = nullptr) {
  constexpr std::size_t kChunk = static_cast<std::size_t>(J::DIMENSION);
  J* xd = jet_scratch_of<J, Slot>(cols).data();
  J* out = jet_scratch_of<J, Slot + 1>(rows).data();
  for (std::size_t first = 0; first < cols; first += kChunk) {
    const std::size_t count = std::min<std::size_t>(kChunk, cols - first);
    for (std::size_t j = 0; j < cols; ++j) {
      xd[j] = J(x[j]);
      if (j >= first && j < first + count) xd[j].v[static_cast<int>(j - first)] = 1.0;
    }
    f(xd, out);
    if (values && first == 0)
      for (std::size_t i = 0; i < rows; ++i) values[i] = out[i].a;
    for (std::size_t k = 0; k < count; ++k)
      for (std::size_t i = 0; i < rows; ++i) jac[i + rows * (first + k)] = out[i].v[static_cast<int>(k)];
  }
}

template <class F>
void forward_jacobian(F&& f, std::size_t rows, std::size_t cols, const double* x, double* jac) {
  forward_jacobian_of<Dual, 0>(f, rows, cols, x, jac);
}

}  // namespace physynth::core
