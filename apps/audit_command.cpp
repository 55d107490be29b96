// physynth audit RUN --real real.csv: how close a run's synthetic data are to
// real data, per observable and jointly (engine/fidelity_audit.h). Writes
// fidelity_audit.json and fidelity_audit.md into the run folder (or -o DIR).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "physynth/anchor/real_data.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/fidelity_audit.h"

namespace physynth::apps {

namespace {
struct AuditCommandOptions {
  std::string run;
  std::string real;
  std::string output;
  std::string label;
  int permutations = 500;
  std::uint64_t seed = 0;
  std::size_t max_units = 2000;
  int neighbours = 5;
  bool quiet = false;
};
}  // namespace

void add_audit_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<AuditCommandOptions>();
  CLI::App* cmd = app.add_subcommand("audit", "Compare a run's synthetic data with real data (fidelity audit)");
  cmd->add_option("run", o->run, "Run folder (with manifest.json and HDF5 shards)")->required();
  cmd->add_option("--real", o->real, "Real-data CSV (unit,time,observable,value[,sd][,units][,covariates])")
      ->required();
  cmd->add_option("-o,--output", o->output, "Folder for fidelity_audit.json and .md (default: the run folder)");
  cmd->add_option("--label", o->label, "An observable to predict from the others: train synthetic, test real");
  cmd->add_option("--permutations", o->permutations, "Permutations of each test (default 500)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--seed", o->seed, "Seed of the permutations (default 0)");
  cmd->add_option("--max-units", o->max_units, "Synthetic units to read at most (default 2000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-k,--neighbours", o->neighbours, "k of the nearest-neighbour measures (default 5)")
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  cmd->callback([o, &exit_code] {
    core::Diagnostics diagnostics;
    const auto real = anchor::read_real_data(o->real, diagnostics);
    if (!real) {
      std::cerr << diagnostics.report("nothing was audited");
      exit_code = kExitBadInput;
      return;
    }
    const std::string dir = o->output.empty() ? o->run : o->output;
    // The folder is held while the run is read and the audit written (a run folder without a
    // manifest gets the reader's message instead).
    std::shared_ptr<engine::OutputFolder> folder;
    if ((!o->output.empty() || std::filesystem::exists(std::filesystem::path(o->run) / "manifest.json")) &&
        !(folder = take_folder_or_report(dir, "audit", false, exit_code)))
      return;
    try {
      engine::FidelityAuditOptions opt;
      opt.permutations = o->permutations;
      opt.seed = o->seed;
      opt.label = o->label;
      opt.neighbours = o->neighbours;
      const auto audit = engine::audit_run(o->run, *real, opt, o->max_units);
      const std::string json_path = (std::filesystem::path(dir) / "fidelity_audit.json").string();
      const std::string md_path = (std::filesystem::path(dir) / "fidelity_audit.md").string();
      engine::write_file_atomically(json_path, audit.dump(2) + "\n");
      const std::string md = engine::fidelity_audit_markdown(audit);
      engine::write_file_atomically(md_path, md);
      if (!o->quiet) std::cout << md << "\n  wrote " << json_path << "\n  wrote " << md_path << "\n";
      exit_code = kExitOk;
    } catch (const std::exception& e) {  // damaged data or a failed write (1); missing channel, bad label (2)
      std::cerr << "physynth audit: error: " << e.what() << "\n";
      exit_code = exit_code_of(e, kExitBadInput);
    }
  });
}

}  // namespace physynth::apps
