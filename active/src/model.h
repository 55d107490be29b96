// The downstream model of active/ (internal): the built-in MLP ensemble (pinn/regressor.h,
// LibTorch opened on use) or a user's own through files (--model-cmd), and its errors.
#pragma once

#include <string>
#include <vector>

#include "physynth/active/loop.h"
#include "physynth/pinn/regressor.h"

namespace physynth::active::detail {

struct Prediction {
  std::vector<double> mean, sd;  // per query row: the members' mean and standard deviation
};

// Trains on x (rows x f) and y and predicts q (rows x f). With `command` non-empty, the user's
// model: train.csv and query.csv into a fresh temporary folder, `command FOLDER` through
// /bin/sh, FOLDER/predictions.csv back (one line per query row, one number per member); any
// failure is a std::runtime_error naming the command, `round`, the line and the folder (kept).
Prediction fit_predict(const pinn::RegressorOptions& model, const std::string& command, const std::vector<double>& x,
                       const std::vector<double>& y, std::size_t f, const std::vector<double>& q, int round);

// Errors of the members' mean against the rows' targets (rows without a target skipped).
ErrorSummary error_summary(const double* mean, const double* sd, const std::vector<double>& y);

}  // namespace physynth::active::detail
