// A finished run's folder as the tools after `physynth run` read it: its manifest and the
// HDF5 shards the manifest lists (audit, report, VTK files).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

}  // namespace physynth::engine
