// Visualisation (VTK files, plots, reports: issue 8) is built on VTK; this header stays VTK-free.
#pragma once

#include <string>

namespace physynth::viz {

// The VTK version this library was built with, e.g. "9.1.0".
std::string vtk_version();

}  // namespace physynth::viz
