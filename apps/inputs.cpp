#include <iostream>

#include "commands.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/errors.h"

namespace physynth::apps {

std::optional<engine::Scenario> load_scenario_or_report(const std::string& path,
                                                        const std::vector<std::string>& overrides,
                                                        const std::string& consequence, int& exit_code) {
  core::Diagnostics diagnostics;
  auto scenario = engine::load_scenario(path, overrides, diagnostics);
  if (!scenario) {
    std::cerr << diagnostics.report(consequence);
    exit_code = kExitBadInput;
    return std::nullopt;
  }
  if (!diagnostics.list().empty()) std::cerr << diagnostics.report();  // warnings
  return scenario;
}

std::optional<AnchorInputs> anchor_inputs_or_report(const engine::Scenario& scenario, const std::string& data_option,
                                                    const std::string& command, const std::string& consequence,
                                                    int& exit_code) {
  AnchorInputs in;
  in.file = data_option.empty() ? scenario.anchor.data : data_option;
  if (in.file.empty()) {
    std::cerr << "physynth " << command << ": error: no real data: give --data FILE or anchor.data in " << scenario.file
              << "\n";
    exit_code = kExitBadInput;
    return std::nullopt;
  }
  core::Diagnostics diagnostics;
  auto data = anchor::read_real_data(in.file, diagnostics);
  std::optional<anchor::CalibrationProblem> problem;
  if (data) problem = engine::calibration_problem(scenario, *data, diagnostics);
  if (!problem) {
    std::cerr << diagnostics.report(consequence);
    exit_code = kExitBadInput;
    return std::nullopt;
  }
  in.data = std::move(*data);
  in.problem = std::move(*problem);
  return in;
}

int exit_code_of(const std::exception& e, int otherwise) {
  if (dynamic_cast<const engine::FolderBusy*>(&e) || dynamic_cast<const engine::FolderRefused*>(&e))
    return kExitBadInput;
  if (dynamic_cast<const engine::IoError*>(&e) || dynamic_cast<const engine::DamagedData*>(&e)) return kExitRunFailed;
  return otherwise;
}

std::shared_ptr<engine::OutputFolder> take_folder_or_report(const std::string& directory, const std::string& command,
                                                            bool clear, int& exit_code) {
  try {
    auto folder = engine::OutputFolder::take(directory, command);
    if (clear) folder->remove_physynth_files();
    return folder;
  } catch (const std::exception& e) {
    std::cerr << "physynth " << command << ": error: " << e.what() << "\n";
    exit_code = exit_code_of(e, kExitRunFailed);
    return nullptr;
  }
}

}  // namespace physynth::apps
