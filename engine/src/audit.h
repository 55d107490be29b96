// Checks on every sample that the physics cannot violate: linear invariants
// (conservation laws), non-negativity of amounts, and solver statistics.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/core/model.h"
#include "physynth/engine/dataset.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::engine {

// Per-sample findings, computed in the worker that solved the sample.
struct SampleAudit {
  std::vector<double> invariant_abs;  // max |w.y(t) - w.y(0)| over t, per invariant
  std::vector<double> invariant_rel;  // the same divided by max(|w.y(0)|, sum |w_i y_i(0)|)
  std::vector<double> min_state;      // min over t of each state
  std::vector<double> max_abs_state;  // max over t of |state|
};

SampleAudit audit_sample(const std::vector<core::LinearInvariant>& invariants, std::size_t num_states,
                         const double* states, std::size_t rows, const double* p);

// The physics-failure rule: a sample with an infinite state (or a NaN one, unless NaN marks a
// row the model has no value for, as a crop before sowing: nan_is_missing), a conservation law
// off by more than max(rtol, 1e-6) of its scale (SampleAudit::invariant_rel), or an amount that
// must be non-negative below -negative_tolerance() is not data: it is recorded as failed with the
// flag and this message. Returns the flag ("" when the sample is sound).
std::string physics_violation(const core::Model& model, const std::vector<core::LinearInvariant>& invariants,
                              const SampleAudit& a, const double* states, std::size_t rows, double rtol,
                              const std::vector<double>& atol, bool nan_is_missing, std::string* message);
double invariant_tolerance(double rtol);
// How far below zero a non-negative amount may go: the error the solver was asked to keep.
double negative_tolerance(double atol, double rtol, double max_abs);

// Accumulates over samples in sample order, then renders audit.json.
class AuditAccumulator {
 public:
  // A state counts as negative below -(atol_i + rtol * max_t |y_i|): the
  // error the solver was asked to keep.
  AuditAccumulator(const core::Model& model, double rtol, std::vector<double> atol,
                   std::vector<std::string> event_names);
  void add(std::uint64_t sample, const SampleAudit& a, SampleStatus status, const std::int64_t* stats,
           const std::vector<int>& events_fired);
  nlohmann::ordered_json to_json(const std::vector<std::string>& stat_names) const;

  // What has been accumulated, exactly (doubles round-trip, infinities as strings), for a
  // shard's journal record; merge() adds a later shard's state as if its samples had been
  // add()ed here one by one, so per-shard accumulators merged in shard order give the bytes
  // of one accumulator over every sample (whatever the ranks, or a resume, did).
  nlohmann::json state() const;
  void merge(const nlohmann::json& state);

 private:
  std::vector<core::LinearInvariant> invariants_;
  std::vector<std::string> state_names_;
  std::vector<bool> nonnegative_;
  double rtol_;
  std::vector<double> atol_;
  std::vector<std::string> event_names_;

  std::vector<double> worst_abs_, worst_rel_;
  std::vector<std::int64_t> worst_sample_;
  std::vector<double> min_state_;
  std::vector<std::int64_t> min_sample_, negative_samples_;
  std::vector<std::int64_t> failed_;
  std::uint64_t samples_ = 0, ok_ = 0, stopped_ = 0;
  std::vector<long double> stat_sum_;
  std::vector<std::int64_t> stat_max_;
  std::vector<std::uint64_t> event_counts_;
};

}  // namespace physynth::engine
