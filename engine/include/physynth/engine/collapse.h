// The collapse experiment (`physynth collapse SCENARIO --data real.csv`): what
// happens when a generator is re-calibrated, generation after generation, on
// data that earlier generations made.
//
// Generation 0 is the scenario calibrated on the real data (engine/anchor.h).
// Every generation g draws N synthetic units from its calibrated scenario, laid
// out like the real units (engine/fidelity_audit.h), with fresh random samples
// (design random, seed + g: the same draws for every strategy). Generation g + 1
// is calibrated, starting from generation g's scenario, on
//   replace     generation g's synthetic units only,
//   accumulate  the real units and every synthetic unit so far, or
//   anchor      generation g's synthetic units plus the real units.
// Reported per generation and strategy: the fitted shared parameters, noise σ
// and per-unit populations (mean and sd), the log-likelihood, and the distances
// of its synthetic units to the real ones (per observable Wasserstein, KS and the
// synthetic sd; jointly MMD with its permutation p-value).
//
// Files in the output folder:
//   gen-0/                      calibration on the real data (calibrated.yaml, fit.json, ...),
//                               synthetic.csv (its draw) and fidelity_audit.json
//   <strategy>/gen-<g>/         the same for each later generation, with training.csv
//   collapse.json, collapse.csv every number above (the CSV tidy: strategy, generation, quantity, value)
//   collapse.md                 the strategies side by side
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/anchor/real_data.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine {

enum class CollapseStrategy { kReplace, kAccumulate, kAnchor };
const char* collapse_strategy_name(CollapseStrategy s);

struct CollapseOptions {
  int generations = 5;  // generations after generation 0
  std::vector<CollapseStrategy> strategies = {CollapseStrategy::kReplace, CollapseStrategy::kAccumulate,
                                              CollapseStrategy::kAnchor};
  std::size_t units = 0;  // synthetic units per generation; 0: as many as the real data have
  std::uint64_t seed = 0;
  int threads = 0;
  int permutations = 200;  // of each generation's MMD and KS tests
  // Called after each generation with a one-line summary.
  std::function<void(const std::string&)> progress;
};

struct CollapseResult {
  nlohmann::ordered_json report;   // collapse.json
  std::vector<std::string> files;  // written
};

// Runs the experiment into `directory`. Throws std::runtime_error with the problem (a
// calibration that fails, data that do not fit the scenario) and what was written before it.
CollapseResult run_collapse(const Scenario& scenario, const anchor::RealData& real, const CollapseOptions& options,
                            const std::string& directory);

}  // namespace physynth::engine
