// What every multi-start fit shares (internal to physynth::anchor): the box in the fitted space
// (ln θ where an entry is log-scaled) and the start points, the given start first (unless told
// not to), then a Sobol design over the box, digital shift `seed`.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "physynth/anchor/residual_fit.h"

namespace physynth::anchor::detail {

struct StartDesign {
  std::vector<double> lower, upper;         // the box, fitted space
  std::vector<std::vector<double>> points;  // one per start, fitted space
};

// A fit's beginning: the box and options checked (false, with R.message, where they are not
// valid), R.starts sized, the design made.
bool begin_fit(ResidualFitResult& R, const std::vector<BoxParameter>& box, const ResidualFitOptions& options,
               StartDesign& design);

// Runs one(s) for every start s, in parallel on `threads` threads (0: every core).
void for_each_start(std::size_t starts, int threads, const std::function<void(std::size_t)>& one);

// Fills R's best start (the usable one of lowest cost, the first among equals), best, best_cost,
// at_bound (per entry of its optimum in the fitted space, optima[s]: within 1e-6 of the box's
// width of a bound) and seconds since `began`; false,
// with R.message, where no start is usable.
bool pick_best(ResidualFitResult& R, const std::vector<std::vector<double>>& optima, const StartDesign& design,
               std::chrono::steady_clock::time_point began);

}  // namespace physynth::anchor::detail
