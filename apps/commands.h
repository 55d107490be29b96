// Subcommands of the physynth program; each binds its flags to an options
// struct and returns the process exit code: 0 success, 1 the run failed,
// 2 bad input (nothing was run).
#pragma once

#include <map>
#include <string>

namespace CLI {
class App;
}

namespace physynth::apps {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRunFailed = 1;
inline constexpr int kExitBadInput = 2;

// Versions of every component, for --version and the manifest.
std::map<std::string, std::string> component_versions();

// Registers the subcommand on `app`; `exit_code` receives its result when it runs.
void add_run_command(CLI::App& app, int& exit_code);
void add_validate_command(CLI::App& app, int& exit_code);
void add_feed_command(CLI::App& app, int& exit_code);
void add_train_pinn_command(CLI::App& app, int& exit_code);
void add_anchor_command(CLI::App& app, int& exit_code);
void add_audit_command(CLI::App& app, int& exit_code);
void add_collapse_command(CLI::App& app, int& exit_code);

}  // namespace physynth::apps
