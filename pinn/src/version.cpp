#include "physynth/pinn/version.h"

#include <torch/version.h>

namespace physynth::pinn {

std::string torch_version() { return TORCH_VERSION; }

}  // namespace physynth::pinn
