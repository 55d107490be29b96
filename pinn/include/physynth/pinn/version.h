// The PINN backend (issue 6) is built on LibTorch; this header stays torch-free.
#pragma once

#include <string>

namespace physynth::pinn {

// The LibTorch version this library was built with, e.g. "1.13.0".
std::string torch_version();

}  // namespace physynth::pinn
