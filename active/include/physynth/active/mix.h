// Hybrid mixes (issue 29, item 3): how much synthetic data helps a model trained on a small real
// set. The same model (the loop's: the built-in MLP ensemble or the user's --model-cmd) is
// trained on the real training units plus synthetic rows at several ratios of synthetic to real
// rows, and on the synthetic rows alone, and scored on real units it never saw. The rows are the
// loop's (active/loop.h): a scalar label from the observation channels, or the feed's windows
// for remaining life, with known settings (covariates) appended.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "physynth/active/loop.h"

namespace physynth::active {

struct MixOptions {
  std::string target;
  std::vector<std::string> covariates;
  const anchor::RealData* train = nullptr;  // real units trained on
  const anchor::RealData* test = nullptr;   // real units scored on, never trained on
  std::vector<double> ratios = {0, 1, 2, 4, 8, 16, 32};  // synthetic rows per real training row
  pinn::RegressorOptions model;
  std::string model_command;
  int threads = 0;
};

struct MixPoint {
  double ratio = 0.0;  // synthetic rows per real row; infinity: synthetic alone
  std::size_t real_rows = 0, synthetic_rows = 0;
  ErrorSummary error;  // on the real test units
};

struct MixResult {
  std::vector<MixPoint> points;  // each ratio in order, then synthetic alone
  RealDataSummary train, test;
  std::uint64_t samples = 0;  // synthetic samples simulated (prior draws)
};

// Throws std::invalid_argument for real data that cannot be read as the task (naming the file),
// a ratio < 0, or a scenario whose samples give no rows; std::runtime_error as the loop.
MixResult run_mix(const engine::Scenario& s, const MixOptions& options,
                  const std::function<void(const std::string&)>& progress = {});

}  // namespace physynth::active
