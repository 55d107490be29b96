#include <iostream>

#include "commands.h"
#include "physynth/engine/anchor.h"

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

}  // namespace physynth::apps
