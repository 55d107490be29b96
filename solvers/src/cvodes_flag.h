// CVODES' name of a return flag, e.g. "CV_TOO_MUCH_WORK" (internal to physynth::solvers).
#pragma once

#include <cstdlib>
#include <string>

#include <cvodes/cvodes.h>

namespace physynth::solvers::detail {

// CVodeGetReturnFlagName returns a malloc'ed name the caller frees.
inline std::string return_flag_name(int flag) {
  char* name = CVodeGetReturnFlagName(flag);
  std::string out = name ? name : "CV_UNKNOWN";
  std::free(name);
  return out;
}

}  // namespace physynth::solvers::detail
