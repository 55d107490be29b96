#pragma once
// Numerical constants used across the libraries, defined once.
#include <limits>

namespace physynth {

// A quiet NaN: "no value" in tables, series and summaries.
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kPi = 3.14159265358979323846;

}  // namespace physynth
