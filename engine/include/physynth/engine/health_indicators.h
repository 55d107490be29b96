// How good each observation channel of a run-to-failure fleet is as a health indicator: the
// three measures of Coble and Hines (2009, "Identifying optimal prognostic parameters from
// data: a genetic algorithms approach", PHM Society), as MATLAB's Predictive Maintenance
// Toolbox and NASA's prog_models compute them. Each in [0, 1], 1 best:
//
//   monotonicity    mean over units of |sum_k sign(x(k+1) - x(k))| / (n - 1)
//   prognosability  exp(-std over units of x(end) / mean over units of |x(1) - x(end)|)
//   trendability    min over pairs of units of |corr(x_i, x_j)|, each pair resampled to the
//                   shorter one's length (linear in the fraction of life)
//
// A unit's trajectory is its readings up to its failure (the terminal event), missing ones
// (NaN) left out. Written into a run's audit.json ("health_indicators") when the scenario has a
// terminal event.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace physynth::engine {

struct IndicatorQuality {
  std::size_t units = 0;                                                // trajectories with at least 2 readings
  double monotonicity = 0.0, prognosability = 0.0, trendability = 0.0;  // NaN with fewer than 2 units
};

// The three measures over the units' trajectories (each in time order).
IndicatorQuality indicator_quality(const std::vector<std::vector<double>>& trajectories);

// Per observation channel of the run's HDF5 shards (in sample order): the measures over the
// first max_units units that stopped at their terminal event.
nlohmann::ordered_json health_indicator_quality(const std::vector<std::string>& hdf5_shards, std::size_t max_units);

}  // namespace physynth::engine
