// physynth anchor SCENARIO --data real.csv -o DIR: calibrates the scenario's
// `anchor:` parameters on real data and writes a calibrated scenario, the fit
// with intervals, the residuals and a before/after fidelity table
// (engine/anchor.h).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include "commands.h"
#include "physynth/anchor/real_data.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/validation.h"
#include "physynth/engine/scenario.h"

namespace physynth::apps {

namespace {
struct AnchorCommandOptions {
  std::string scenario;
  std::string data;
  std::string output;
  std::vector<std::string> overrides;
  int threads = 0;
  int starts = 0;
  std::string validate, group;  // --validate unit|group, --group NAME
  int folds = 0;
  bool quiet = false;
  ReportOverrides report;
};

// One estimate per line, the names padded to `width` (at least 16) so that the columns line up.
void print_estimate(const anchor::ParameterEstimate& e, double confidence, int width) {
  std::printf("  %-*s %-12s %12.6g   [%.6g, %.6g] (%g%%)%s%s\n", width, e.name.c_str(), e.unit.c_str(), e.estimate,
              e.lower, e.upper, 100.0 * confidence, e.at_bound ? "  at a bound" : "",
              e.determined ? "" : "  NOT DETERMINED by the readings");
}
}  // namespace

void add_anchor_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<AnchorCommandOptions>();
  CLI::App* cmd = app.add_subcommand("anchor", "Calibrate a scenario on real data (its anchor: section)");
  cmd->add_option("scenario", o->scenario, "Scenario YAML file with an anchor: section")->required();
  cmd->add_option("--data", o->data,
                  "Real-data CSV (unit,time,observable,value[,sd][,units][,covariates]); "
                  "default: anchor.data");
  cmd->add_option("-o,--output", o->output, "Output directory (default: runs/<name>_anchor)");
  cmd->add_option("--starts", o->starts, "Multi-start count (default: anchor.starts)")->check(CLI::PositiveNumber);
  cmd->add_option("-j,--threads", o->threads, "Threads for the starts (default: every core)")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--set", o->overrides, "Override a scenario value, KEY=VALUE (e.g. anchor.seed=3)");
  cmd->add_option("--validate", o->validate,
                  "After the fit, refit leaving units (unit) or groups (group) out and score each held-out unit "
                  "against the prior and the training units' mean curve (validation.md)")
      ->check(CLI::IsMember({"unit", "group"}));
  cmd->add_option("--folds", o->folds, "Folds for --validate (default 0: leave one out)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--group", o->group, "The group parameter for --validate group (default: anchor.population.group)");
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
#ifdef PHYSYNTH_HAVE_VIZ
  add_report_options(*cmd, o->report, "folder");
#endif
  cmd->callback([o, &exit_code] {
    auto scenario = load_scenario_or_report(o->scenario, o->overrides, "nothing was calibrated", exit_code);
    if (!scenario) return;
    if (o->starts > 0) scenario->anchor.options.starts = o->starts;
    scenario->anchor.options.threads = o->threads;
    const auto in = anchor_inputs_or_report(*scenario, o->data, "anchor", "nothing was calibrated", exit_code);
    if (!in) return;
    const auto& data = in->data;
    const auto& problem = in->problem;
    const std::string& data_file = in->file;
    engine::ValidationOptions vo;
    vo.by_group = o->validate == "group";
    vo.group = o->group.empty() ? scenario->anchor.population.group : o->group;
    vo.folds = o->folds;
    if (!o->validate.empty())
      if (const std::string why = engine::validation_refusal(*scenario, problem, vo); !why.empty()) {
        std::cerr << "physynth anchor: error: " << why << "; nothing was calibrated\n";
        exit_code = kExitBadInput;
        return;
      }
    const std::string dir = o->output.empty() ? "runs/" + scenario->name + "_anchor" : o->output;
    if (!o->quiet)
      std::printf("calibrating %s on %s: %zu units, %zu readings, %zu parameters, %d starts\n", scenario->name.c_str(),
                  data_file.c_str(), problem.units.size(), data.readings(), problem.parameters.size(),
                  scenario->anchor.options.starts);
    // The folder is this anchor's until it is done; the last anchor's files there go first.
    const auto folder = take_folder_or_report(dir, "anchor", true, exit_code);
    if (!folder) return;
    try {
      const engine::AnchorResult r = engine::run_anchor(*scenario, data, problem, dir);
      const auto& c = r.calibration;
      if (!c.success) {
        std::cerr << "physynth anchor: error: the calibration failed: " << c.message << "\n";
        exit_code = kExitRunFailed;
        return;
      }
      if (!o->quiet) {
        std::printf("%s (%.2f s)\n", c.message.c_str(), c.seconds);
        std::size_t failed = 0;
        std::map<std::string, int> reasons;
        for (const auto& st : c.starts)
          if (!st.usable) {
            ++failed;
            ++reasons[st.message];
          }
        if (failed > 0) {
          std::printf("  %zu of %zu starts failed:", failed, c.starts.size());
          for (const auto& [why, n] : reasons) std::printf(" %dx %s;", n, why.c_str());
          std::printf(" (fit.json, failed_starts)\n");
        }
        const double conf = scenario->anchor.options.confidence;
        int width = 16;
        for (const auto* list : {&c.shared, &c.sigmas})
          for (const auto& e : *list) width = std::max(width, static_cast<int>(e.name.size()));
        for (const auto& e : c.shared) print_estimate(e, conf, width);
        for (const auto& e : c.sigmas) print_estimate(e, conf, width);
        for (const auto& name : anchor::sigma_not_estimated(problem, c))
          std::printf("  %-*s not estimated: no reading of %s without an sd of its own; the scenario's noise is kept\n",
                      width, ("sigma_" + name).c_str(), name.c_str());
        for (const auto& p : c.population)
          std::printf("  %-16s population over %zu units: %s mean %.6g [%.6g, %.6g], sd %.6g\n", p.name.c_str(),
                      p.units, p.log ? "ln" : "", p.mean, p.mean_lower, p.mean_upper, p.sd);
        std::printf("fidelity (RMSE before -> after):");
        for (std::size_t i = 0; i < r.after.observables.size(); ++i)
          std::printf(" %s %.4g -> %.4g", r.after.observables[i].observable.c_str(), r.before.observables[i].rmse,
                      r.after.observables[i].rmse);
        std::printf("; log-likelihood %.6g -> %.6g\n", r.before.log_likelihood, r.after.log_likelihood);
        for (const auto& f : r.files) std::printf("  wrote %s\n", f.c_str());
      }
      if (const auto names = anchor::undetermined(c); !names.empty())
        std::fprintf(stderr,
                     "physynth anchor: warning: the readings do not determine %s at this optimum (an unbounded "
                     "interval, or one wider than the parameter's bounds): the predictions hardly change with "
                     "%s there, and the value written is where the fit stopped, often the start. Try more "
                     "starts (--starts), starts or bounds inside what the readings cover, or fix %s "
                     "(fit.json: not_determined)\n",
                     core::join(names, ", ").c_str(), names.size() == 1 ? "it" : "them",
                     names.size() == 1 ? "it" : "them");
      if (!o->validate.empty()) {
        const auto v = engine::validate_anchor(*scenario, problem, vo, dir);
        if (!o->quiet) {
          std::printf("out of sample (%d folds, %s left out):\n%s", v.folds, vo.by_group ? "groups" : "units",
                      v.summary.c_str());
          for (const auto& f : v.files) std::printf("  wrote %s\n", f.c_str());
        }
      }
      exit_code = kExitOk;
#ifdef PHYSYNTH_HAVE_VIZ
      if (o->report.requested)
        if (const int code = write_report_for(dir, o->report, o->quiet); code != kExitOk) exit_code = code;
#endif
    } catch (const std::exception& e) {
      std::cerr << "physynth anchor: error: " << e.what() << "\n";
      exit_code = exit_code_of(e, kExitRunFailed);
    }
  });
}

}  // namespace physynth::apps
