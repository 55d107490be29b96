// physynth train-pinn SCENARIO -o MODEL.pt: trains the scenario's parametric
// PINN (its `pinn:` section sets the network and training), prints a progress
// line, writes MODEL.pt and its JSON sidecar, and reports the held-out error
// against CVODES.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "physynth/engine/modules.h"
#include "physynth/engine/pinn_problem.h"
#include "physynth/engine/ranks.h"
#include "physynth/engine/scenario.h"
#include "physynth/pinn/runtime.h"

namespace physynth::apps {

namespace {
struct TrainPinnOptions {
  std::string scenario;
  std::string output;
  std::vector<std::string> overrides;
  int threads = 0;
  bool quiet = false;
};

std::string percent(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g %%", 100.0 * x);
  return b;
}
}  // namespace

void add_train_pinn_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TrainPinnOptions>();
  CLI::App* cmd = app.add_subcommand("train-pinn", "Train a parametric PINN for a scenario (backend: pinn)");
  cmd->add_option("scenario", o->scenario, "Scenario YAML file (its pinn: section sets the training)")->required();
  cmd->add_option("-o,--output", o->output, "The network file to write (MODEL.pt; the sidecar is MODEL.json)")
      ->required();
  cmd->add_option("-j,--threads", o->threads, "Threads (default: pinn.train.threads, else every core)")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--set", o->overrides, "Override a scenario value, KEY=VALUE (e.g. pinn.train.adam_steps=500)");
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors and the result");
  cmd->callback([o, &exit_code] {
    // The network is trained from the scenario, whatever its backend says.
    auto overrides = o->overrides;
    overrides.push_back("backend=cvode");
    auto scenario = load_scenario_or_report(o->scenario, overrides, "nothing was trained", exit_code);
    if (!scenario) return;
    const pinn::Runtime* runtime = nullptr;
    try {
      runtime = &engine::pinn_runtime();
    } catch (const std::exception& e) {
      std::cerr << "physynth train-pinn: error: " << e.what() << "\n";
      exit_code = kExitRunFailed;
      return;
    }
    const std::string why = runtime->tensor_support(*scenario->model.model);
    if (!why.empty()) {
      std::cerr << "physynth train-pinn: error: " << o->scenario << ": " << why << "\n";
      exit_code = kExitBadInput;
      return;
    }
    // The output's folder is checked before any training: an hour of work must not die at its
    // first checkpoint on a path that cannot be written.
    {
      namespace fs = std::filesystem;
      const fs::path parent = fs::absolute(o->output).parent_path();
      std::error_code ec;
      if (fs::is_directory(o->output, ec) || !fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK) != 0) {
        std::cerr << "physynth train-pinn: error: -o " << o->output << ": "
                  << (fs::is_directory(o->output, ec) ? "is a folder; give the network's file name (e.g. net.pt)"
                      : !fs::is_directory(parent, ec) ? "folder " + parent.string() + " does not exist; create it first"
                                                      : "cannot write in " + parent.string())
                  << "; nothing was trained\n";
        exit_code = kExitBadInput;
        return;
      }
    }
    pinn::Problem problem = engine::pinn_problem(*scenario);
    pinn::TrainOptions train = scenario->pinn.train;
    if (o->threads > 0) train.threads = o->threads;
    // Under mpirun: data-parallel, every rank the same steps; rank 0 writes and prints.
    const bool root = engine::rank() == 0;
    if (engine::num_ranks() > 1) {
      train.rank = engine::rank();
      train.ranks = engine::num_ranks();
      train.average = engine::average_across_ranks;
      if (train.threads == 0 && o->threads == 0) train.threads = engine::threads_per_rank();
    }
    train.checkpoint = root ? o->output : std::string();
    if (!root) o->quiet = true;
    if (!o->quiet) {
      std::printf("training a PINN for %s: %zu states, inputs t", scenario->name.c_str(),
                  scenario->model.model->num_states());
      for (const auto& r : problem.parameters)
        if (!r.fixed()) std::printf(", %s in [%g, %g]%s", r.name.c_str(), r.low, r.high, r.log_scale ? " (log)" : "");
      std::printf("\n");
      std::fflush(stdout);
    }
    auto progress = [&](const pinn::Progress& p) {
      if (o->quiet) return;
      std::printf("%6.1f s  %-5s %6d/%-6d loss %.3e (residual %.3e", p.elapsed_s, p.phase, p.step, p.steps, p.loss,
                  p.residual_loss);
      if (p.data_loss > 0) std::printf(", data %.3e x %.3g", p.data_loss, p.data_weight);
      std::printf(")");
      if (!std::isnan(p.validation_worst))
        std::printf("  validation L2 median %s worst %s", percent(p.validation_median).c_str(),
                    percent(p.validation_worst).c_str());
      std::printf("\n");
      std::fflush(stdout);
    };
    try {
      const std::unique_ptr<pinn::Network> net = runtime->train(problem, scenario->pinn.network, train, progress);
      if (!root) {
        exit_code = kExitOk;
        return;
      }
      const auto& t = net->metadata().at("training");
      const auto& test = t.at("test");
      std::printf("%s: %s after %d Adam steps and %d L-BFGS iterations, %.1f s (%s)\n", o->output.c_str(),
                  t.at("stopped").get<std::string>().c_str(), t.at("adam_steps").get<int>(),
                  t.at("lbfgs_iterations").get<int>(), t.at("seconds").get<double>(),
                  (scenario->pinn.train.device + ", " + scenario->pinn.train.dtype).c_str());
      if (test.at("samples").get<std::size_t>() > 0)
        std::printf("  relative L2 error against CVODES on %zu held-out draws: median %s, worst %s\n",
                    test.at("samples").get<std::size_t>(), percent(test.at("median").get<double>()).c_str(),
                    percent(test.at("worst").get<double>()).c_str());
      std::printf("  sidecar: %s\n", runtime->sidecar_path(o->output).c_str());
      exit_code = kExitOk;
      const double final_loss = t.at("final_loss").is_number() ? t.at("final_loss").get<double>() : NAN;
      if (!std::isfinite(final_loss) ||
          (test.at("samples").get<std::size_t>() > 0 && !std::isfinite(test.at("worst").get<double>()))) {
        std::cerr << "physynth train-pinn: error: training diverged (the loss or the held-out error is not finite), "
                     "so "
                  << o->output
                  << " is not a usable network. Usual causes: a state that divides or sits "
                     "under a root or log and crosses zero (list it in pinn.network.positive), float32 overflow "
                     "(pinn.train.dtype: float64), a learning rate too large\n";
        exit_code = kExitRunFailed;
      }
    } catch (const std::invalid_argument& e) {
      std::cerr << "physynth train-pinn: error: " << e.what() << "\n";
      exit_code = kExitBadInput;
    } catch (const std::exception& e) {
      std::cerr << "physynth train-pinn: error: " << e.what() << "\n";
      exit_code = kExitRunFailed;
    }
  });
}

}  // namespace physynth::apps
