// The reality anchor of a scenario (`physynth anchor SCENARIO --data real.csv`):
// its `anchor:` section maps the real-data file's observables to observation
// channels and names the parameters to fit; the calibration (anchor/calibration.h)
// fits them, and a calibrated scenario comes out with the priors of the fitted
// parameters replaced by what the data say.
//
// Files written to the output folder:
//   calibrated.yaml  the scenario, with
//                      - each shared parameter fixed at its estimate,
//                      - each per-unit parameter drawn from its fitted population
//                        (log_normal(mu, sigma) when fitted in ln, else truncated_normal over its bounds),
//                      - each mapped observation's noise set to the estimated σ
//                        (additive_sd for additive noise, multiplicative_sd for proportional),
//                      - `provenance:` (source scenario and data with their SHA-256, log-likelihood, counts),
//                      - relative file paths rewritten for the new folder;
//   fit.json         estimates with intervals, σ, populations, every start, fidelity before and after;
//   residuals.csv    every reading with its prediction before (the priors' medians) and after;
//   fidelity.md      the before/after table.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "physynth/anchor/calibration.h"
#include "physynth/anchor/population.h"
#include "physynth/anchor/real_data.h"
#include "physynth/anchor/two_sample.h"
#include "physynth/core/diagnostics.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine {

// One calibration unit per unit of the data, with its covariates set (a covariate column must name
// a scenario parameter that is not fitted) and each reading mapped through `anchor.observables`.
// Problems are reported against the data file's lines; nullopt if there is any.
std::optional<anchor::CalibrationProblem> calibration_problem(const Scenario& s, const anchor::RealData& data,
                                                              core::Diagnostics& diagnostics);

// Each unit's model parameters with every fitted parameter at its start (the prior's median).
std::vector<std::vector<double>> prior_parameters(const Scenario& s, const anchor::CalibrationProblem& pr);

// One observable's readings against their predictions (n readings scored; bias: prediction - reading).
struct FidelityRow : anchor::PredictionScore {
  std::string observable;
};

struct Fidelity {
  std::vector<FidelityRow> observables;
  double log_likelihood = 0.0;  // estimated σ at their maximum for these predictions
  std::size_t failed = 0;       // readings whose unit's solve failed
};

Fidelity fidelity(const anchor::CalibrationProblem& pr, const std::vector<std::vector<double>>& predictions);

// anchor.population: the per-unit parameters fitted as a population (anchor/population.h).
anchor::PopulationSummary fit_population_of(const Scenario& s, const anchor::CalibrationProblem& pr);

struct AnchorResult {
  anchor::CalibrationSummary calibration;
  Fidelity before, after;
  std::vector<std::string> files;  // written, in order
};

// Calibrates and, when it succeeds, writes the files above into `directory` (created if needed).
AnchorResult run_anchor(const Scenario& s, const anchor::RealData& data, const anchor::CalibrationProblem& pr,
                        const std::string& directory);

}  // namespace physynth::engine
