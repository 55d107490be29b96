#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "commands.h"
#include "physynth/active/rare_event.h"
#include "physynth/engine/ranks.h"
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
  std::string resume;
  bool quiet = false;
  bool write_in_turn = false;
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

// SIGINT and SIGTERM ask the run to stop after the samples in flight; a second one ends the
// process at once (the journal still lets --resume continue).
std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) {
  if (g_stop_signal.exchange(sig) != 0) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}

bool on_terminal() {
  const char* ci = std::getenv("CI");
  return isatty(STDERR_FILENO) && !(ci && std::string(ci) == "true");
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate a dataset from a scenario");
  cmd->add_option("scenario", o->scenario,
                  "Scenario YAML file (with --resume: the one the run started with, by default)");
  cmd->add_option("-o,--output", o->output, "Output directory (default: the scenario's output.directory)");
  cmd->add_option("-j,--threads", o->threads, "Worker threads (default: every core)")->check(CLI::Range(0, 4096));
  cmd->add_option("--set", o->overrides, "Override a scenario value, KEY=VALUE (e.g. sampling.samples=100)");
  cmd->add_flag("--overwrite", o->overwrite, "Replace the files of an earlier run in the output directory");
  cmd->add_option("--resume", o->resume,
                  "Continue an interrupted run in this directory from its journal (shards verified by SHA-256)")
      ->excludes("--overwrite")
      ->excludes("--output");
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  cmd->add_flag("--write-in-turn", o->write_in_turn,
                "Write each shard before solving the next, on the run's threads alone (by default, on 2 or more "
                "threads, a shard is written on one more thread while the next is solved; the same files either way)");
#ifdef PHYSYNTH_HAVE_VIZ
  add_report_options(*cmd, o->report, "run");
#endif
  cmd->callback([o, &exit_code] {
    const bool root = engine::rank() == 0;  // under mpirun only rank 0 prints
    std::vector<std::string> overrides = o->overrides;
    if (!o->resume.empty() && engine::run_is_complete(o->resume)) {
      // Resuming a finished run is nothing to do, not a mistake (a script may resume blindly).
      if (root && !o->quiet) std::cout << o->resume << ": the run is complete (manifest.json); nothing to resume\n";
      exit_code = kExitOk;
      return;
    }
    if (!o->resume.empty() && o->scenario.empty()) {
      // The scenario and --set values the run started with, from its journal.
      try {
        const engine::StartedRun started = engine::started_run(o->resume);
        o->scenario = started.scenario;
        if (overrides.empty()) overrides = started.overrides;
      } catch (const std::exception& e) {
        if (root) std::cerr << "physynth run: error: " << e.what() << "\n";
        exit_code = kExitBadInput;
        return;
      }
    }
    if (o->scenario.empty()) {
      if (root) std::cerr << "physynth run: error: a scenario file is required (or --resume DIR)\n";
      exit_code = kExitBadInput;
      return;
    }
    auto scenario = load_scenario_or_report(o->scenario, overrides, "nothing was run", exit_code);
    if (!scenario) return;
    ProgressBar bar(!o->quiet && root && on_terminal());
    engine::RunOptions run;
    run.output_directory = o->resume.empty() ? o->output : o->resume;
    run.resume = !o->resume.empty();
    run.threads = o->threads;
    // Ranks on one machine share its cores unless -j says otherwise.
    if (run.threads == 0 && engine::local_ranks() > 1) run.threads = engine::threads_per_rank();
    run.overwrite = o->overwrite;
    run.write_beside_solve = !o->write_in_turn;
    run.component_versions = component_versions();
    run.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
    // One process: the folder is held from here through the report (under mpirun, rank 0 holds
    // it inside the run, where every rank hears if it cannot).
    std::shared_ptr<engine::OutputFolder> held;
    if (engine::num_ranks() == 1 && !(run.resume && !std::filesystem::is_directory(run.output_directory))) {
      const std::string dir = run.output_directory.empty() ? scenario->output.directory : run.output_directory;
      try {
        held = engine::OutputFolder::take(dir, run.resume ? "run --resume" : "run", run.resume);
      } catch (const std::exception& e) {
        std::cerr << "physynth run: error: " << e.what() << "\n";
        exit_code = exit_code_of(e, kExitBadInput);
        return;
      }
    }
    g_stop_signal = 0;
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    run.stop_requested = [] { return g_stop_signal.load() != 0; };
    // sampling.condition: the rare-event sampler draws the samples (active/rare_event.h).
    active::RareEventEstimate rare;
    const auto level_line = [&](const std::string& line) {
      if (!o->quiet && root) std::cerr << "rare event: " << line << "\n";
    };
    const engine::RunSummary s = active::run(*scenario, run, &rare, level_line);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (s.interrupted) {
      if (root) std::cerr << "physynth run: " << s.message << "\n";
      exit_code = 128 + g_stop_signal.load();  // as a shell reports a process ended by the signal
      return;
    }
    if (!s.completed) {
      if (root) std::cerr << "physynth run: error: " << s.message << "\n";
      exit_code = s.refused ? kExitBadInput : kExitRunFailed;
      return;
    }
    if (!o->quiet && root) {
      std::printf("%s: %llu samples (%llu ok, %llu stopped by an event, %llu failed) in %.2f s on %d threads%s\n",
                  scenario->name.c_str(), static_cast<unsigned long long>(s.samples),
                  static_cast<unsigned long long>(s.ok), static_cast<unsigned long long>(s.stopped_by_event),
                  static_cast<unsigned long long>(s.failed), s.wall_s, s.threads,
                  s.ranks > 1 ? (" x " + std::to_string(s.ranks) + " MPI ranks").c_str() : "");
      if (s.shards_resumed > 0)
        std::printf("  resumed: %llu shards kept from the interrupted run (checksums verified)\n",
                    static_cast<unsigned long long>(s.shards_resumed));
      std::printf("  solve %.2f s, write %.2f s%s; %zu data files\n", s.solve_s, s.write_s,
                  run.write_beside_solve && s.threads >= 2 ? " (a shard written while the next is solved)" : "",
                  s.files.size());
      std::printf("  output: %s/ (manifest.json, audit.json)\n", s.directory.c_str());
      if (s.failed > 0)
        std::printf("  failed samples and why: %s/manifest.json, key 'failures'\n", s.directory.c_str());
    }
    exit_code = (s.failed == s.samples) ? kExitRunFailed : kExitOk;
    if (scenario->rare_event.present && root) {
      if (!o->quiet)
        std::printf("  P(%s) = %.4g (coefficient of variation %.2g %%) from %llu simulations; %llu of %llu samples in "
                    "the event (manifest.json, key 'rare_event')\n",
                    rare.condition.c_str(), rare.probability, 100.0 * rare.cv,
                    static_cast<unsigned long long>(rare.simulations),
                    static_cast<unsigned long long>(rare.event_samples), static_cast<unsigned long long>(rare.samples));
      if (!rare.message.empty()) {  // written, but the estimate cannot be trusted
        std::cerr << "physynth run: error: sampling.condition: " << rare.message << "\n";
        exit_code = kExitRunFailed;
      }
    }
    if (!root) return;
#ifdef PHYSYNTH_HAVE_VIZ
    // The data are written whatever happens here; a report that fails says so and sets 1.
    if (o->report.requested)
      if (const int code = write_report_for(s.directory, o->report, o->quiet); code != kExitOk) exit_code = code;
#endif
  });
}

}  // namespace physynth::apps
