// The `pinn` backend inside the engine: load-time checks and the batch
// evaluation of a shard's samples. Private to engine/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "physynth/core/config.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine {

// Checks a `backend: pinn` scenario when it loads: a model the PINN can evaluate, no
// root-finding events, regimes or sensitivities, pinn.model trained for this model; loads
// the network into s.pinn.network_loaded. Reports to the root's diagnostics.
void check_pinn_backend(const core::ConfigNode& root, Scenario& s);

// A shard's samples through the network: states (count x T x n) on `times`, the RMS
// residual of each, and for samples outside the trained box why they are refused.
struct PinnShard {
  std::vector<double> states;
  std::vector<double> residual;
  std::vector<std::string> refused;
};
PinnShard evaluate_pinn(const Scenario& s, const std::vector<double>& times, const double* parameters,
                        std::size_t count);

// The samples re-solved with CVODES for the audit: min(verify, samples) of them,
// chosen at random (keyed on the seed), ascending.
std::vector<std::uint64_t> pinn_verified_samples(const Scenario& s);

}  // namespace physynth::engine
