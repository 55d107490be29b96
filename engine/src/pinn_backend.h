// The `pinn` backend inside the engine: load-time checks and the batch
// evaluation of a shard's samples. Private to engine/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/core/config.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine {

// Checks a `backend: pinn` scenario when it loads: a model the PINN can evaluate, no
// root-finding events, regimes or sensitivities, pinn.model trained for this model; loads
// the network into s.pinn.network_loaded. Reports to the root's diagnostics.
// With untrained_is_note, a pinn.model file that does not exist yet is a warning.
void check_pinn_backend(const core::ConfigNode& root, Scenario& s, bool untrained_is_note = false);

// pinn.precision for a loaded network: sets its layers' precision and records the choice and
// why in s.pinn.precision_used and precision_reason. `auto` takes float32 layers for a float64
// network whose sidecar reports a median test error of at least kFloat32LayersBelow.
inline constexpr double kFloat32LayersBelow = 1e-5;
void choose_precision(Scenario& s, pinn::Network& net);

// A shard's samples through the network: states (count x T x n) on `times`, the RMS
// residual of each, and for samples outside the trained box why they are refused.
struct PinnShard {
  std::vector<double> states;
  std::vector<double> residual;
  std::vector<std::string> refused;
};
PinnShard evaluate_pinn(const Scenario& s, const std::vector<double>& times, const double* parameters,
                        std::size_t count, int threads);

// The audit of a PINN run, fed in sample order: audit.json's "pinn" section and
// pinn_audit.csv (one row per sample: residual, whether re-solved, errors if verified).
class PinnAudit {
 public:
  explicit PinnAudit(const Scenario& s);
  void add(std::uint64_t sample, const std::string& refused, double residual, bool resolved,
           const std::vector<double>& error);
  nlohmann::ordered_json to_json() const;
  std::string csv() const;
  // Exactly what has been added (the journal's shard records); merge appends a later shard's.
  nlohmann::json state() const;
  void merge(const nlohmann::json& state);

 private:
  const Scenario& s_;
  std::vector<std::uint64_t> sample_;
  std::vector<double> residual_;
  std::vector<char> resolved_;
  std::vector<std::vector<double>> error_;  // empty where not verified
  std::uint64_t refused_ = 0;
};

// The samples re-solved with CVODES for the audit: min(verify, samples) of them,
// chosen at random (keyed on the seed), ascending.
std::vector<std::uint64_t> pinn_verified_samples(const Scenario& s);

}  // namespace physynth::engine
