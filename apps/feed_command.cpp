#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "physynth/engine/feed.h"
#include "physynth/engine/scenario.h"

namespace physynth::apps {

namespace {
struct FeedCommandOptions {
  std::string scenario;
  std::vector<std::string> overrides;
  std::string output;
  std::string split = "train";
  bool to_stdout = false;
  bool endless = false;
  long batches = -1;
  std::string cmapss;
  int threads = 0;
};
}  // namespace

void add_feed_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<FeedCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "feed", "Training feeds from a scenario's feed section: window files, an NPY stream on stdout, a C-MAPSS export");
  cmd->add_option("scenario", o->scenario, "Scenario YAML file with a feed section")->required();
  cmd->add_option("--set", o->overrides, "Override a scenario value, KEY=VALUE");
  cmd->add_option(
      "-o,--output", o->output,
      "Write windows-{train,validation,test}.{h5,x.npy,y.npy,sample.npy,time.npy,json} into this directory");
  cmd->add_flag("--stdout", o->to_stdout,
                "Stream batches to standard output as NPY arrays (x, y, sample, time per batch; docs/python.md)");
  cmd->add_option("--split", o->split, "Split to stream: train, validation or test")->capture_default_str();
  cmd->add_flag("--endless", o->endless, "Stream on past sampling.samples (random and Sobol designs)");
  cmd->add_option("--batches", o->batches, "Stop the stream after this many batches");
  cmd->add_option("--cmapss", o->cmapss, "Write the units that ran to failure in the C-MAPSS text layout to this file");
  cmd->add_option("-j,--threads", o->threads, "Worker threads (default: every core)")->check(CLI::Range(0, 4096));
  cmd->callback([o, &exit_code] {
    core::Diagnostics diagnostics;
    auto scenario = engine::load_scenario(o->scenario, o->overrides, diagnostics);
    engine::Split split = engine::Split::kTrain;
    if (scenario && !scenario->feed.present)
      diagnostics.error({o->scenario, 0, 0},
                        "the scenario has no feed section; physynth feed needs one (docs/scenarios.md)");
    if (!engine::parse_split(o->split, &split))
      diagnostics.error({"--split", 0, 0}, "--split must be 'train', 'validation' or 'test', got '" + o->split + "'");
    if (o->output.empty() && !o->to_stdout && o->cmapss.empty())
      diagnostics.error({"physynth feed", 0, 0}, "nothing to do: give -o DIR, --stdout or --cmapss FILE");
    if (o->endless && !o->to_stdout) diagnostics.error({"--endless", 0, 0}, "--endless applies to --stdout only");
    if (!scenario || diagnostics.has_errors()) {
      std::cerr << diagnostics.report("nothing was run");
      exit_code = kExitBadInput;
      return;
    }
    std::shared_ptr<engine::OutputFolder> folder;
    if (!o->output.empty() && !(folder = take_folder_or_report(o->output, "feed", true, exit_code))) return;
    try {
      if (!o->output.empty()) {
        for (const auto& p : engine::write_window_files(*scenario, o->output, o->threads)) std::cerr << p << "\n";
      }
      if (!o->cmapss.empty()) {
        // A file there is replaced only when physynth wrote it (its sidecar says so).
        const std::string sidecar = o->cmapss + ".json";
        const bool ours = [&] {
          std::ifstream in(sidecar);
          std::string head(200, '\0');
          in.read(head.data(), static_cast<std::streamsize>(head.size()));
          return head.find("\"physynth-cmapss-1\"") != std::string::npos;
        }();
        for (const std::string& p : {o->cmapss, sidecar})
          if (std::filesystem::exists(p) && !ours) {
            std::cerr << "physynth feed: error: --cmapss " << o->cmapss << ": " << p
                      << " exists and was not written by physynth feed (no physynth sidecar " << sidecar
                      << "); remove it or choose another name; nothing was written\n";
            exit_code = kExitBadInput;
            return;
          }
        const auto parent = std::filesystem::path(o->cmapss).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent);
        engine::write_cmapss(*scenario, o->cmapss, o->threads);
        std::cerr << o->cmapss << "\n" << o->cmapss << ".json\n";
      }
      if (o->to_stdout) {
        engine::FeedStream stream(*scenario, split, o->endless, o->threads);
        engine::WindowBatch batch;
        for (long n = 0; (o->batches < 0 || n < o->batches) && stream.next(&batch); ++n) {
          engine::write_npy_batch(std::cout, batch);
          std::cout.flush();
          if (!std::cout) break;  // the reader closed the pipe
        }
      }
      exit_code = kExitOk;
    } catch (const std::exception& e) {
      std::cerr << "physynth feed: error: " << e.what() << "\n";
      exit_code = exit_code_of(e, kExitRunFailed);
    }
  });
}

}  // namespace physynth::apps
