// A model with a schedule of changes to its state at known times on top of
// its own dynamics: doses of a drug, an assay's phases (an SPR injection of
// analyte, then buffer), a reagent added to a plate. Any model can be
// scheduled; its own jumps (SBML events) stay and both apply at a common time.
//
//   change k: at t = at + j * every (j = 0 .. count-1), for each target,
//             y[state] = value (set) or y[state] += value (add)
//
// Times and values are parameters, so they can be sampled like any other; the
// schedule may add parameters of its own after the inner model's. Invariants
// of the inner model that involve a scheduled state are not invariants any
// more and are dropped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "physynth/core/model.h"

namespace physynth::core {

struct ScheduledChange {
  struct Target {
    int state = -1;
    bool add = false;  // add the value rather than set the state to it
    int value = -1;    // parameter index
  };
  int at = -1;     // parameter index of the first time
  int every = -1;  // parameter index of the period, or -1 for a single change
  int count = 1;
  std::vector<Target> targets;
};

class ScheduledModel : public Model {
 public:
  // extra_parameters are appended to the inner model's; indices in changes refer to the whole list.
  ScheduledModel(std::shared_ptr<const Model> inner, std::vector<VariableInfo> extra_parameters,
                 std::vector<ScheduledChange> changes);

  const Model& inner() const { return *inner_; }
  const std::vector<ScheduledChange>& changes() const { return changes_; }

  const std::string& name() const override { return inner_->name(); }
  const std::vector<VariableInfo>& states() const override { return inner_->states(); }
  const std::vector<VariableInfo>& parameters() const override { return parameters_; }
  void initial_state(const double* p, double* y0) const override { inner_->initial_state(p, y0); }
  void initial_state_jacobian(const double* p, double* jac) const override;
  void rhs(double t, const double* y, const double* p, double* dydt) const override { inner_->rhs(t, y, p, dydt); }
  void jacobian(double t, const double* y, const double* p, double* jac) const override {
    inner_->jacobian(t, y, p, jac);
  }
  void parameter_jacobian(double t, const double* y, const double* p, double* jac) const override;
  void parameter_jacobian_columns(double t, const double* y, const double* p, const std::vector<int>& columns,
                                  double* jac) const override;
  SparsityPattern jacobian_sparsity() const override { return inner_->jacobian_sparsity(); }
  std::vector<LinearInvariant> linear_invariants() const override;
  bool state_is_nonnegative(std::size_t i) const override { return inner_->state_is_nonnegative(i); }
  const std::vector<VariableInfo>& derived_channels() const override { return inner_->derived_channels(); }
  void evaluate_derived(double t, const double* y, const double* p, CounterRng& rng, double* out) const override {
    inner_->evaluate_derived(t, y, p, rng, out);
  }
  bool derived_is_deterministic(std::size_t k) const override { return inner_->derived_is_deterministic(k); }
  SignalInfo derived_signal_info() const override { return inner_->derived_signal_info(); }
  std::vector<double> derived_signal(double t, const double* y, const double* p, CounterRng& rng) const override {
    return inner_->derived_signal(t, y, p, rng);
  }
  void evaluate_derived_with_signal(double t, const double* y, const double* p, CounterRng& rng, double* out,
                                    std::vector<double>& signal) const override {
    inner_->evaluate_derived_with_signal(t, y, p, rng, out, signal);
  }
  double derived_partials(std::size_t k, double t, const double* y, const double* p, double* dh_dy,
                          double* dh_dp) const override;
  std::vector<double> jump_times(const double* p) const override;
  std::vector<double> switch_times(const double* p) const override { return inner_->switch_times(p); }
  bool has_jumps() const override { return !changes_.empty() || inner_->has_jumps(); }
  void apply_jumps(double t, double* y, const double* p) const override;

 private:
  std::shared_ptr<const Model> inner_;
  std::vector<VariableInfo> parameters_;
  std::vector<ScheduledChange> changes_;
};

}  // namespace physynth::core
