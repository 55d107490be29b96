// physynth report DIR: VTK files, PNG plots and report.html for a run, anchor, collapse or active
// folder (viz/viz.h); `run --report` and `anchor --report` call the same after they finish.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "physynth/engine/modules.h"
#include "physynth/engine/run_folder.h"
#include "physynth/viz/runtime.h"

namespace physynth::apps {

namespace {
struct ReportCommandOptions {
  std::string directory;
  std::vector<std::string> plots;
  int width = 0, height = 0;
  std::string format;
  std::size_t max_samples = 0;
  bool quiet = false;
};

viz::VisualOptions visual_options(const std::string& directory) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(directory) / "manifest.json"))
    return engine::viz_runtime().options_from_manifest(engine::open_run_folder(directory, false).manifest);
  return {};
}
}  // namespace

int write_report_for(const std::string& directory, const ReportOverrides& overrides, bool quiet) {
  try {
    viz::VisualOptions o = visual_options(directory);
    if (!overrides.plots.empty()) o.plots = overrides.plots;
    if (overrides.width > 0) o.width = overrides.width;
    if (overrides.height > 0) o.height = overrides.height;
    if (!overrides.format.empty()) o.format = overrides.format;
    if (overrides.max_samples > 0) o.max_samples = overrides.max_samples;
    const viz::Report r = engine::viz_runtime().write_report(directory, o);
    if (!quiet) {
      std::cout << "report: " << r.figures.size() << " plots, " << r.files.size() - r.figures.size() - 1
                << " VTK files\n  open " << r.html << "\n";
    }
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "physynth report: error: " << e.what() << "\n";
    return exit_code_of(e, kExitBadInput);
  }
}

void add_report_options(CLI::App& cmd, ReportOverrides& o, const std::string& after) {
  if (!after.empty())
    cmd.add_flag("--report", o.requested,
                 "Then write VTK files, plots and report.html into the " + after + " (physynth report)");
  cmd.add_option("--plots", o.plots, "Plot kinds to draw (default: the scenario's output.report, else all that apply)")
      ->delimiter(',')
      ->check(CLI::IsMember(engine::report_plot_kinds()));
  cmd.add_option("--width", o.width, "Plot width in pixels")->check(CLI::Range(64, 8192));
  cmd.add_option("--height", o.height, "Plot height in pixels")->check(CLI::Range(64, 8192));
  cmd.add_option("--format", o.format, "png (VTK files and PNG plots) or vtk (VTK files only, no display)")
      ->check(CLI::IsMember({"png", "vtk"}));
  cmd.add_option("--max-samples", o.max_samples, "Trajectories drawn in VTK files and curves")
      ->check(CLI::PositiveNumber);
}

void add_report_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ReportOverrides>();
  auto quiet = std::make_shared<bool>(false);
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("report", "Write VTK files, PNG plots and report.html for a run, anchor or collapse folder");
  cmd->add_option("directory", *dir, "The folder (with manifest.json, fit.json, collapse.json or active.json)")
      ->required()
      ->check(CLI::ExistingDirectory);
  add_report_options(*cmd, *o);
  cmd->add_flag("-q,--quiet", *quiet, "Print nothing but errors");
  cmd->callback([o, quiet, dir, &exit_code] { exit_code = write_report_for(*dir, *o, *quiet); });
}

}  // namespace physynth::apps
