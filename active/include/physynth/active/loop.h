// The closed loop (issue 29, item 1; DESIGN.md "Closed loop, as data flow"): generate a batch,
// train the downstream model on every synthetic sample so far, find where it errs, and draw the
// next batch towards there, keeping a share of draws from the prior so that no region is
// abandoned. Side by side, at the same budget, uniform random and Sobol batches.
//
// Two tasks: a scalar label regression, where the model sees a sample's observation channels
// (every reading, missing ones as 0) and predicts one of its labels (an enzyme's Km from a
// progress curve, a season's yield from its readings); and, with the target the scenario's
// feed.target (remaining useful life), the feed's windows (physynth feed), each predicting the
// target at its last reading. The model is an ensemble of MLPs (pinn/regressor.h, LibTorch,
// opened on use). A sample's error is the mean over its rows (windows).
//
// Where it errs: each round's space-filling share is fresh prior samples ("probes"), scored by
// the current ensemble before they join the training set: |mean prediction - label| plus the
// members' standard deviation. A k-nearest-neighbour average over the probes in the design's
// standard normal space smooths the scores (the surrogate over theta). The targeted share is
// drawn from a Gaussian kernel mixture on the probes, weighted by their smoothed scores. Every
// sample's sampling density (prior share plus mixture, as drawn) is recorded with
// prior_weight = prior density / sampling density, so the dataset can be re-weighted to the prior.
//
// Error is measured every round on a fixed test set drawn from the prior (never trained on):
// RMSE, 95th percentile and largest absolute error.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "physynth/anchor/real_data.h"
#include "physynth/engine/scenario.h"
#include "physynth/pinn/regressor.h"

namespace physynth::active {

enum class Strategy { kActive, kRandom, kSobol };
// What scores a probe: its error, the ensemble's disagreement (epistemic only: regions where the
// labels are noisy in themselves do not attract samples), or their sum.
enum class Score { kBoth, kError, kDisagreement };
const char* strategy_name(Strategy s);

struct LoopOptions {
  std::string target;          // a label of the scenario
  std::uint64_t budget = 1000;  // training samples in all (every simulation but the test set's)
  int rounds = 5;
  std::uint64_t test = 1000;   // prior samples the error is measured on
  double space_filling = 0.3;  // share of each active batch drawn from the prior (the probes)
  int neighbours = 5;          // k of the error surrogate
  Score score = Score::kBoth;
  pinn::RegressorOptions model;  // trained on one thread (the same numbers for any thread count)
  // A user's own model instead (--model-cmd): each round physynth writes train.csv (columns
  // f0 ... f{F-1}, target) and query.csv (f0 ... f{F-1}) into a fresh temporary folder, runs
  // `model_command FOLDER` through /bin/sh, and reads FOLDER/predictions.csv: one line per
  // query row, one number per ensemble member (one number: no disagreement), comma-separated.
  std::string model_command;
  int threads = 0;              // of the simulations
  // Train the active strategy's model on its samples re-weighted to the prior (rows resampled in
  // proportion to prior_weight), so the targeted regions steer where samples go but do not bias
  // the model towards them.
  bool reweight = false;
  // Known settings appended to every row: scenario parameters (a depth of cut, a feed), a
  // synthetic sample's drawn value and a real unit's covariate column of the same name.
  std::vector<std::string> covariates;
  // Real data (--real): scored every round beside the test set, never trained on. Its channels'
  // readings are placed on the scenario's reading times (read, or interpolated between the unit's
  // readings, never extrapolated); the observable named as the target holds the target.
  const anchor::RealData* real = nullptr;
};

struct ErrorSummary {
  double rmse = std::numeric_limits<double>::quiet_NaN();
  double p95 = std::numeric_limits<double>::quiet_NaN();        // 95th percentile of the absolute error
  double max_error = std::numeric_limits<double>::quiet_NaN();  // largest absolute error
  double disagreement = 0.0;  // mean standard deviation of the members
};

// How the real data went into rows.
struct RealDataSummary {
  std::string file;
  std::size_t units = 0, rows = 0, units_without_rows = 0;
  std::size_t direct = 0, interpolated = 0, missing = 0;  // the rows' channel readings, by how they were placed
  std::vector<std::string> unused_observables;
};

struct RoundReport {
  Strategy strategy = Strategy::kActive;
  int round = 0;
  std::uint64_t samples = 0;  // samples simulated for training so far (units)
  std::uint64_t rows = 0;     // training rows: samples with a target, or their windows
  ErrorSummary test;  // on the synthetic test set, the model trained on `samples`
  ErrorSummary real;  // on the real data (NaN without)
  double probe_rmse = std::numeric_limits<double>::quiet_NaN();  // active: on the round's fresh probes
  double seconds = 0.0;
};

struct LoopSample {
  int round = 0;
  std::string origin;  // "initial", "space-filling" or "targeted"
  std::uint64_t key = 0;
  std::vector<double> unit;  // design coordinates
  double log_density = 0.0;  // of the sampling density in the standard normal space (the prior: log phi)
  double prior_weight = 1.0;
  double target = 0.0;
  double score = std::numeric_limits<double>::quiet_NaN();  // a probe's score (its error, disagreement), else NaN
};

struct LoopResult {
  std::vector<RoundReport> rounds;
  std::vector<LoopSample> samples;
  std::uint64_t dropped = 0;  // samples without a target (failed, or the label undefined)
  RealDataSummary real;       // with LoopOptions::real
};

// Runs one strategy. Throws std::invalid_argument on a target that is not a label, a scenario
// without observations, a budget that cannot fill the rounds, or real data that cannot be read as
// the task (naming the file); std::runtime_error when
// LibTorch cannot be opened.
LoopResult run_loop(const engine::Scenario& s, Strategy strategy, const LoopOptions& options,
                    const std::function<void(const std::string&)>& progress = {});

}  // namespace physynth::active
