// Jacobians of sparse systems by column colouring (Curtis, Powell and Reid, 1974): columns that
// share no row cannot disturb each other's entries, so one seeded direction serves them all and
// an n-column Jacobian costs (colours / kJacobianChunk) evaluations on Jets instead of
// n / kJacobianChunk. For a reaction network of 500 species where each reads a handful of
// others, a few dozen colours.
#pragma once

#include <optional>
#include <vector>

#include "physynth/core/autodiff.h"
#include "physynth/core/model.h"

namespace physynth::core {

struct ColumnColoring {
  SparsityPattern pattern;
  std::vector<int> color;  // per column; columns of a colour share no row
  int colors = 0;
};

// Greedy colouring in column order: each column takes the smallest colour no column sharing a
// row with it has.
ColumnColoring color_columns(const SparsityPattern& pattern);

// The colouring where it takes fewer Jet evaluations than seeding every column; nullopt otherwise.
std::optional<ColumnColoring> coloring_if_it_pays(const SparsityPattern& pattern);

// d out_i / d x_j for the pattern's entries (the rest of jac, n x n column-major, is zero), with
// f(const Dual* x, Dual* out) as in forward_jacobian.
template <class F>
void colored_jacobian(F&& f, const ColumnColoring& c, const double* x, double* jac) {
  const std::size_t n = static_cast<std::size_t>(c.pattern.size);
  Dual* xd = jet_scratch<0>(n).data();
  Dual* out = jet_scratch<1>(n).data();
  std::fill(jac, jac + n * n, 0.0);
  for (int first = 0; first < c.colors; first += kJacobianChunk) {
    for (std::size_t j = 0; j < n; ++j) {
      xd[j] = Dual(x[j]);
      const int k = c.color[j] - first;
      if (k >= 0 && k < kJacobianChunk) xd[j].v[k] = 1.0;
    }
    f(xd, out);
    for (std::size_t j = 0; j < n; ++j) {
      const int k = c.color[j] - first;
      if (k < 0 || k >= kJacobianChunk) continue;
      for (int e = c.pattern.column_start[j]; e < c.pattern.column_start[j + 1]; ++e) {
        const auto i = static_cast<std::size_t>(c.pattern.row_index[static_cast<std::size_t>(e)]);
        jac[i + n * j] = out[i].v[k];
      }
    }
  }
}

}  // namespace physynth::core
