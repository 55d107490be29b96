#include <signal.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "commands.h"
#include "physynth/anchor/least_squares.h"
#include "physynth/engine/ranks.h"
#include "physynth/engine/run.h"

namespace physynth::apps {

std::map<std::string, std::string> component_versions() {
  std::map<std::string, std::string> v;
#ifdef PHYSYNTH_TORCH_VERSION
  v["LibTorch"] = PHYSYNTH_TORCH_VERSION;
#endif
#ifdef PHYSYNTH_VTK_VERSION
  v["VTK"] = PHYSYNTH_VTK_VERSION;
#endif
  return v;
}

namespace {

// LibTorch's and OpenBLAS' OpenMP threads (libgomp) spin at every barrier unless OMP_WAIT_POLICY
// says otherwise, and libgomp reads it once, as the program loads. On a machine where anything else
// runs, the spinning threads take turns with it: a short train-pinn took 44 s beside one busy
// process against 7.9 s with passive waiting; on an idle machine passive waiting costs 4.4 s of
// training against 4.1 s (2 cores of an AMD EPYC, 2026-12-04). So train-pinn, unless the user set the policy, starts
// itself again once with passive waiting; the other commands keep their start-up time.
void wait_passively_for_training(char** argv) {
  bool training = false;
  for (char** a = argv + 1; *a && !training; ++a) training = std::strcmp(*a, "train-pinn") == 0;
  if (!training || std::getenv("OMP_WAIT_POLICY")) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only if it failed: then carry on as started
}

}  // namespace
}  // namespace physynth::apps

int main(int argc, char** argv) {
  using namespace physynth;
#ifdef PHYSYNTH_HAVE_PINN
  apps::wait_passively_for_training(argv);
#endif
  // A file-size limit (ulimit -f) makes write() fail with EFBIG, reported like a full disk,
  // instead of killing the process with SIGXFSZ mid-file.
  signal(SIGXFSZ, SIG_IGN);
  anchor::quiet_solver_log();
  engine::init_ranks(&argc, &argv);
  CLI::App app{"physynth: physics-informed synthetic data from YAML scenarios"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version of physynth and of the libraries it was built with");
  int exit_code = apps::kExitOk;
  apps::add_run_command(app, exit_code);
  apps::add_validate_command(app, exit_code);
  apps::add_feed_command(app, exit_code);
  apps::add_anchor_command(app, exit_code);
  apps::add_audit_command(app, exit_code);
  apps::add_collapse_command(app, exit_code);
  apps::add_active_command(app, exit_code);
  apps::add_petab_command(app, exit_code);
#ifdef PHYSYNTH_HAVE_VIZ
  apps::add_report_command(app, exit_code);
#endif
#ifdef PHYSYNTH_HAVE_PINN
  apps::add_train_pinn_command(app, exit_code);
#endif
  // Under mpirun with more than one rank only `run` (shards) and `train-pinn` (data-parallel)
  // divide their work; the others would each do the whole job and write over each other.
  app.parse_complete_callback([&app] {
    if (engine::num_ranks() <= 1 || app.get_subcommands().empty()) return;
    const std::string name = app.get_subcommands()[0]->get_name();
    if (name != "run" && name != "train-pinn")
      throw CLI::ValidationError(name,
                                 "runs on one process; only 'physynth run' and 'train-pinn' split their work across " +
                                     std::to_string(engine::num_ranks()) + " MPI ranks");
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? apps::kExitOk : apps::kExitBadInput;
  }
  if (show_version) {
    std::cout << "physynth " << engine::physynth_version() << "\n";
    auto versions = engine::library_versions();
    for (const auto& [k, v] : apps::component_versions()) versions[k] = v;
    for (const auto& [k, v] : versions) std::cout << "  " << k << " " << v << "\n";
    return apps::kExitOk;
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return apps::kExitBadInput;
  }
  return exit_code;
}
