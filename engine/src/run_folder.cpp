#include "physynth/engine/run_folder.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include "physynth/core/config.h"
#include "journal.h"
#include "sha256.h"
#include "physynth/engine/errors.h"
#include "physynth/engine/run.h"
#include "physynth/engine/scenario.h"

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
  if (r.manifest.value("status", "complete") == "interrupted")
    throw std::runtime_error(r.manifest_path + ": the run was interrupted (" + r.manifest.value("resume", "") +
                             "); resume it first");
  // Every data file as the run wrote it: a damaged or missing one is named, never read.
  for (const auto& sh : r.manifest.value("shards", nlohmann::json::array())) {
    std::string why;
    if (!shard_files_intact(sh, directory, &why))
      throw DamagedData("damaged run data: " + why + " (" + r.manifest_path +
                        "); the file changed after the run wrote it, so nothing was read: run the scenario again, " +
                        "or restore the file");
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

std::vector<std::string> write_run_folder(const std::string& directory, const Shard& shard,
                                          const RunFolderSource& source, int compression) {
  namespace fs = std::filesystem;
  std::vector<std::string> files = write_hdf5(shard, directory, compression);
  for (const auto& f : write_csv(shard, directory)) files.push_back(f);
  const nlohmann::json file_list = file_records(files);
  StatusCounts counts;
  nlohmann::ordered_json failures = nlohmann::ordered_json::array();
  const std::size_t P = shard.num_parameters();
  for (std::size_t i = 0; i < shard.samples; ++i) {
    const auto st = static_cast<SampleStatus>(shard.status[i]);
    counts.add(st);
    if (st == SampleStatus::kFailed) {
      nlohmann::ordered_json params = nlohmann::ordered_json::object();
      for (std::size_t j = 0; j < P; ++j) params[shard.parameter_names[j]] = shard.parameters[i * P + j];
      const double t = shard.t_reached[i];
      failures.push_back({{"sample", shard.first_sample + i},
                          {"t_reached", std::isnan(t) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t)},
                          {"flag", shard.failure_flag[i]},
                          {"message", shard.failure_message[i]},
                          {"parameters", params}});
    }
  }
  nlohmann::ordered_json versions = nlohmann::ordered_json::object();
  versions["physynth"] = physynth_version();
  for (const auto& [k, v] : library_versions()) versions[k] = v;
  nlohmann::ordered_json manifest;
  manifest["format"] = "physynth-run-1";
  manifest["status"] = "complete";
  manifest["versions"] = versions;
  manifest["scenario"] = {{"file", source.file},
                          {"sha256", fs::exists(source.file) ? sha256_file(source.file) : std::string()},
                          {"resolved", source.resolved}};
  manifest["samples"] = shard.samples;
  manifest["output_times"] = shard.times;
  manifest["counts"] = {
      {"ok", counts.ok}, {"stopped_by_event", counts.stopped_by_event}, {"failed", counts.failed}};
  if (source.extra.is_object())
    for (const auto& [key, value] : source.extra.items()) manifest[key] = value;
  manifest["failures"] = failures;
  manifest["shards"] = nlohmann::ordered_json::array(
      {{{"index", shard.index}, {"first_sample", shard.first_sample}, {"samples", shard.samples}, {"files", file_list}}});
  const std::string path = (fs::path(directory) / "manifest.json").string();
  write_file_atomically(path, manifest.dump(2) + "\n");
  files.push_back(path);
  return files;
}

std::shared_ptr<const core::Model> model_of_run(const RunFolder& run) {
  const auto& scenario = run.manifest.value("scenario", nlohmann::json::object());
  const auto& resolved = scenario.value("resolved", nlohmann::json::object());
  const std::string domain = resolved.value("domain", "");
  const core::ModelBinding binding = domain_binding(domain);
  if (!binding || !resolved.contains("model"))
    throw std::runtime_error(run.manifest_path + ": scenario.resolved has no model of a known domain (domain '" +
                             domain + "')");
  core::Diagnostics diags;
  // JSON is YAML: the binding reads the resolved section as it read the scenario's.
  const core::ConfigNode node(YAML::Load(resolved["model"].dump()), "model", scenario.value("file", run.manifest_path),
                              &diags);
  auto built = binding(node);
  if (!built || diags.has_errors())
    throw std::runtime_error(run.manifest_path + ": cannot build the run's model again:\n" +
                             diags.report("the model was not built"));
  return built->model;
}

}  // namespace physynth::engine
