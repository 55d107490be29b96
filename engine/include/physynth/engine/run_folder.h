// A finished run's folder as the tools after `physynth run` read it: its manifest and the
// HDF5 shards the manifest lists (audit, report, VTK files).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/core/model.h"
#include "physynth/engine/dataset.h"

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

// A run folder written by a command other than `physynth run` (`petab --simulate`): what its
// manifest says about where the data came from.
struct RunFolderSource {
  std::string file;         // the input the data were made from (manifest scenario.file)
  nlohmann::json resolved;  // manifest scenario.resolved: name, description, domain, model, ...
  nlohmann::json extra;     // further top-level manifest entries (an object), after the standard ones
};

// Writes `shard` into `directory` (a folder the caller holds) as a complete run folder that
// the tools after `physynth run` read (report, audit, ...): the shard's HDF5 and CSV files, then
// manifest.json (format physynth-run-1: versions, scenario, counts, each failed sample with its
// flag and message, each file's size and SHA-256). Returns the paths written; throws
// std::runtime_error naming the file on I/O errors.
std::vector<std::string> write_run_folder(const std::string& directory, const Shard& shard,
                                          const RunFolderSource& source, int compression = 4);

// The run's model, built again from the resolved scenario in its manifest (its domain and
// model sections; files named there resolve against the scenario file, as in the run). Tools
// that need what the data files do not hold (a vibration snapshot behind its features) use it.
// Throws std::runtime_error with the binding's messages when it cannot be built.
std::shared_ptr<const core::Model> model_of_run(const RunFolder& run);

}  // namespace physynth::engine
