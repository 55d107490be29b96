// A model a user writes in the scenario itself: named states with units and
// initial values, intermediate definitions and one `d<state>/dt` expression per
// state (yaml_binding.h reads them). The expressions are compiled onto one
// expression tape (core/expression_tape.h), as an SBML model's are, so a user's
// model is a TemplatedModel like the built-in ones: CVODES and Rodas5P call it
// on doubles, the exact Jacobians and sensitivities come from Ceres Jets, the
// PINN residual from tensors, and the audit checks its declared invariants and
// non-negative states on every sample.
#pragma once

#include <string>
#include <vector>

#include "physynth/core/expression_tape.h"
#include "physynth/core/templated_model.h"

namespace physynth::domains::equations {

// Everything the model is, as the binding compiled it.
struct EquationSystem {
  std::string name;
  std::vector<core::VariableInfo> states;       // in declaration order
  std::vector<core::VariableInfo> parameters;   // in order of first use
  std::vector<char> nonnegative;                // per state
  core::Tape rhs;                               // outputs: d state_i/dt for every state, from t, y and p
  core::Tape initial;                           // outputs: state_i at the start, from p alone
  std::vector<core::VariableInfo> definitions;  // every definition, observable as a feature
  core::Tape definition_values;                 // outputs: each definition, from t, y and p
  std::vector<core::LinearInvariant> invariants;
};

class EquationModel : public core::TemplatedModel<EquationModel> {
 public:
  explicit EquationModel(EquationSystem system);

  const std::string& name() const override { return system_.name; }
  const std::vector<core::VariableInfo>& states() const override { return system_.states; }
  const std::vector<core::VariableInfo>& parameters() const override { return system_.parameters; }
  void initial_state(const double* p, double* y0) const override;
  void initial_state_jacobian(const double* p, double* jac) const override;
  std::vector<core::LinearInvariant> linear_invariants() const override { return system_.invariants; }
  bool state_is_nonnegative(std::size_t i) const override { return system_.nonnegative[i] != 0; }
  bool is_autonomous() const override { return !system_.rhs.outputs_depend_on_time(); }
  // Where `if(t < T, ...)` and the like change the right-hand side (core::TimeSwitches).
  std::vector<double> switch_times(const double* p) const override { return switches_.times(p, system_.states.size()); }
  // The definitions, so that `observations: - {feature: NAME}` can read them (deterministic).
  const std::vector<core::VariableInfo>& derived_channels() const override { return system_.definitions; }
  void evaluate_derived(double t, const double* y, const double* p, core::CounterRng& rng, double* out) const override;
  bool derived_is_deterministic(std::size_t) const override { return true; }
  double derived_partials(std::size_t k, double t, const double* y, const double* p, double* dh_dy,
                          double* dh_dp) const override;

  static constexpr bool kEvaluatesLanes = true;  // the tape runs on core::Lanes (several samples at once)
  template <class T>
  void evaluate(const T& t, const T* y, const T* p, T* dydt) const {
    system_.rhs.evaluate(t, y, p, dydt);
  }

 private:
  EquationSystem system_;
  core::TimeSwitches switches_;
};

}  // namespace physynth::domains::equations
