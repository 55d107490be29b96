#include <unistd.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include "commands.h"
#include "physynth/engine/run.h"
#include "physynth/engine/scenario.h"

namespace physynth::apps {

namespace {

struct RunCommandOptions {
  std::string scenario;
  std::string output;
  std::vector<std::string> overrides;
  int threads = 0;
  bool overwrite = false;
  bool quiet = false;
  ReportOverrides report;
};

// A progress bar on a terminal; nothing in pipes, files or CI.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (done != total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double f = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const int width = 40, filled = static_cast<int>(f * width);
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r[%s%s] %3d%% %llu/%llu samples, %.1f s", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<int>(100 * f),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), elapsed);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_, last_{};
};

bool on_terminal() {
  const char* ci = std::getenv("CI");
  return isatty(STDERR_FILENO) && !(ci && std::string(ci) == "true");
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate a dataset from a scenario");
  cmd->add_option("scenario", o->scenario, "Scenario YAML file")->required();
  cmd->add_option("-o,--output", o->output, "Output directory (default: the scenario's output.directory)");
  cmd->add_option("-j,--threads", o->threads, "Worker threads (default: every core)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--set", o->overrides, "Override a scenario value, KEY=VALUE (e.g. sampling.samples=100)");
  cmd->add_flag("--overwrite", o->overwrite, "Replace the files of an earlier run in the output directory");
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
#ifdef PHYSYNTH_HAVE_VIZ
  add_report_options(*cmd, o->report, "run");
#endif
  cmd->callback([o, &exit_code] {
    auto scenario = load_scenario_or_report(o->scenario, o->overrides, "nothing was run", exit_code);
    if (!scenario) return;
    ProgressBar bar(!o->quiet && on_terminal());
    engine::RunOptions run;
    run.output_directory = o->output;
    run.threads = o->threads;
    run.overwrite = o->overwrite;
    run.component_versions = component_versions();
    run.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
    const engine::RunSummary s = engine::run_scenario(*scenario, run);
    if (!s.completed) {
      std::cerr << "physynth run: error: " << s.message << "\n";
      exit_code = s.message.find("already holds a run") != std::string::npos ? kExitBadInput : kExitRunFailed;
      return;
    }
    if (!o->quiet) {
      std::printf("%s: %llu samples (%llu ok, %llu stopped by an event, %llu failed) in %.2f s on %d threads\n",
                  scenario->name.c_str(), static_cast<unsigned long long>(s.samples),
                  static_cast<unsigned long long>(s.ok), static_cast<unsigned long long>(s.stopped_by_event),
                  static_cast<unsigned long long>(s.failed), s.wall_s, s.threads);
      std::printf("  solve %.2f s, write %.2f s; %zu data files\n", s.solve_s, s.write_s, s.files.size());
      std::printf("  output: %s/ (manifest.json, audit.json)\n", s.directory.c_str());
      if (s.failed > 0)
        std::printf("  failed samples and why: %s/manifest.json, key 'failures'\n", s.directory.c_str());
    }
    exit_code = (s.failed == s.samples) ? kExitRunFailed : kExitOk;
#ifdef PHYSYNTH_HAVE_VIZ
    // The data are written whatever happens here; a report that fails says so and sets 1.
    if (o->report.requested && !write_report_for(s.directory, o->report, o->quiet)) exit_code = kExitRunFailed;
#endif
  });
}

}  // namespace physynth::apps
