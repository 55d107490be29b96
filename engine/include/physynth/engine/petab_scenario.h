// A PEtab problem (domains/kinetics/petab.h) as a physynth scenario and tidy real data, so that
// run, anchor, audit, collapse, train-pinn and report work on it (`physynth petab P --scenario`).
//
//   model        the problem's SBML file (path relative to the scenario)
//   parameters   every PEtab parameter the model has, fixed at its nominal value
//   observations one per observable: its formula with placeholders and fixed PEtab-only
//                parameters written as numbers; checked against the PEtab formula on states
//                and parameters around the model's start (the two must agree, or it is refused)
//   time         the measurement times (with 0)
//   anchor       data: the tidy CSV (unit = condition, covariates = the condition table's
//                numbers); observables with their noise (lin: additive, log and log10:
//                log_normal, σ converted to ln); fit: the estimated model parameters on their
//                PEtab bounds (ln for log and log10 scales), starting at the nominal values
//
// Refused, each with the file and line that holds it and the reason: preequilibration, steady-
// state measurements (time inf), Laplace noise, a σ that depends on the state or is neither a
// number nor one parameter per observable, per-row σ of a log-scale observable, an estimated
// parameter the model does not have (observable scalings and offsets), condition values that are
// estimated parameters, and formulas the scenario's expressions cannot write.
#pragma once

#include <optional>
#include <string>

#include "physynth/core/diagnostics.h"
#include "physynth/domains/kinetics/petab.h"

namespace physynth::engine {

struct PetabScenario {
  std::string yaml;  // the scenario file's text
  std::string csv;   // the tidy real data (anchor/real_data.h)
};

// `scenario_path`: where the YAML will be written (relative paths in it are from its folder);
// `data_name`: the CSV's file name beside it. Every refusal is an error in `diags`; nullopt if any.
std::optional<PetabScenario> petab_to_scenario(const domains::kinetics::PetabProblem& problem,
                                               const std::string& problem_path, const std::string& scenario_path,
                                               const std::string& data_name, core::Diagnostics& diags);

}  // namespace physynth::engine
