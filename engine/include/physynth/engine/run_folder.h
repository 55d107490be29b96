// A finished run's folder as the tools after `physynth run` read it: its manifest and the
// HDF5 shards the manifest lists (audit, report, VTK files).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/core/model.h"

namespace physynth::engine {

struct RunFolder {
  std::string directory;
  std::string manifest_path;
  nlohmann::json manifest;
  std::vector<std::string> hdf5_shards;  // in shard order, full paths
};

// Reads DIR/manifest.json; throws std::runtime_error naming the file when it is missing or not
// JSON, and, with require_hdf5, when the run wrote no HDF5 shards (`what` names the tool that
// needs them).
RunFolder open_run_folder(const std::string& directory, bool require_hdf5 = true, const std::string& what = "");

// The run's model, built again from the resolved scenario in its manifest (its domain and
// model sections; files named there resolve against the scenario file, as in the run). Tools
// that need what the data files do not hold (a vibration snapshot behind its features) use it.
// Throws std::runtime_error with the binding's messages when it cannot be built.
std::shared_ptr<const core::Model> model_of_run(const RunFolder& run);

}  // namespace physynth::engine
