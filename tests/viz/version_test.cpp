#include <catch2/catch.hpp>

#include "physynth/viz/version.h"

TEST_CASE("viz: the VTK linked at run time is the version CMake configured against") {
  CHECK(physynth::viz::vtk_version() == PHYSYNTH_VTK_VERSION);
}
