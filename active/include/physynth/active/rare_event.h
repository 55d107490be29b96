// Rare events on demand: samples conditioned on an outcome the prior makes rare (sampling.condition,
// engine/scenario.h RareEventSpec), and the event's probability under the prior.
//
// Both methods work in the standard normal space of the design: each non-fixed parameter is
// x = F^{-1}(Phi(z)), z ~ N(0, 1), so the prior is N(0, I) whatever the parameters'
// distributions (a population's correlation is applied after, as in any run).
//
// - importance: adaptive importance sampling by the improved cross-entropy method with one
//   Gaussian (Papaioannou, Geyer & Straub, Reliab. Eng. Syst. Saf. 191:106564, 2019). Each level
//   draws samples_per_level points from the current Gaussian and refits its mean and covariance
//   to them, weighted by prior / sampling density times a smoothed indicator Phi(-r / sigma) of
//   the event; sigma shrinks level by level so that those weights keep a coefficient of
//   variation of 1.5, until the event's own weights reach it. The written samples are then
//   `sampling.samples` draws from the fitted Gaussian: each with `event` (1 or 0) and
//   `prior_weight` = prior density / sampling density, so P = mean(event * prior_weight) and
//   the conditioned distribution is the event samples weighted by prior_weight. One Gaussian
//   serves one region of failure in moderate dimension (tens); for several separate regions or
//   many parameters, use splitting.
// - splitting: subset simulation (Au & Beck, Prob. Eng. Mech. 16:263, 2001) with adaptive
//   conditional sampling (Papaioannou, Betz, Zwirglmaier & Straub, Prob. Eng. Mech. 41:89,
//   2015): levels of samples_per_level points, the next threshold at the level_probability
//   quantile, Markov chains from the points below it. P is the product of the levels'
//   probabilities. The written samples are `sampling.samples` states of chains that continue
//   inside the event: all in it, each with prior_weight = P (the prior density over the
//   conditioned one), so the same two sums hold. Being Markov chain states they are correlated:
//   about level_probability x samples_per_level of them are independent.
//
// Every simulation is an ordinary sample of the scenario, keyed on its own number (noise,
// regimes, weather), so the estimate and the samples are the same bytes for any thread count;
// the written samples are solved again by the run under the keys they were evaluated with.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "physynth/engine/run.h"
#include "physynth/engine/scenario.h"

namespace physynth::active {

struct RareEventLevel {
  double threshold = 0.0;  // of the condition's response; the event is reached at 0
  std::uint64_t simulations = 0;
  double probability = 0.0;  // splitting: the level's conditional probability; importance: the
                             // share of the level's samples below its threshold
  double acceptance = 0.0;   // splitting: the chains' acceptance rate
  double effective_samples = 0.0;  // importance: Kish's effective sample size of the refit
};

struct RareEventEstimate {
  std::string method;            // "importance" or "splitting"
  std::string condition;
  double probability = 0.0;      // of the event under the prior
  double cv = 0.0;               // estimated coefficient of variation of `probability`
  std::uint64_t simulations = 0;  // solves of the estimate, the written samples' first solve included
  std::uint64_t samples = 0;      // written
  std::uint64_t event_samples = 0;  // written samples in the event
  std::uint64_t undefined = 0;      // simulations whose response was undefined (a label missing, a failure)
  std::vector<RareEventLevel> levels;
  bool reached = false;  // the event's threshold was reached within max_levels
  std::string message;   // why not, when not reached or no written sample is in the event
};

struct RareEventResult {
  RareEventEstimate estimate;
  std::shared_ptr<engine::DesignPoints> points;  // the samples to write, columns event and prior_weight
};

// Runs the scenario's rare-event sampler (s.rare_event.present). `progress` hears a line per level.
RareEventResult sample_rare_event(const engine::Scenario& s, int threads,
                                  const std::function<void(const std::string&)>& progress = {});

nlohmann::ordered_json to_json(const RareEventEstimate& e);

// Samples, then writes them as physynth run does (run_scenario with the points); the manifest
// gets "rare_event" (to_json). `estimate`, when given, receives the estimate.
engine::RunSummary run_rare_event(const engine::Scenario& s, const engine::RunOptions& options,
                                  RareEventEstimate* estimate = nullptr,
                                  const std::function<void(const std::string&)>& progress = {});

// What `physynth run` does with any scenario: run_rare_event with sampling.condition, else
// engine::run_scenario (`estimate` then untouched).
engine::RunSummary run(const engine::Scenario& s, const engine::RunOptions& options,
                       RareEventEstimate* estimate = nullptr,
                       const std::function<void(const std::string&)>& progress = {});

}  // namespace physynth::active
