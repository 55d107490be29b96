// SBML models (Levels 2 and 3, core), read with libSBML and compiled into one
// expression tape (core/expression_tape.h), so that an SBML model is a
// TemplatedModel like the hand-written ones: CVODES calls it on doubles, the
// exact Jacobians come from Ceres Jets, the PINN residual from tensors.
//
// What is read:
//   compartments (constant size), species (amounts or concentrations,
//   hasOnlySubstanceUnits, boundaryCondition, constant), parameters (global
//   and kinetic-law local), reactions with any kinetic law, function
//   definitions (inlined), assignment rules, rate rules, initial assignments,
//   and events whose trigger is a time threshold (time >= E, E a function of
//   the parameters), applied as jumps at known times.
// What is refused, naming the element: algebraic rules, delays, fast
// reactions, stoichiometry math or varying stoichiometries, compartments whose
// size changes in time, conversion factors, events triggered by state, event
// priorities, and any MathML the tape has no operation for.
//
// States: every species that is not set by an assignment rule, in the
// units of its symbol (concentration unless hasOnlySubstanceUnits, so the
// state is what the model's math reads), then every parameter changed by a
// rate rule or an event. For species changed by reactions,
//   d[S]/dt = sum_r nu_Sr v_r / V_S     (amount per time over the constant volume)
// and d n_S/dt = sum_r nu_Sr v_r when the species is an amount.
//
// Parameters (what a scenario can sample): the value of every constant global
// parameter, every compartment's size, each species' written initial amount
// or concentration (named <species>_0), each rate-rule or event-changed
// parameter's initial value (<id>_0), and each kinetic-law local parameter
// (<reaction>_<id>); values set by an initial assignment are not parameters,
// they follow from the others. SBML time starts at 0.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"
#include "physynth/core/expression_tape.h"
#include "physynth/core/templated_model.h"

namespace physynth::domains::kinetics {

// A formula over a model's symbols (an observable, a label), compiled to a
// tape whose parameters are the model's, followed by `extra` names.
struct SbmlFormula {
  core::Tape tape;
  std::vector<std::string> extra;  // names beyond the model's parameters, in the order p carries them
  template <class T>
  T evaluate(const T& t, const T* y, const T* p_and_extra) const {
    T out;
    tape.evaluate(t, y, p_and_extra, &out);
    return out;
  }
};

struct SbmlSpeciesInfo {
  std::string id, compartment;
  bool has_only_substance_units = false;
  int state = -1;  // -1 when an assignment rule sets it
  // The parameter <id>_0 holds an initial concentration (true) or amount (false), as the file
  // wrote it; absent (initial_parameter_is_concentration unset) when an assignment sets it.
  bool has_initial_parameter = false, initial_parameter_is_concentration = false;
};

// What libSBML's unit checks (rules 10501-10599: a kinetic law that is not
// substance per time, exp() of a time, pow(x, n) with a parameter n that "may
// produce invalid units") do to a model: kStrict makes every finding an error;
// kWarn (the default) keeps libSBML's own severity, its errors errors and its
// warnings warnings; kIgnore drops them. Units merely undeclared are never
// checked. Every message names the policy and how to change it.
enum class UnitPolicy { kStrict, kWarn, kIgnore };

struct SbmlOptions {
  UnitPolicy units = UnitPolicy::kWarn;
};

class SbmlModel : public core::TemplatedModel<SbmlModel> {
 public:
  // Reads and compiles `path`. Every problem is reported to diags (with the
  // file and the element's line); returns nullptr if there was any error.
  static std::shared_ptr<SbmlModel> read_file(const std::string& path, core::Diagnostics& diags,
                                              const SbmlOptions& options = {});
  // The same from a string; `source` names it in messages.
  static std::shared_ptr<SbmlModel> read_string(const std::string& xml, const std::string& source,
                                                core::Diagnostics& diags, const SbmlOptions& options = {});
  ~SbmlModel() override;

  const std::string& name() const override;
  const std::vector<core::VariableInfo>& states() const override;
  const std::vector<core::VariableInfo>& parameters() const override;
  void initial_state(const double* p, double* y0) const override;
  void initial_state_jacobian(const double* p, double* jac) const override;
  std::vector<core::LinearInvariant> linear_invariants() const override;
  bool state_is_nonnegative(std::size_t i) const override;
  bool is_autonomous() const override;  // no rate or rule reads time
  std::vector<double> jump_times(const double* p) const override;
  bool has_jumps() const override;
  // Where a comparison of time with a function of the parameters (piecewise(..., time < T, ...),
  // an input switched on at T) changes the right-hand side (core::Tape::time_switches).
  std::vector<double> switch_times(const double* p) const override;
  // Which states each derivative reads (the compiled tape's structure, with the diagonal), and,
  // for a large sparse model, the colouring its Jacobian is computed with.
  core::SparsityPattern jacobian_sparsity() const override;
  const core::ColumnColoring* jacobian_coloring() const;
  void apply_jumps(double t, double* y, const double* p) const override;

  static constexpr bool kEvaluatesLanes = true;  // the tape runs on core::Lanes (several samples at once)
  // dy/dt from the compiled tape: assignment rules, kinetic laws, rate rules.
  template <class T>
  void evaluate(const T& t, const T* y, const T* p, T* dydt) const {
    rhs_tape().evaluate(t, y, p, dydt);
  }

  // The written value of each parameter.
  const std::vector<double>& default_parameters() const;
  const std::vector<SbmlSpeciesInfo>& species() const;
  // Compiles an infix formula (SBML Level 3 syntax; log is the natural log)
  // over this model's symbols: species read as the model's math reads them,
  // compartments, parameters, reactions (their rates), time. Names in
  // `extra` become parameters after the model's. nullptr and *error if not.
  std::unique_ptr<SbmlFormula> compile_formula(const std::string& formula, const std::vector<std::string>& extra,
                                               std::string* error) const;

 private:
  struct Impl;
  explicit SbmlModel(std::unique_ptr<Impl> impl);
  const core::Tape& rhs_tape() const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace physynth::domains::kinetics
