// LibTorch and VTK, loaded only by a process that uses them. The network library
// (libphysynth_pinn.so, LibTorch) and the visualisation library (libphysynth_viz.so, VTK) are
// opened on first use from the folder libphysynth_engine.so was loaded from (lib/ in the build
// tree and in an install), so `physynth --version`, `validate` and `run` with CVODES start
// without their ~350 shared libraries.
#pragma once

namespace physynth::pinn {
struct Runtime;  // physynth/pinn/runtime.h
}
namespace physynth::viz {
struct Runtime;  // physynth/viz/runtime.h
}

namespace physynth::engine {

// Whether this physynth was built with LibTorch (PHYSYNTH_WITH_TORCH) and with VTK.
bool pinn_built();
bool viz_built();

// The libraries' tables, opened once (thread-safe). Throw std::runtime_error naming the
// library, where it was looked for and why it could not be used (absent, built without,
// unloadable, from another physynth version).
const pinn::Runtime& pinn_runtime();
const viz::Runtime& viz_runtime();

}  // namespace physynth::engine
