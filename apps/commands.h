// Subcommands of the physynth program; each binds its flags to an options
// struct and returns the process exit code: 0 success, 1 the run failed,
// 2 bad input (nothing was run).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "physynth/anchor/calibration.h"
#include "physynth/anchor/real_data.h"
#include "physynth/engine/output_folder.h"
#include "physynth/engine/scenario.h"

namespace CLI {
class App;
}

namespace physynth::apps {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRunFailed = 1;
inline constexpr int kExitBadInput = 2;

// Versions of every component, for --version and the manifest.
std::map<std::string, std::string> component_versions();

// Loads a scenario; on errors prints them ending with `consequence` ("nothing was run"), sets
// exit_code to kExitBadInput and returns nullopt. Warnings are printed and the scenario returned.
std::optional<engine::Scenario> load_scenario_or_report(const std::string& path,
                                                        const std::vector<std::string>& overrides,
                                                        const std::string& consequence, int& exit_code);

// The real data of `physynth anchor` and `collapse` (--data, else anchor.data), read and checked
// against the scenario as a calibration problem; on errors the same as above.
struct AnchorInputs {
  std::string file;
  anchor::RealData data;
  anchor::CalibrationProblem problem;
};
std::optional<AnchorInputs> anchor_inputs_or_report(const engine::Scenario& scenario, const std::string& data_option,
                                                    const std::string& command, const std::string& consequence,
                                                    int& exit_code);

// The exit code an exception means: 2 for a folder that is busy or refused, 1 for an I/O
// failure or damaged data, else `otherwise` (the command's own reading of a plain error).
int exit_code_of(const std::exception& e, int otherwise);

// Takes the command's output folder for its whole run (engine/output_folder.h): created when
// missing; refused when another physynth process writes it, or when it holds files physynth did
// not write and no physynth output. With `clear`, what physynth wrote there before is removed
// first (a new anchor or collapse replaces the last one's files, and only those). On errors
// prints them, sets exit_code and returns null.
std::shared_ptr<engine::OutputFolder> take_folder_or_report(const std::string& directory, const std::string& command,
                                                            bool clear, int& exit_code);

// Registers the subcommand on `app`; `exit_code` receives its result when it runs.
void add_run_command(CLI::App& app, int& exit_code);
void add_validate_command(CLI::App& app, int& exit_code);
void add_active_command(CLI::App& app, int& exit_code);
void add_petab_command(CLI::App& app, int& exit_code);
void add_feed_command(CLI::App& app, int& exit_code);
void add_train_pinn_command(CLI::App& app, int& exit_code);
void add_anchor_command(CLI::App& app, int& exit_code);
void add_audit_command(CLI::App& app, int& exit_code);
void add_collapse_command(CLI::App& app, int& exit_code);
void add_report_command(CLI::App& app, int& exit_code);

// What --plots, --width, --height, --format and --max-samples override of a folder's report
// options (its manifest's output.report, else the defaults); unset where 0 or empty.
struct ReportOverrides {
  bool requested = false;  // run/anchor --report
  std::vector<std::string> plots;
  int width = 0, height = 0;
  std::string format;
  std::size_t max_samples = 0;
};
// Adds those flags to a command; with `after` (run, anchor) also --report, which asks for the
// report after the command's own work, `after` naming the folder it goes into.
void add_report_options(CLI::App& cmd, ReportOverrides& overrides, const std::string& after = "");
// Writes the folder's report (viz::write_report); prints where it is unless quiet. Returns the
// exit code: on an error prints it and returns 1 (I/O, damaged data) or 2 (not a physynth folder,
// held by another process).
int write_report_for(const std::string& directory, const ReportOverrides& overrides, bool quiet);

}  // namespace physynth::apps
