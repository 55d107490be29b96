// A downstream model for the closed loop (active/): an ensemble of small MLPs trained on
// feature vectors to predict a scalar, whose members' disagreement says where it is unsure.
// Free of LibTorch types; the training lives in libphysynth_pinn.so (runtime.h, fit_predict).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace physynth::pinn {

struct RegressorOptions {
  int members = 4;                    // ensemble size: different initial weights and bootstrap resamples
  std::vector<int> hidden = {64, 64};  // tanh layers
  int epochs = 400;                   // full passes over the training set (Adam, mini-batches)
  int batch = 128;
  double learning_rate = 2e-3;
  double weight_decay = 1e-5;
  std::uint64_t seed = 0;
  int threads = 1;
};

// Trains the ensemble on x (n x d, row-major) -> y (n), both standardised inside, and predicts
// every member at q (m x d): m x members, in y's units. Throws std::invalid_argument on empty or
// non-finite input.
std::vector<double> fit_predict(const RegressorOptions& options, const std::vector<double>& x,
                                const std::vector<double>& y, std::size_t d, const std::vector<double>& q);

}  // namespace physynth::pinn
