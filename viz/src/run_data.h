// A run's samples gathered from its HDF5 shards, up to a count: the data the VTK files and
// plots draw from.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "physynth/engine/dataset.h"
#include "physynth/engine/run_folder.h"
#include "physynth/viz/viz.h"

namespace physynth::viz {

struct RunData {
  engine::RunFolder folder;
  engine::Shard data;                 // the first `samples` samples, every shard's rows appended
  std::vector<std::uint64_t> sample;  // global index of each row
  std::uint64_t total_samples = 0;    // in the run

  std::size_t S() const { return data.samples; }
  std::size_t T() const { return data.times.size(); }
  std::size_t N() const { return data.num_states(); }
  std::size_t M() const { return data.num_parameters(); }
  double state(std::size_t s, std::size_t t, std::size_t i) const { return data.states[(s * T() + t) * N() + i]; }
  double parameter(std::size_t s, std::size_t k) const { return data.parameters[s * M() + k]; }
  // Parameters that vary across the loaded samples, by index.
  std::vector<std::size_t> varying_parameters() const;
  // Index of a name in a list, or npos.
  static std::size_t find(const std::vector<std::string>& names, const std::string& name);
};

// Reads up to max_samples samples (in sample order) from the run folder; a field's plots all.
RunData load_run(const std::string& run_dir, std::size_t max_samples);

// The samples write_run_vtk and plot_run read: enough for both (the report reads them once).
std::size_t samples_to_read(const VisualOptions& options);

// viz.h's write_run_vtk and plot_run on samples already read (the first max_samples for VTK).
std::vector<std::string> write_run_vtk(const RunData& run, const std::string& out_dir, const VisualOptions& options);
std::vector<Figure> plot_run(const RunData& run, const std::string& out_dir, const VisualOptions& options);

// units[i], or "" where the file gave fewer units than names.
inline std::string unit_at(const std::vector<std::string>& units, std::size_t i) {
  return i < units.size() ? units[i] : std::string();
}

// "name [units]", or the name alone without units.
std::string with_units(const std::string& name, const std::string& units);

}  // namespace physynth::viz
