// A scenario's sampling.condition evaluated on computed samples (scenario.h, RareEventSpec).
#pragma once

#include <memory>
#include <vector>

#include "physynth/engine/dataset.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine {

// The condition's response r of each sample: lhs - rhs for '<' and '<=', rhs - lhs for '>' and
// '>='; the sample is in the event where r < 0 (r <= 0 when inclusive). A sample whose labels
// leave r undefined (an event that never fired, a failed sample) gets +infinity: not in the
// event, and the farthest from it. Not thread-safe (it owns the scratch of its expressions' inputs).
class ConditionResponse {
 public:
  // Throws std::invalid_argument when the scenario has no sampling.condition.
  explicit ConditionResponse(const Scenario& s);
  ~ConditionResponse();
  ConditionResponse(const ConditionResponse&) = delete;
  ConditionResponse& operator=(const ConditionResponse&) = delete;

  // One response per sample of the shard (its first labels are the scenario's).
  std::vector<double> operator()(const Shard& shard);
  bool in_event(double r) const { return inclusive_ ? r <= 0.0 : r < 0.0; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool inclusive_ = false;
};

}  // namespace physynth::engine
