#include "physynth/viz/version.h"

#include <vtkVersion.h>

namespace physynth::viz {

std::string vtk_version() { return vtkVersion::GetVTKVersion(); }

}  // namespace physynth::viz
