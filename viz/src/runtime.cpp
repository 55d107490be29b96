// The table engine::viz_runtime() finds in this library (runtime.h).
#include "physynth/viz/runtime.h"

#include "physynth/viz/version.h"

namespace physynth::viz {
namespace {
const Runtime kRuntime{PHYSYNTH_VERSION, &options_from_manifest, &write_report, &vtk_version};
}  // namespace
}  // namespace physynth::viz

extern "C" const physynth::viz::Runtime* physynth_viz_runtime() { return &physynth::viz::kRuntime; }
