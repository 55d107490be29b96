#include "physynth/core/sparse_jacobian.h"

#include <algorithm>

namespace physynth::core {

ColumnColoring color_columns(const SparsityPattern& pattern) {
  ColumnColoring c;
  c.pattern = pattern;
  const int n = pattern.size;
  c.color.assign(static_cast<std::size_t>(n), -1);
  // The columns of each row, to find a column's neighbours (columns sharing a row with it).
  std::vector<std::vector<int>> row_columns(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j)
    for (int e = pattern.column_start[j]; e < pattern.column_start[j + 1]; ++e)
      row_columns[static_cast<std::size_t>(pattern.row_index[static_cast<std::size_t>(e)])].push_back(j);
  std::vector<int> taken_by(static_cast<std::size_t>(n) + 1, -1);  // colour -> last column that saw it taken
  for (int j = 0; j < n; ++j) {
    for (int e = pattern.column_start[j]; e < pattern.column_start[j + 1]; ++e)
      for (int other : row_columns[static_cast<std::size_t>(pattern.row_index[static_cast<std::size_t>(e)])])
        if (const int k = c.color[static_cast<std::size_t>(other)]; k >= 0) taken_by[static_cast<std::size_t>(k)] = j;
    int k = 0;
    while (taken_by[static_cast<std::size_t>(k)] == j) ++k;
    c.color[static_cast<std::size_t>(j)] = k;
    c.colors = std::max(c.colors, k + 1);
  }
  return c;
}

std::optional<ColumnColoring> coloring_if_it_pays(const SparsityPattern& pattern) {
  auto c = color_columns(pattern);
  const auto chunks = [](int k) { return (k + kJacobianChunk - 1) / kJacobianChunk; };
  if (chunks(c.colors) < chunks(pattern.size)) return c;
  return std::nullopt;
}

}  // namespace physynth::core
