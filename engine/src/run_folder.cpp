#include "physynth/engine/run_folder.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace physynth::engine {

RunFolder open_run_folder(const std::string& directory, bool require_hdf5, const std::string& what) {
  namespace fs = std::filesystem;
  RunFolder r;
  r.directory = directory;
  r.manifest_path = (fs::path(directory) / "manifest.json").string();
  std::ifstream in(r.manifest_path);
  if (!in) throw std::runtime_error(r.manifest_path + ": cannot read it (is " + directory + " a physynth run folder?)");
  try {
    in >> r.manifest;
  } catch (const std::exception& e) {
    throw std::runtime_error(r.manifest_path + ": not valid JSON: " + e.what());
  }
  for (const auto& sh : r.manifest["shards"])
    for (const auto& f : sh["files"]) {
      const std::string path = f.value("path", "");
      if (path.size() > 3 && path.compare(path.size() - 3, 3, ".h5") == 0)
        r.hdf5_shards.push_back((fs::path(directory) / path).string());
    }
  if (require_hdf5 && r.hdf5_shards.empty())
    throw std::runtime_error(r.manifest_path + ": the run has no HDF5 shards; " + (what.empty() ? "this" : what) +
                             " reads those (add hdf5 to output.formats and run again)");
  return r;
}

}  // namespace physynth::engine
