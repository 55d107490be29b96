// The PINN problem a scenario poses (pinn/pinn.h): the model, its time grid,
// and for every parameter the range its distribution covers:
//   fixed                         the value (not an input of the network)
//   uniform, log-uniform,
//   truncated normal              [low, high]
//   choice                        [smallest, largest]
//   normal, log-normal            the 0.05 % and 99.95 % quantiles (a draw beyond them is
//                                 refused by a `backend: pinn` run, not extrapolated)
//   a field parameter             [mean - 4 sd, mean + 4 sd] within its clip bounds
#pragma once

#include "physynth/engine/scenario.h"
#include "physynth/pinn/pinn.h"

namespace physynth::engine {

pinn::Problem pinn_problem(const Scenario& s);

}  // namespace physynth::engine
