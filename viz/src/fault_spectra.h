// The envelope spectra behind a bearing run's fault-frequency features: the vibration snapshot
// of a unit at one of its readings, synthesised again from the run's model, states, parameters
// and that reading's random stream, so it is the signal whose features the run recorded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "physynth/domains/manufacturing/bearing.h"
#include "run_data.h"

namespace physynth::viz {

struct FaultSpectrum {
  std::uint64_t sample = 0;  // global sample index
  std::size_t row = 0;       // loaded sample (RunData row)
  std::string mode;          // fault_mode_name
  double time = 0.0;         // the reading's time
  double spall = 0.0;        // the state at that time
  double shaft_hz = 0.0;
  domains::manufacturing::DefectOrders orders;
  domains::manufacturing::SnapshotFeatures features;  // as the run computed them from this snapshot
  std::vector<double> order;                          // frequency / shaft frequency of each bin
  std::vector<double> amplitude;                      // envelope spectrum (g)
};

// For each fault mode among the loaded samples, the unit with the largest spall at its last
// reading before failure. Readings are the times of the scenario's feature observations (any
// output time when it records none). Empty when the run's model is not a bearing, or when
// operating regimes change the parameters over time (the written ones are those at t0).
std::vector<FaultSpectrum> fault_spectra(const RunData& run);

}  // namespace physynth::viz
