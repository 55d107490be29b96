// physynth collapse SCENARIO --data real.csv --generations K --strategy ...:
// re-calibrates the scenario generation after generation on synthetic data and
// reports how its parameters and its distance to the real data move
// (engine/collapse.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "physynth/anchor/real_data.h"
#include "physynth/engine/collapse.h"
#include "physynth/engine/scenario.h"

namespace physynth::apps {

namespace {
struct CollapseCommandOptions {
  std::string scenario;
  std::string data;
  std::string output;
  std::vector<std::string> strategies = {"replace", "accumulate", "anchor"};
  std::vector<std::string> overrides;
  int generations = 5;
  std::size_t units = 0;
  std::uint64_t seed = 0;
  int threads = 0;
  int permutations = 200;
  bool quiet = false;
};
}  // namespace

void add_collapse_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<CollapseCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "collapse", "Re-calibrate a scenario on its own synthetic data, generation after generation (model collapse)");
  cmd->add_option("scenario", o->scenario, "Scenario YAML file with an anchor: section")->required();
  cmd->add_option("--data", o->data, "Real-data CSV (default: anchor.data)");
  cmd->add_option("-o,--output", o->output, "Output directory (default: runs/<name>_collapse)");
  cmd->add_option("--generations", o->generations, "Generations after generation 0 (default 5)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--strategy", o->strategies, "replace, accumulate and/or anchor (default: all three)")
      ->check(CLI::IsMember({"replace", "accumulate", "anchor"}))
      ->delimiter(',');
  cmd->add_option("--units", o->units, "Synthetic units per generation (default: as many as the real data have)");
  cmd->add_option("--seed", o->seed, "Seed of the draws and tests (default 0)");
  cmd->add_option("--permutations", o->permutations, "Permutations of each generation's tests (default 200)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("-j,--threads", o->threads, "Threads (default: every core)")->check(CLI::Range(0, 4096));
  cmd->add_option("--set", o->overrides, "Override a scenario value, KEY=VALUE");
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  cmd->callback([o, &exit_code] {
    auto scenario = load_scenario_or_report(o->scenario, o->overrides, "nothing was run", exit_code);
    if (!scenario) return;
    // The data must fit the scenario before anything runs (the same checks as physynth anchor).
    const auto in = anchor_inputs_or_report(*scenario, o->data, "collapse", "nothing was run", exit_code);
    if (!in) return;
    engine::CollapseOptions opt;
    opt.generations = o->generations;
    opt.strategies.clear();
    for (const auto& s : o->strategies)
      opt.strategies.push_back(s == "replace"      ? engine::CollapseStrategy::kReplace
                               : s == "accumulate" ? engine::CollapseStrategy::kAccumulate
                                                   : engine::CollapseStrategy::kAnchor);
    opt.units = o->units;
    opt.seed = o->seed;
    opt.threads = o->threads;
    opt.permutations = o->permutations;
    if (!o->quiet) opt.progress = [](const std::string& line) { std::printf("  %s\n", line.c_str()); };
    const std::string dir = o->output.empty() ? "runs/" + scenario->name + "_collapse" : o->output;
    const auto folder = take_folder_or_report(dir, "collapse", true, exit_code);
    if (!folder) return;
    try {
      const auto r = engine::run_collapse(*scenario, in->data, opt, dir);
      if (!o->quiet)
        for (const auto& f : r.files) std::printf("  wrote %s\n", f.c_str());
      exit_code = kExitOk;
    } catch (const std::exception& e) {
      std::cerr << "physynth collapse: error: " << e.what() << "\n";
      exit_code = exit_code_of(e, kExitRunFailed);
    }
  });
}

}  // namespace physynth::apps
