// Samples as the loop's model sees them (internal to active/): rows of features and a target,
// each row owned by one sample or one real unit.
//
// Two tasks. A scalar label: one row per sample, every observation reading (a missing one as
// 0), the target the label (NaN where the sample failed or the label is undefined). The feed's
// per-record target (feed.target, remaining useful life): one row per window of feed.window
// readings of the feed's channels, as physynth feed cuts them. Known settings (`covariates`,
// scenario parameters such as a depth of cut) are appended to every row: a synthetic sample's
// drawn value, a real unit's covariate column.
//
// Real data (the tidy CSV of anchor/real_data.h) goes through the same layout: each channel's
// readings are placed on the scenario's reading times (a reading at that time, else linear
// interpolation between the unit's neighbouring readings, else missing: no extrapolation), a
// real observable naming a channel directly or through the scenario's anchor.observables. The
// target is the observable named as the target: its last reading for a scalar label; for
// windows, its value at each window's last reading time (interpolated, clipped as the label
// is). A window is kept only where all its readings lie within the unit's readings' span.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "physynth/active/loop.h"
#include "physynth/anchor/real_data.h"
#include "physynth/engine/run.h"
#include "physynth/engine/scenario.h"

namespace physynth::active::detail {

struct Rows {
  std::vector<double> x, y;
  std::vector<std::size_t> owner;  // the sample (position in the batch) or real unit of each row
};

class Simulator {
 public:
  // Throws std::invalid_argument on a target that is not a label (naming the labels), a
  // scenario without observations, or a covariate that is not a scenario parameter.
  Simulator(const engine::Scenario& s, const std::string& target, const std::vector<std::string>& covariates,
            int threads);
  std::size_t dimension() const { return generator_.dimension(); }
  std::size_t features() const { return features_; }
  bool windows() const { return windows_; }

  // Rows of the samples at `unit` (n x d) keyed on `keys`; owner: position in the batch.
  Rows operator()(const std::vector<double>& unit, const std::vector<std::uint64_t>& keys);

  // Rows of a real data set, laid out as the synthetic ones (call after a first batch has been
  // simulated: the reading times come from it). Throws std::invalid_argument naming the file
  // (and line) when the data cannot be read as the task: no reading of the target, no channel
  // the model sees, a covariate column missing, units that differ from the channel's, no row.
  Rows real(const anchor::RealData& data, RealDataSummary* summary) const;

 private:
  struct Channel {
    std::string name, units;
    std::vector<double> times;
  };
  const engine::Scenario& s_;
  engine::ShardGenerator generator_;
  std::vector<std::string> covariates_;
  std::vector<Channel> channels_;  // the observations (scalar task) or the feed's channels, once seen
  std::size_t label_ = std::numeric_limits<std::size_t>::max();
  std::string target_;
  double clip_ = std::numeric_limits<double>::infinity();  // the record label's clip (windows)
  std::size_t features_ = 0;
  bool windows_ = false;
};

}  // namespace physynth::active::detail
