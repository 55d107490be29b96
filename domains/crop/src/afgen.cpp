#include "physynth/domains/crop/afgen.h"

#include "physynth/core/diagnostics.h"

namespace physynth::domains::crop {

Afgen Afgen::from_pairs(const std::vector<double>& xy, std::string* error) {
  Afgen t;
  if (xy.size() < 2 || xy.size() % 2 != 0) {
    *error = "an AFGEN table needs x, y pairs (an even number of values, at least 2), got " +
             std::to_string(xy.size()) + " values";
    return t;
  }
  const std::size_t n = xy.size() / 2;
  std::size_t used = 1;
  while (used < n && xy[2 * used] > xy[2 * (used - 1)]) ++used;
  for (std::size_t i = used; i < n; ++i) {
    if (xy[2 * i] != 0.0 || xy[2 * i + 1] != 0.0) {
      *error = "AFGEN x values must ascend; x = " + core::format_number(xy[2 * i]) + " (pair " + std::to_string(i + 1) +
               ") follows x = " + core::format_number(xy[2 * (used - 1)]) + " and is not trailing (0, 0) padding";
      return t;
    }
  }
  for (std::size_t i = 0; i < used; ++i) {
    t.x_.push_back(xy[2 * i]);
    t.y_.push_back(xy[2 * i + 1]);
  }
  return t;
}

}  // namespace physynth::domains::crop
