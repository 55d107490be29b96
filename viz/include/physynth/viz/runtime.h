// The visualisation library as the CLI and the Python module reach it: a table of functions
// that libphysynth_viz.so hands out (physynth_viz_runtime), so that VTK is loaded only by a
// process that draws (engine::viz_runtime() opens it on first use). Free of VTK types.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "physynth/viz/viz.h"

namespace physynth::viz {

struct Runtime {
  // The physynth version the library was built as; a library from another build is refused.
  const char* version;
  VisualOptions (*options_from_manifest)(const nlohmann::json& manifest);
  Report (*write_report)(const std::string& dir, const VisualOptions& options);
  std::string (*vtk_version)();
};

}  // namespace physynth::viz

// The entry point of libphysynth_viz.so.
extern "C" const physynth::viz::Runtime* physynth_viz_runtime();
