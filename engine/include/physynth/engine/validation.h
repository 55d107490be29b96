// Out-of-sample proof of a calibration (`physynth anchor SCENARIO --validate unit|group`):
// the anchor is refitted with units (or whole groups, e.g. sites) left out, and each held-out
// unit's readings are predicted by
//   calibrated  the refit's generator: shared parameters at their estimates, each per-unit
//               parameter at its population's typical value (a population fit: the typical
//               unit of the unit's group and covariates; of an unseen group, the groups'
//               mean in the fitted space), the unit's own covariates;
//   prior       every fitted parameter at its start (the prior's median), as before calibration;
//   baseline    the training units' mean curve: their readings' mean at each time, linear
//               between times and constant beyond them;
// none of which has seen the unit's readings.
//
// Files written to `directory`: validation.csv (one row per held-out unit and observable),
// validation.json (the same with the folds and their fits' messages), validation.md (the table
// and a summary: mean RMSE per method, units where the calibration beats each alternative).
#pragma once

#include <string>
#include <vector>

#include "physynth/anchor/calibration.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine {

struct ValidationOptions {
  bool by_group = false;  // else by unit
  std::string group;      // by group: the scenario parameter (a data covariate column) that names it
  int folds = 0;          // 0 or at least the number of units (groups): leave one out
};

struct HeldOutScore {
  int fold = 0;
  std::string unit, group, observable;
  std::size_t readings = 0;
  double rmse_calibrated = 0.0, rmse_prior = 0.0, rmse_baseline = 0.0;  // NaN where a solve failed
};

struct ValidationResult {
  std::vector<HeldOutScore> scores;
  std::vector<std::string> fold_messages;  // each refit's message ("failed: ..." when it failed)
  int folds = 0, failed_folds = 0;
  std::vector<std::string> files;
  std::string summary;  // validation.md's summary lines
};

// Why these options cannot validate this problem (too few units or groups, an unknown group
// parameter); empty if they can.
std::string validation_refusal(const Scenario& s, const anchor::CalibrationProblem& pr, const ValidationOptions& opt);

ValidationResult validate_anchor(const Scenario& s, const anchor::CalibrationProblem& pr, const ValidationOptions& opt,
                                 const std::string& directory);

}  // namespace physynth::engine
