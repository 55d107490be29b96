#include <CLI/CLI.hpp>

#include <iostream>

#include "commands.h"
#include "physynth/engine/scenario.h"

namespace physynth::apps {

namespace {
struct ValidateOptions {
  std::vector<std::string> files;
  std::vector<std::string> overrides;
};
}  // namespace

void add_validate_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand("validate", "Check scenario files without running them");
  cmd->add_option("files", options->files, "Scenario YAML files")->required();
  cmd->add_option("--set", options->overrides, "Override a value, KEY=VALUE (e.g. solver.rtol=1e-8)");
  cmd->callback([options, &exit_code] {
    core::Diagnostics diagnostics;
    for (const auto& f : options->files) {
      const std::size_t before = diagnostics.error_count();
      engine::LoadOptions load;
      load.untrained_network_is_note = true;
      auto scenario = engine::load_scenario(f, options->overrides, diagnostics, load);
      if (scenario && diagnostics.error_count() == before)
        std::cout << f << ": ok (" << scenario->domain << ", " << scenario->model.model->num_states() << " states, "
                  << scenario->parameters.size() << " parameters, " << scenario->samples << " samples)\n";
    }
    std::cerr << diagnostics.report("nothing was run");
    exit_code = diagnostics.has_errors() ? kExitBadInput : kExitOk;
  });
}

}  // namespace physynth::apps
