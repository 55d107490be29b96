// physynth active SCENARIO --target LABEL --budget N -o DIR: the closed loop (active/loop.h),
// side by side with uniform random and Sobol batches at the same budget; writes rounds.csv,
// samples.csv and active.json.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "physynth/active/loop.h"
#include "physynth/active/mix.h"
#include "physynth/core/diagnostics.h"
#include "physynth/core/text.h"
#include "physynth/engine/dataset.h"

namespace physynth::apps {

namespace {
struct ActiveCommandOptions {
  std::string scenario, output, target, model_command, real, mix;
  std::vector<double> ratios = {0, 1, 2, 4, 8, 16, 32};
  std::vector<std::string> covariates;
  std::vector<std::string> strategies = {"active", "random", "sobol"};
  std::vector<std::string> overrides;
  std::uint64_t budget = 600, test = 1000;
  int rounds = 6, members = 4, epochs = 300, threads = 0;
  double space_filling = 0.3;
  std::string score = "both";
  bool quiet = false, reweight = false;
};

// The real data's columns only where there is real data.
std::string rounds_csv(const std::vector<active::RoundReport>& rounds, bool real) {
  std::ostringstream out;
  out << "strategy,round,samples,rows,rmse,p95_abs_error,max_abs_error,disagreement,probe_rmse,train_seconds";
  out << (real ? ",real_rmse,real_p95_abs_error,real_max_abs_error,real_disagreement\n" : "\n");
  const auto n = [](double v) { return core::format_number(v); };
  for (const auto& r : rounds) {
    out << active::strategy_name(r.strategy) << ',' << r.round << ',' << r.samples << ',' << r.rows << ','
        << n(r.test.rmse) << ',' << n(r.test.p95) << ',' << n(r.test.max_error) << ',' << n(r.test.disagreement)
        << ',' << n(r.probe_rmse) << ',' << n(r.seconds);
    if (real)
      out << ',' << n(r.real.rmse) << ',' << n(r.real.p95) << ',' << n(r.real.max_error) << ','
          << n(r.real.disagreement);
    out << '\n';
  }
  return out.str();
}
// Prints an error of the loop or the mixes; its exit code: 2 for input that cannot be used
// (std::invalid_argument), else as exit_code_of says.
int failed(const std::exception& e) {
  std::cerr << "physynth active: error: " << e.what() << "\n";
  return dynamic_cast<const std::invalid_argument*>(&e) ? kExitBadInput : exit_code_of(e, kExitRunFailed);
}

nlohmann::ordered_json real_json(const active::RealDataSummary& r) {
  return {{"file", r.file},
          {"units", r.units},
          {"rows", r.rows},
          {"units_without_rows", r.units_without_rows},
          {"readings_read", r.direct},
          {"readings_interpolated", r.interpolated},
          {"readings_missing", r.missing},
          {"unused_observables", r.unused_observables}};
}

// --mix: the hybrid-mix curve (active/mix.h) into mix.csv and active.json; the exit code.
int run_mix(const engine::Scenario& s, const ActiveCommandOptions& o, const active::LoopOptions& loop,
            const anchor::RealData* train, const anchor::RealData* test, const std::string& dir,
            const std::function<void(const std::string&)>& progress) {
  active::MixOptions m;
  m.target = o.target;
  m.covariates = o.covariates;
  m.train = train;
  m.test = test;
  m.ratios = o.ratios;
  m.model = loop.model;
  m.model_command = o.model_command;
  m.threads = o.threads;
  try {
    const auto r = active::run_mix(s, m, progress);
    std::ostringstream csv;
    csv << "ratio,real_rows,synthetic_rows,rmse,p95_abs_error,max_abs_error,disagreement\n";
    const auto n = [](double v) { return core::format_number(v); };
    nlohmann::ordered_json points = nlohmann::ordered_json::array();
    for (const auto& p : r.points) {
      const std::string ratio = std::isfinite(p.ratio) ? n(p.ratio) : "synthetic_only";
      csv << ratio << ',' << p.real_rows << ',' << p.synthetic_rows << ',' << n(p.error.rmse) << ','
          << n(p.error.p95) << ',' << n(p.error.max_error) << ',' << n(p.error.disagreement) << '\n';
      points.push_back({{"ratio", ratio},
                        {"real_rows", p.real_rows},
                        {"synthetic_rows", p.synthetic_rows},
                        {"rmse", p.error.rmse},
                        {"max_abs_error", p.error.max_error}});
    }
    nlohmann::ordered_json summary;
    summary["scenario"] = s.file;
    summary["target"] = o.target;
    summary["seed"] = s.seed;
    summary["model"] = o.model_command.empty() ? "built-in MLP ensemble" : o.model_command;
    summary["covariates"] = o.covariates;
    summary["mix"] = {{"train", real_json(r.train)},
                      {"test", real_json(r.test)},
                      {"synthetic_samples", r.samples},
                      {"points", points}};
    engine::write_file_atomically(dir + "/mix.csv", csv.str());
    engine::write_file_atomically(dir + "/active.json", summary.dump(2) + "\n");
    if (!o.quiet) std::printf("  wrote %s/mix.csv, active.json\n", dir.c_str());
    return kExitOk;
  } catch (const std::exception& e) {
    return failed(e);
  }
}
}  // namespace

void add_active_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ActiveCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "active", "Generate where the downstream model errs (closed loop), beside random and Sobol batches");
  cmd->add_option("scenario", o->scenario, "Scenario YAML file")->required();
  cmd->add_option("--target,--task", o->target,
                  "The task: the label the model learns to predict from the observations (the feed's target, "
                  "remaining life, for windows)")
      ->required();
  cmd->add_option("--budget", o->budget, "Training samples per strategy (default 600)")->check(CLI::Range(4, 100000000));
  cmd->add_option("--rounds", o->rounds, "Rounds (default 6)")->check(CLI::Range(1, 1000));
  cmd->add_option("--test", o->test, "Prior samples the error is measured on (default 1000)")
      ->check(CLI::Range(10, 100000000));
  cmd->add_option("--space-filling", o->space_filling,
                  "Share of each active batch drawn from the prior (the probes; default 0.3)")
      ->check(CLI::Range(0.01, 0.99));
  cmd->add_option("--strategy", o->strategies, "active, random and/or sobol (default: all three)")
      ->check(CLI::IsMember({"active", "random", "sobol"}))
      ->delimiter(',');
  cmd->add_option("--score", o->score,
                  "What steers the next batch: both (a probe's error plus the ensemble's disagreement, default), error, "
                  "or disagreement")
      ->check(CLI::IsMember({"both", "error", "disagreement"}));
  cmd->add_flag("--reweight", o->reweight,
               "Train the active strategy's model on its samples re-weighted to the prior (resampled by prior_weight)");
  cmd->add_option("--members", o->members, "Ensemble members (default 4)")->check(CLI::Range(2, 64));
  cmd->add_option("--epochs", o->epochs, "Training epochs per round (default 300)")->check(CLI::Range(1, 100000));
  cmd->add_option("--model-cmd", o->model_command,
                  "Your own model instead of the built-in MLP ensemble: run as CMD FOLDER each round, reading "
                  "FOLDER/train.csv and query.csv and writing FOLDER/predictions.csv (active/README.md)");
  cmd->add_option("--real", o->real,
                  "Real data (tidy CSV: unit,time,observable,value,...) the model is scored on every round, never "
                  "trained on; the observable named as --target holds the target")
      ->check(CLI::ExistingFile);
  cmd->add_option("--mix", o->mix,
                  "Hybrid mixes instead of the loop: train on these real units (tidy CSV) plus synthetic rows at "
                  "--ratios, and on synthetic rows alone, scored on --real; writes mix.csv")
      ->check(CLI::ExistingFile);
  cmd->add_option("--ratios", o->ratios, "Synthetic rows per real row for --mix (default 0,1,2,4,8,16,32)")
      ->delimiter(',')
      ->check(CLI::Range(0.0, 1.0e6));
  cmd->add_option("--covariates", o->covariates,
                  "Known settings the model also sees: scenario parameters, from each sample's draw and each real "
                  "unit's covariate column (comma-separated)")
      ->delimiter(',');
  cmd->add_option("-o,--output", o->output, "Output directory (default: runs/<name>_active)");
  cmd->add_option("-j,--threads", o->threads, "Threads (default: every core)")->check(CLI::Range(0, 4096));
  cmd->add_option("--set", o->overrides, "Override a scenario value, KEY=VALUE");
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  cmd->callback([o, &exit_code] {
    auto scenario = load_scenario_or_report(o->scenario, o->overrides, "nothing was run", exit_code);
    if (!scenario) return;
    if (!o->mix.empty() && o->real.empty()) {
      std::cerr << "physynth active: error: --mix " << o->mix
                << " needs --real: the real units the mixes are scored on (never trained on)\n";
      exit_code = kExitBadInput;
      return;
    }
    std::optional<anchor::RealData> real, mix;
    core::Diagnostics diagnostics;
    if (!o->real.empty()) real = anchor::read_real_data(o->real, diagnostics);
    if (!o->mix.empty()) mix = anchor::read_real_data(o->mix, diagnostics);
    if (diagnostics.has_errors()) {
      std::cerr << diagnostics.report("nothing was run");
      exit_code = kExitBadInput;
      return;
    }
    const std::string dir = o->output.empty() ? "runs/" + scenario->name + "_active" : o->output;
    const auto folder = take_folder_or_report(dir, "active", true, exit_code);
    if (!folder) return;
    active::LoopOptions opt;
    opt.target = o->target;
    opt.budget = o->budget;
    opt.rounds = o->rounds;
    opt.test = o->test;
    opt.space_filling = o->space_filling;
    opt.threads = o->threads;
    opt.model.members = o->members;
    opt.model.epochs = o->epochs;
    opt.model_command = o->model_command;
    opt.covariates = o->covariates;
    opt.reweight = o->reweight;
    opt.real = real ? &*real : nullptr;
    opt.score = o->score == "error"          ? active::Score::kError
                : o->score == "disagreement" ? active::Score::kDisagreement
                                             : active::Score::kBoth;
    const auto progress = [o](const std::string& line) {
      if (!o->quiet) std::printf("  %s\n", line.c_str());
    };
    if (mix) {
      exit_code = run_mix(*scenario, *o, opt, &*mix, &*real, dir, progress);
      return;
    }
    std::vector<active::RoundReport> rounds;
    std::ostringstream samples;
    nlohmann::ordered_json summary;
    summary["scenario"] = scenario->file;
    summary["target"] = o->target;
    summary["budget"] = o->budget;
    summary["rounds"] = o->rounds;
    summary["test"] = o->test;
    summary["space_filling"] = o->space_filling;
    summary["score"] = o->score;
    summary["seed"] = scenario->seed;
    summary["model"] = o->model_command.empty() ? "built-in MLP ensemble" : o->model_command;
    summary["covariates"] = o->covariates;
    summary["reweight"] = o->reweight;
    samples << "strategy,round,origin,key";
    for (const auto& p : scenario->parameters)
      if (!p.distribution.is_fixed()) samples << ",u_" << p.name;
    samples << ",log_density,prior_weight,target,probe_score\n";
    try {
      for (const auto& name : o->strategies) {
        const active::Strategy st = name == "active"   ? active::Strategy::kActive
                                    : name == "random" ? active::Strategy::kRandom
                                                       : active::Strategy::kSobol;
        const auto r = active::run_loop(*scenario, st, opt, progress);
        rounds.insert(rounds.end(), r.rounds.begin(), r.rounds.end());
        for (const auto& smp : r.samples) {
          samples << name << ',' << smp.round << ',' << smp.origin << ',' << smp.key;
          for (double u : smp.unit) samples << ',' << core::format_number(u);
          samples << ',' << core::format_number(smp.log_density) << ',' << core::format_number(smp.prior_weight) << ','
                  << core::format_number(smp.target) << ',' << core::format_number(smp.score) << '\n';
        }
        const auto& last = r.rounds.back();
        auto& entry = summary["strategies"][name];
        entry = {{"final_rmse", last.test.rmse},
                 {"final_p95_abs_error", last.test.p95},
                 {"final_max_abs_error", last.test.max_error},
                 {"dropped_samples", r.dropped}};
        if (real) {
          entry["final_real_rmse"] = last.real.rmse;
          entry["final_real_p95_abs_error"] = last.real.p95;
          entry["final_real_max_abs_error"] = last.real.max_error;
          summary["real"] = real_json(r.real);
        }
      }
      engine::write_file_atomically(dir + "/rounds.csv", rounds_csv(rounds, real.has_value()));
      engine::write_file_atomically(dir + "/samples.csv", samples.str());
      engine::write_file_atomically(dir + "/active.json", summary.dump(2) + "\n");
      if (!o->quiet) std::printf("  wrote %s/rounds.csv, samples.csv, active.json\n", dir.c_str());
      exit_code = kExitOk;
    } catch (const std::exception& e) {
      exit_code = failed(e);
    }
  });
}

}  // namespace physynth::apps
