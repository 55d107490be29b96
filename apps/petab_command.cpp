// physynth petab PROBLEM.yaml --llh: a PEtab problem's log-likelihood at its nominal parameters,
// with tolerances the value can be trusted at (tightened until it stops moving); --calibrate -o
// DIR: its estimated parameters fitted (anchor/petab_calibration.h), the calibrated problem written.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>

#include "commands.h"
#include "physynth/anchor/petab_calibration.h"
#include "physynth/core/text.h"
#include "physynth/domains/kinetics/petab.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/output_folder.h"
#include "physynth/engine/petab_scenario.h"
#include "physynth/engine/run_folder.h"

namespace physynth::apps {

namespace {
struct PetabOptions {
  std::string problem;
  bool llh = false;
  bool calibrate = false, scenario = false, simulate = false;
  int points = 101;
  long max_steps = 100000;
  std::string jacobian = "exact";
  std::string output;
  int starts = 10, threads = 0;
  long work_budget = 0;  // integrator steps per start of --calibrate (0: none)
  std::uint64_t seed = 1;
  bool from_nominal = false;
  double rtol = 1e-8, atol = 1e-12;
  double llh_tolerance = 1e-4;           // |change| in log-likelihood under 100x tighter tolerances
  double llh_relative_tolerance = 1e-9;  // or |change| / |log-likelihood|, whichever allows more
  std::string units = "warn";
  std::string steady_state = "newton";  // newton (then simulation) or simulation
  std::string integrator = "auto";      // auto (Rodas5P up to 16 states, else CVODES), rosenbrock or bdf
  std::string linear_solver = "auto";   // CVODES': auto (KLU for a large sparse model), dense or klu
  std::string gradient;                 // with --llh: auto, forward or adjoint (empty: no gradient)
  std::string optimizer = "least-squares";  // --calibrate: least-squares or lbfgsb
  int max_iterations = 0;                   // per start of --calibrate (0: the optimiser's default)
};

domains::kinetics::GradientMethod gradient_method(const std::string& name) {
  using domains::kinetics::GradientMethod;
  return name == "adjoint" ? GradientMethod::kAdjoint : name == "forward" ? GradientMethod::kForward : GradientMethod::kAuto;
}

domains::kinetics::SbmlOptions sbml_options(const PetabOptions& o) {
  domains::kinetics::SbmlOptions sbml;
  sbml.units = o.units == "strict"   ? domains::kinetics::UnitPolicy::kStrict
               : o.units == "ignore" ? domains::kinetics::UnitPolicy::kIgnore
                                     : domains::kinetics::UnitPolicy::kWarn;
  return sbml;
}

std::unique_ptr<domains::kinetics::PetabProblem> read_problem(const PetabOptions& o) {
  core::Diagnostics diagnostics;
  auto problem = domains::kinetics::PetabProblem::read(o.problem, diagnostics, sbml_options(o));
  std::cerr << diagnostics.report(problem ? "" : "nothing was run");
  if (!problem) return nullptr;
  problem->set_newton_steady_states(o.steady_state == "newton");
  std::size_t estimated = 0;
  for (const auto& p : problem->parameters()) estimated += p.estimate;
  std::cout << o.problem << ": " << problem->model().num_states() << " states, " << problem->parameters().size()
            << " parameters (" << estimated << " estimated), " << problem->observables().size() << " observables, "
            << problem->conditions().size() << " conditions, " << problem->measurements().size() << " measurements\n";
  return problem;
}

// Rodas5P for a small dense system, as a scenario's solver.method auto picks it.
constexpr std::size_t kAutoRosenbrockStates = 16;

solvers::OdeOptions first_tolerances(const PetabOptions& o, const domains::kinetics::PetabProblem& problem) {
  solvers::OdeOptions ode;
  ode.rtol = o.rtol, ode.atol = o.atol;
  const bool rosenbrock = o.integrator == "rosenbrock" ||
                          (o.integrator == "auto" && problem.model().num_states() <= kAutoRosenbrockStates);
  ode.method = rosenbrock ? solvers::Method::kRosenbrock : solvers::Method::kBdf;
  if (!rosenbrock && o.linear_solver == "auto" ? solvers::sparse_pays(problem.model())
                                               : o.linear_solver == "klu")
    ode.linear_solver = solvers::LinearSolverKind::kKlu;
  ode.max_steps = 1000000;
  return ode;
}

// The log-likelihood at `values`, the tolerances tightened 100x until it moves by less than
// llh_tolerance or llh_relative_tolerance of its size, whichever is larger (at most 3 times): a likelihood is only as
// good as the solves under it. Prints each round, prefixed by `label`.
struct Settled {
  domains::kinetics::PetabEvaluation evaluation;
  bool converged = false;
  double rtol = 0.0, atol = 0.0, change = 0.0;
};
Settled settle(const domains::kinetics::PetabProblem& problem, const std::vector<double>& values, const PetabOptions& o,
               const std::string& label) {
  Settled s;
  solvers::OdeOptions ode = first_tolerances(o, problem);
  for (int round = 0; round < 4; ++round) {
    auto e = problem.evaluate(values, ode);
    if (e.failed) {
      std::cerr << o.problem << ": " << label << "the likelihood could not be computed at rtol " << ode.rtol
                << ", atol " << ode.atol << ": " << e.message << "\n";
      s.evaluation = std::move(e);
      return s;
    }
    std::cout << label << "rtol " << ode.rtol << ", atol " << ode.atol << ": log-likelihood " << e.log_likelihood;
    if (round > 0) {
      s.change = e.log_likelihood - s.evaluation.log_likelihood;
      std::cout << " (change " << s.change << ")";
    }
    std::cout << "\n";
    s.rtol = ode.rtol, s.atol = ode.atol;
    const double allowed = std::max(o.llh_tolerance, o.llh_relative_tolerance * std::fabs(e.log_likelihood));
    const bool settled = round > 0 && std::fabs(s.change) < allowed;
    s.evaluation = std::move(e);
    if (settled) {
      s.converged = true;
      break;
    }
    ode.rtol /= 100, ode.atol /= 100;
    if (ode.rtol < 1e-14) break;  // CVODES' floor: tighter is rounding
  }
  if (!s.converged)
    std::cerr << "warning: " << label << "the log-likelihood still moved by more than "
              << std::max(o.llh_tolerance, o.llh_relative_tolerance * std::fabs(s.evaluation.log_likelihood))
              << " (--llh-tolerance " << o.llh_tolerance << ", --llh-relative-tolerance " << o.llh_relative_tolerance
              << ") at the tightest tolerances tried; it is reported there and is uncertain at that level\n";
  return s;
}

int run_llh(const PetabOptions& o) {
  const auto problem = read_problem(o);
  if (!problem) return kExitBadInput;
  std::cout << std::setprecision(12);
  const Settled s = settle(*problem, problem->nominal_values(), o, "");
  if (s.evaluation.failed) return kExitRunFailed;
  if (const auto [newton, simulated] = problem->steady_states_found(); newton + simulated > 0)
    std::cout << "steady states: " << newton << " by Newton's method, " << simulated << " by simulation\n";
  std::cout << "chi2: " << s.evaluation.chi2 << "\n";
  if (!o.gradient.empty()) {
    solvers::OdeOptions ode = first_tolerances(o, *problem);
    ode.rtol = s.rtol, ode.atol = s.atol;
    const auto method = gradient_method(o.gradient);
    const auto t0 = std::chrono::steady_clock::now();
    const auto g = problem->log_likelihood_gradient(problem->nominal_values(), ode, method);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (g.failed) {
      std::cerr << o.problem << ": the gradient could not be computed: " << g.message << "\n";
      return kExitRunFailed;
    }
    std::cout << "gradient by " << g.method << " sensitivities (rtol " << ode.rtol << ", atol " << ode.atol << ", "
              << g.steps << " integrator steps, " << std::setprecision(3) << seconds << " s"
              << (g.why_forward.empty() ? "" : "; forward: " + g.why_forward) << std::setprecision(12)
              << "), d log-likelihood / d parameter on its linear scale:\n";
    for (std::size_t q = 0; q < g.gradient.size(); ++q)
      if (problem->parameters()[q].estimate)
        std::cout << "  " << problem->parameters()[q].id << ": " << g.gradient[q] << "\n";
  }
  if (problem->has_priors())
    std::cout << "log-prior: " << problem->log_prior(problem->nominal_values())
              << " (the objective priors of the parameter table; not in the log-likelihood)\n";
  std::cout << "log-likelihood: " << s.evaluation.log_likelihood << "\n";
  return s.converged ? kExitOk : kExitRunFailed;
}

// Each parameter table with the estimated rows' nominalValue set to the estimate; every other
// cell as the file has it.
std::string calibrated_table(const std::string& path, const std::map<std::string, double>& estimates) {
  std::ifstream in(path);
  std::ostringstream out;
  std::string line;
  int id_column = -1, nominal_column = -1;
  bool header = true;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto fields = core::split_fields(line, '\t');
    if (header) {
      if (!fields.empty() && fields[0].rfind("\xEF\xBB\xBF", 0) == 0) fields[0].erase(0, 3);
      for (std::size_t c = 0; c < fields.size(); ++c) {
        if (fields[c] == "parameterId") id_column = static_cast<int>(c);
        if (fields[c] == "nominalValue") nominal_column = static_cast<int>(c);
      }
      header = false;
    } else if (id_column >= 0 && nominal_column >= 0 && static_cast<std::size_t>(nominal_column) < fields.size()) {
      if (auto it = estimates.find(fields[static_cast<std::size_t>(id_column)]); it != estimates.end())
        fields[static_cast<std::size_t>(nominal_column)] = core::format_number(it->second);
    }
    out << core::join(fields, "\t") << "\n";
  }
  return out.str();
}

// What --calibrate and --simulate start with: -o DIR given, the problem read, DIR taken (what
// physynth wrote there before is replaced). On a problem, exit_code says why and problem is null.
struct FolderCommand {
  std::unique_ptr<domains::kinetics::PetabProblem> problem;
  std::shared_ptr<engine::OutputFolder> folder;
  int exit_code = kExitOk;
};
FolderCommand start_folder_command(const PetabOptions& o, const std::string& flag, const std::string& writes) {
  FolderCommand c;
  if (o.output.empty()) {
    std::cerr << "physynth petab: " << flag << " needs -o DIR (the folder for " << writes << ")\n";
    c.exit_code = kExitBadInput;
    return c;
  }
  c.problem = read_problem(o);
  if (!c.problem) {
    c.exit_code = kExitBadInput;
    return c;
  }
  c.folder = take_folder_or_report(o.output, "petab", true, c.exit_code);
  if (!c.folder) c.problem.reset();
  return c;
}

int run_calibrate(const PetabOptions& o) {
  const auto started = start_folder_command(o, "--calibrate", "fit.json, the calibrated problem and the report");
  if (!started.problem) return started.exit_code;
  const auto& problem = started.problem;
  anchor::PetabFitOptions fo;
  fo.fit.starts = o.starts;
  fo.fit.seed = o.seed;
  fo.fit.threads = o.threads;
  fo.fit.first_at_start = o.from_nominal;
  fo.fit.work_budget = o.work_budget;
  fo.ode = first_tolerances(o, *problem);
  // A start wandering where the model is stiff or blows up would spend a million steps per solve
  // there; a failed solve only shortens the optimiser's step.
  fo.ode.max_steps = o.max_steps;
  fo.central_differences = o.jacobian == "differences";
  fo.optimizer = o.optimizer == "lbfgsb" ? anchor::PetabOptimizer::kLbfgsb : anchor::PetabOptimizer::kLeastSquares;
  if (!o.gradient.empty()) fo.gradient = gradient_method(o.gradient);
  if (o.max_iterations > 0) fo.fit.max_iterations = fo.lbfgsb_iterations = o.max_iterations;
  std::cout << std::setprecision(12);
  std::cout << "calibrating from " << o.starts << " starts ("
            << (o.from_nominal ? "the first at the nominal values, " : "") << "a Sobol design over the bounds), rtol "
            << fo.ode.rtol << ", atol " << fo.ode.atol << "\n";
  const auto fit = anchor::calibrate_petab(*problem, fo);
  if (!fit.fit.success) {
    std::cerr << o.problem << ": calibration failed: " << fit.message << "\n";
    return kExitRunFailed;
  }
  std::cout << "optimizer: " << fit.optimizer << "\n"
            << (fit.optimizer.rfind("L-BFGS-B", 0) == 0 ? "gradients: " : "Jacobians: ") << fit.gradient << "\n";
  if (problem->has_priors())
    std::cout << "objective priors: log-prior " << fit.nominal_log_prior << " at the nominal values, " << fit.log_prior
              << " calibrated (the fit maximises log-likelihood + log-prior)\n";
  const Settled nominal = settle(*problem, problem->nominal_values(), o, "nominal values: ");
  const Settled best = settle(*problem, fit.values, o, "calibrated: ");
  if (best.evaluation.failed) return kExitRunFailed;
  int at_best = 0;
  for (double l : fit.start_objectives) at_best += l >= fit.objective - 0.1;
  const auto budget_spent = std::count_if(fit.fit.starts.begin(), fit.fit.starts.end(),
                                          [](const auto& st) { return st.budget_spent; });
  const std::string budget_note =
      budget_spent ? "; " + std::to_string(budget_spent) + " stopped at the work budget (--work-budget " +
                         std::to_string(o.work_budget) + ")"
                   : std::string();

  // fit.json
  const auto& parameters = problem->parameters();
  nlohmann::ordered_json j;
  j["problem"] = o.problem;
  j["method"] = "maximum likelihood, multi-start " +
                std::string(fit.optimizer.rfind("L-BFGS-B", 0) == 0 ? "L-BFGS-B" : "Levenberg-Marquardt (Ceres)") +
                " in the fitted space (ln for log and log10 parameters), noise parameters profiled in closed form; "
                "Laplace intervals";
  j["optimizer"] = fit.optimizer;
  j["jacobian"] = fit.gradient;
  j["tolerances"] = {{"fit", {{"rtol", fo.ode.rtol}, {"atol", fo.ode.atol}}},
                     {"reported", {{"rtol", best.rtol}, {"atol", best.atol}, {"settled", best.converged}}}};
  j["log_likelihood"] = {
      {"nominal", nominal.evaluation.failed ? nlohmann::ordered_json(nullptr)
                                            : nlohmann::ordered_json(nominal.evaluation.log_likelihood)},
      {"calibrated", best.evaluation.log_likelihood},
      {"chi2", best.evaluation.chi2}};
  if (problem->has_priors())
    j["log_prior"] = {
        {"nominal", fit.nominal_log_prior},
        {"calibrated", fit.log_prior},
        {"note", "the fit maximises log-likelihood + log-prior (the parameter table's objective priors)"}};
  const std::size_t D = fit.fitted.size();
  const double q = 1.959963984540054;  // normal 97.5 % quantile: 95 % intervals
  nlohmann::ordered_json estimates = nlohmann::ordered_json::array();
  std::map<std::string, double> by_id;
  for (const int index : fit.estimated) {
    const auto& p = parameters[static_cast<std::size_t>(index)];
    const double x = fit.values[static_cast<std::size_t>(index)];
    const bool log = p.scale != "lin";
    const auto at = std::find(fit.fitted.begin(), fit.fitted.end(), index);
    const auto i = static_cast<std::size_t>(at - fit.fitted.begin());
    const bool profiled = at == fit.fitted.end();
    const double se = profiled ? std::numeric_limits<double>::quiet_NaN() : std::sqrt(fit.fit.covariance[i * D + i]);
    const double fx = log ? std::log(x) : x;
    const auto back = [&](double v) { return log ? std::exp(v) : v; };
    by_id[p.id] = x;
    estimates.push_back(
        {{"id", p.id},
         {"scale", p.scale},
         {"estimate", x},
         {"nominal", p.nominal},
         {"lower_bound", p.lower},
         {"upper_bound", p.upper},
         {"profiled", profiled},
         {"se_fitted", std::isfinite(se) ? nlohmann::ordered_json(se) : nlohmann::ordered_json(nullptr)},
         {"interval_95", std::isfinite(se) ? nlohmann::ordered_json({back(fx - q * se), back(fx + q * se)})
                                           : nlohmann::ordered_json(nullptr)},
         {"at_bound", profiled ? (x <= p.lower || x >= p.upper) : static_cast<bool>(fit.fit.at_bound[i])}});
  }
  j["parameters"] = estimates;
  nlohmann::ordered_json starts = nlohmann::ordered_json::array();
  for (std::size_t s = 0; s < fit.fit.starts.size(); ++s) {
    const auto& st = fit.fit.starts[s];
    starts.push_back(
        {{"index", st.index},
         {"usable", st.usable},
         {"objective", std::isfinite(fit.start_objectives[s]) ? nlohmann::ordered_json(fit.start_objectives[s])
                                                              : nlohmann::ordered_json(nullptr)},
         {"iterations", st.iterations},
         {"integrator_steps", st.work},
         {"budget_spent", st.budget_spent},
         {"seconds", st.seconds},
         {"start", st.start},
         {"optimum", st.optimum},
         {"message", st.message}});
  }
  j["starts"] = starts;
  j["best_start"] = fit.fit.best_start;
  j["starts_at_best"] = at_best;
  j["seconds"] = fit.fit.seconds;

  try {
    const std::filesystem::path dir(o.output);
    engine::write_file_atomically((dir / "fit.json").string(), j.dump(2) + "\n");
    // The calibrated problem: the same tables but the parameter table(s), whose estimated rows
    // now hold the estimates as nominal values.
    const auto& files = problem->files();
    const auto rel = [&](const std::string& f) {
      return std::filesystem::relative(std::filesystem::absolute(f), std::filesystem::absolute(dir)).string();
    };
    std::ostringstream yaml;
    yaml << "# " << o.problem
         << " calibrated by physynth petab --calibrate (fit.json)\nformat_version: 1\nparameter_file:";
    std::size_t k = 0;
    for (const auto& f : files.at("parameter_file")) {
      const std::string name = "calibrated_" + std::to_string(++k) + "_" + std::filesystem::path(f).filename().string();
      engine::write_file_atomically((dir / name).string(), calibrated_table(f, by_id));
      yaml << "\n  - " << name;
    }
    yaml << "\nproblems:\n  -";
    bool first = true;
    for (const char* key : {"sbml_files", "condition_files", "measurement_files", "observable_files"}) {
      yaml << (first ? " " : "    ") << key << ":";
      for (const auto& f : files.at(key)) yaml << "\n      - " << rel(f);
      yaml << "\n";
      first = false;
    }
    engine::write_file_atomically((dir / "problem.yaml").string(), yaml.str());
    std::ostringstream md;
    md << std::setprecision(6) << "# Calibration of " << o.problem << "\n\n"
       << (problem->has_priors() ? "The fit maximises log-likelihood + log-prior (objective priors: " +
                                       std::to_string(fit.nominal_log_prior) + " nominal, " +
                                       std::to_string(fit.log_prior) + " calibrated). "
                                 : std::string())
       << "Log-likelihood: nominal "
       << (nominal.evaluation.failed ? std::string("(failed)") : std::to_string(nominal.evaluation.log_likelihood))
       << ", calibrated " << std::to_string(best.evaluation.log_likelihood) << " (rtol " << best.rtol << ", atol "
       << best.atol << (best.converged ? "" : "; not settled") << "). " << at_best << " of " << fit.fit.starts.size()
       << " starts within 0.1 of the best" << budget_note << "; " << std::setprecision(3) << fit.fit.seconds
       << " s.\n\nOptimiser: " << fit.optimizer << "; derivatives: " << fit.gradient << ".\n\n"
       << "| parameter | scale | nominal | estimate | 95 % interval | bounds |\n|---|---|---:|---:|---|---|\n";
    for (const auto& e : estimates) {
      md << "| " << e["id"].get<std::string>() << " | " << e["scale"].get<std::string>() << " | "
         << core::format_significant(e["nominal"].get<double>(), 6) << " | "
         << core::format_significant(e["estimate"].get<double>(), 6) << (e["at_bound"].get<bool>() ? " (at bound)" : "")
         << " | ";
      if (e["profiled"].get<bool>())
        md << "noise parameter, profiled";
      else if (e["interval_95"].is_null())
        md << "not determined";
      else
        md << core::format_significant(e["interval_95"][0].get<double>(), 4) << " – "
           << core::format_significant(e["interval_95"][1].get<double>(), 4);
      md << " | " << core::format_significant(e["lower_bound"].get<double>(), 4) << " – "
         << core::format_significant(e["upper_bound"].get<double>(), 4) << " |\n";
    }
    engine::write_file_atomically((dir / "report.md").string(), md.str());
  } catch (const std::exception& e) {
    std::cerr << "physynth petab: error: " << e.what() << "\n";
    return exit_code_of(e, kExitRunFailed);
  }
  std::cout << at_best << " of " << fit.fit.starts.size() << " starts reached the best log-likelihood (within 0.1)"
            << budget_note << "; "
            << std::setprecision(3) << fit.fit.seconds << " s\n"
            << "wrote fit.json, problem.yaml (the calibrated problem) and report.md to " << o.output << "\n"
            << std::setprecision(12) << "log-likelihood: " << best.evaluation.log_likelihood << "\n";
  return best.converged ? kExitOk : kExitRunFailed;
}
// The problem simulated at its nominal parameters, as a run folder (engine/run_folder.h): one
// unit per (preequilibration, simulation) condition pair the measurements name, in their order,
// with the model's states and every observable measured under it on a grid of `points` times
// from 0 to the last finite measurement time (NaN past the pair's own last one); each unit's
// log-likelihood and chi2 as labels; and PEtab's simulation table (simulatedData.tsv: every
// measurement row with its simulation and sigma). A pair whose simulation fails is a failed
// unit, named in the manifest; the others are written all the same.
int run_simulate(const PetabOptions& o) {
  const auto started = start_folder_command(o, "--simulate", "the run folder and simulatedData.tsv");
  if (!started.problem) return started.exit_code;
  const auto& problem = started.problem;
  const auto values = problem->nominal_values();
  const solvers::OdeOptions ode = first_tolerances(o, *problem);
  const auto& rows = problem->measurements();
  const auto& conditions = problem->conditions();
  const auto& observables = problem->observables();
  const auto& model = problem->model();
  const std::size_t n = model.num_states(), O = observables.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto id_of = [&](int c) { return c < 0 ? std::string() : conditions[static_cast<std::size_t>(c)].id; };

  const auto pairs = domains::kinetics::PetabProblem::condition_pairs(rows);
  std::vector<std::size_t> pair_of(rows.size());  // per measurement row: its pair
  std::vector<double> last(pairs.size(), 0.0);     // per pair: its last finite measurement time
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto& m = rows[k];
    pair_of[k] = static_cast<std::size_t>(
        std::find(pairs.begin(), pairs.end(), std::make_pair(m.preequilibration, m.condition)) - pairs.begin());
    if (std::isfinite(m.time)) last[pair_of[k]] = std::max(last[pair_of[k]], m.time);
  }
  const double end = *std::max_element(last.begin(), last.end());
  std::vector<double> grid;
  for (int i = 0; i < (end > 0.0 ? o.points : 1); ++i) grid.push_back(end * i / std::max(1, o.points - 1));

  engine::Shard shard;
  shard.samples = pairs.size();
  shard.times = grid;
  for (const auto& v : model.states()) shard.state_names.push_back(v.name), shard.state_units.push_back(v.units);
  for (const auto& v : model.parameters())
    shard.parameter_names.push_back(v.name), shard.parameter_units.push_back(v.units);
  shard.label_names = {"log_likelihood", "chi2"};
  shard.label_units = {"1", "1"};
  const std::size_t S = pairs.size(), T = grid.size();
  shard.states.assign(S * T * n, nan);
  shard.labels.assign(S * 2, nan);
  shard.status.assign(S, static_cast<std::int8_t>(engine::SampleStatus::kOk));
  shard.t_reached.assign(S, nan);
  shard.failure_flag.assign(S, "");
  shard.failure_message.assign(S, "");
  for (const auto& obs : observables) shard.observations.push_back({obs.id, "", grid, std::vector<double>(S * T, nan)});

  std::vector<double> simulation(rows.size(), nan), sigma(rows.size(), nan);
  double llh = 0.0, chi2 = 0.0;
  for (std::size_t s = 0; s < S; ++s) {
    const auto [pre, cond] = pairs[s];
    const auto p = problem->model_parameters(values, static_cast<std::size_t>(cond));
    shard.parameters.insert(shard.parameters.end(), p.begin(), p.end());
    // Its measurement rows: their simulations and the unit's likelihood.
    std::vector<domains::kinetics::PetabMeasurement> own, on_grid;
    std::vector<std::size_t> index;
    for (std::size_t k = 0; k < rows.size(); ++k)
      if (pair_of[k] == s) own.push_back(rows[k]), index.push_back(k);
    const auto e = problem->evaluate(values, ode, false, &own);
    // Its curves: each observable it measures, from that observable's first row (its
    // observable and noise parameters), at the grid times up to its last measurement.
    std::vector<std::pair<std::size_t, std::size_t>> where;  // (observable, grid index) per grid row
    for (std::size_t q = 0; q < O; ++q) {
      const auto first = std::find_if(own.begin(), own.end(), [&](const auto& m) { return m.observable == static_cast<int>(q); });
      if (first == own.end()) continue;
      for (std::size_t i = 0; i < T && grid[i] <= last[s]; ++i) {
        auto g = *first;
        g.time = grid[i];
        g.value = 1.0;  // scored, not used
        on_grid.push_back(g);
        where.emplace_back(q, i);
      }
    }
    std::vector<double> states;
    const auto t = problem->evaluate(values, ode, false, &on_grid, &states);
    const bool grid_ok = std::none_of(t.simulations.begin(), t.simulations.end(), [](double v) { return std::isnan(v); });
    const bool rows_ok = std::none_of(e.simulations.begin(), e.simulations.end(), [](double v) { return std::isnan(v); });
    for (std::size_t k = 0; k < own.size(); ++k) simulation[index[k]] = e.simulations[k], sigma[index[k]] = e.sigmas[k];
    if (!grid_ok || !rows_ok) {
      shard.status[s] = static_cast<std::int8_t>(engine::SampleStatus::kFailed);
      shard.failure_flag[s] = "simulation_failed";
      shard.failure_message[s] = !rows_ok ? e.message : t.message;
      std::cerr << o.problem << ": condition '" << id_of(cond)
                << (pre < 0 ? std::string("'") : "' after preequilibration '" + id_of(pre) + "'")
                << ": the simulation failed: " << shard.failure_message[s] << "\n";
      continue;
    }
    shard.t_reached[s] = last[s];
    shard.labels[s * 2] = e.log_likelihood, shard.labels[s * 2 + 1] = e.chi2;
    llh += e.log_likelihood, chi2 += e.chi2;
    for (std::size_t r = 0; r < on_grid.size(); ++r) {
      const auto [q, i] = where[r];
      shard.observations[q].values[s * T + i] = t.simulations[r];
      std::copy(&states[r * n], &states[r * n] + n, &shard.states[(s * T + i) * n]);
    }
  }

  std::ostringstream table;
  const auto f = [](double v) { return core::format_number(v); };  // shortest text that reads back exactly
  table << "observableId\tpreequilibrationConditionId\tsimulationConditionId\ttime\tmeasurement\tsimulation\tsigma\n";
  for (std::size_t k = 0; k < rows.size(); ++k)
    table << observables[static_cast<std::size_t>(rows[k].observable)].id << "\t" << id_of(rows[k].preequilibration)
          << "\t" << id_of(rows[k].condition) << "\t" << f(rows[k].time) << "\t" << f(rows[k].value) << "\t"
          << f(simulation[k]) << "\t" << f(sigma[k]) << "\n";
  const std::size_t failed = static_cast<std::size_t>(std::count(
      shard.status.begin(), shard.status.end(), static_cast<std::int8_t>(engine::SampleStatus::kFailed)));

  engine::RunFolderSource source;
  source.file = o.problem;
  const auto& sbml_files = problem->files().at("sbml_files");
  source.resolved = {
      {"name", std::filesystem::path(o.problem).stem().string()},
      {"description", "PEtab problem " + o.problem +
                          " simulated at its nominal parameters (physynth petab --simulate): one unit per "
                          "(preequilibration, simulation) condition pair of its measurements"},
      {"domain", "kinetics"},
      {"model", {{"sbml", std::filesystem::absolute(sbml_files.front()).string()}, {"units", o.units}}},
      {"time", {{"start", 0.0}, {"end", end}, {"points", T}}},
      {"solver",
       {{"method", ode.method == solvers::Method::kRosenbrock ? "rosenbrock" : "bdf"},
        {"rtol", ode.rtol},
        {"atol", ode.atol}}}};
  nlohmann::json units = nlohmann::json::array();
  for (std::size_t s = 0; s < S; ++s)
    units.push_back({{"unit", s},
                     {"preequilibration", id_of(pairs[s].first)},
                     {"simulation", id_of(pairs[s].second)},
                     {"last_measurement_time", last[s]}});
  source.extra = {{"petab",
                   {{"problem", o.problem},
                    {"units", units},
                    {"log_likelihood", failed ? nlohmann::json(nullptr) : nlohmann::json(llh)},
                    {"chi2", failed ? nlohmann::json(nullptr) : nlohmann::json(chi2)},
                    {"simulation_table", "simulatedData.tsv"}}}};
  try {
    const std::filesystem::path dir(o.output);
    engine::write_file_atomically((dir / "simulatedData.tsv").string(), table.str());
    engine::write_run_folder(o.output, shard, source);
  } catch (const std::exception& ex) {
    std::cerr << "physynth petab: error: " << ex.what() << "\n";
    return exit_code_of(ex, kExitRunFailed);
  }
  std::cout << "wrote a run folder to " << o.output << ": " << S << " units (one per condition pair; " << failed
            << " failed), " << O << " observables and " << n << " states on " << T
            << " times (manifest.json, shard-000000.h5 and CSV files), and simulatedData.tsv (" << rows.size()
            << " rows)\n";
  // As `physynth run`: failed units are recorded and the rest kept; only a folder of nothing
  // but failures is a failed run. The likelihood needs every unit.
  if (failed) {
    std::cerr << "warning: " << failed << " of " << S
              << " condition pairs failed (manifest.json lists them); the log-likelihood is not computed\n";
    return failed == S ? kExitRunFailed : kExitOk;
  }
  std::cout << std::setprecision(12) << "log-likelihood: " << llh << "\n";
  return kExitOk;
}

// The problem as a scenario (engine/petab_scenario.h): FILE.yaml and FILE_data.csv beside it.
int run_scenario(const PetabOptions& o) {
  if (o.output.empty() || std::filesystem::path(o.output).extension() != ".yaml") {
    std::cerr << "physynth petab: --scenario needs -o FILE.yaml (the scenario; its data goes beside it as "
                 "FILE_data.csv)\n";
    return kExitBadInput;
  }
  const auto problem = read_problem(o);
  if (!problem) return kExitBadInput;
  const std::filesystem::path yaml(o.output);
  const std::string data_name = yaml.stem().string() + "_data.csv";
  core::Diagnostics diagnostics;
  const auto scenario = engine::petab_to_scenario(*problem, o.problem, o.output, data_name, diagnostics);
  std::cerr << diagnostics.report(scenario ? "" : "no scenario was written");
  if (!scenario) return kExitBadInput;
  int exit_code = kExitOk;
  const std::string folder = yaml.parent_path().empty() ? "." : yaml.parent_path().string();
  std::shared_ptr<engine::OutputFolder> held;
  try {
    held = engine::OutputFolder::take(folder, "petab", true);
    // Both files or neither: a user's file under either name refuses the pair before anything is written.
    for (const auto& name : {yaml.filename().string(), data_name})
      if (std::filesystem::exists(std::filesystem::path(folder) / name) && !held->lists(name)) {
        std::cerr << "physynth petab: error: " << (std::filesystem::path(folder) / name).string()
                  << " exists and physynth did not write it; move it away or choose another -o\n";
        return kExitBadInput;
      }
    engine::write_file_atomically((yaml.parent_path() / data_name).string(), scenario->csv);
    engine::write_file_atomically(o.output, scenario->yaml);
  } catch (const std::exception& e) {
    std::cerr << "physynth petab: error: " << e.what() << "\n";
    return exit_code_of(e, kExitRunFailed);
  }
  std::cout << "wrote " << o.output << " and " << (yaml.parent_path() / data_name).string() << "; try: physynth anchor "
            << o.output << " -o DIR\n";
  return exit_code;
}

}  // namespace

void add_petab_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<PetabOptions>();
  CLI::App* cmd = app.add_subcommand("petab", "Work with a PEtab parameter-estimation problem (PEtab v1)");
  cmd->add_option("problem", o->problem, "The PEtab problem YAML file")->required();
  cmd->add_flag("--llh", o->llh,
                "Print the log-likelihood (and chi2) at the nominal parameters; the last line is "
                "'log-likelihood: VALUE'");
  cmd->add_option("--gradient", o->gradient,
                  "With --llh, also the log-likelihood's gradient by every estimated parameter; with --calibrate "
                  "--optimizer lbfgsb, L-BFGS-B's gradient: forward "
                  "(sensitivities), adjoint (one backward solve per condition, whatever the parameter count; forward "
                  "where a condition is switched at given times or measured at steady state after a "
                  "preequilibration) or auto "
                  "(the adjoint wherever it applies: the cheaper on 15 of 19 benchmark problems)")
      ->check(CLI::IsMember({"auto", "forward", "adjoint"}));
  cmd->add_option("--rtol", o->rtol, "First relative tolerance of the solves (tightened 100x until the value settles)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--atol", o->atol, "First absolute tolerance of the solves")->check(CLI::PositiveNumber);
  cmd->add_option("--llh-tolerance", o->llh_tolerance,
                  "How little the log-likelihood must move when the tolerances tighten 100x (default 1e-4)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--llh-relative-tolerance", o->llh_relative_tolerance,
                  "Or how little relative to the log-likelihood's size, whichever allows more (default 1e-9: a "
                  "likelihood of -9.6e6 settles to 0.0096)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--calibrate", o->calibrate,
                "Fit the estimated parameters (maximum likelihood within their bounds, multi-start) and write "
                "fit.json, the calibrated problem (problem.yaml) and report.md to -o DIR");
  cmd->add_flag("--simulate", o->simulate,
                "Simulate at the nominal parameters: -o DIR becomes a run folder (one unit per condition, its states "
                "and observables on a grid; for report and audit) with simulatedData.tsv (every measurement row with "
                "its simulation and sigma)");
  cmd->add_option("--points", o->points, "Grid points of --simulate, from 0 to the last measurement time (default 101)")
      ->check(CLI::Range(2, 100000));
  cmd->add_flag("--scenario", o->scenario,
                "Write the problem as a physynth scenario, -o FILE.yaml, with its measurements as tidy data beside it "
                "(FILE_data.csv), for run, anchor, audit, collapse, train-pinn and report");
  cmd->add_option("-o,--output", o->output,
                  "Output folder of --calibrate and --simulate; the scenario file of --scenario");
  cmd->add_option("--starts", o->starts, "Starts of --calibrate: a Sobol design over the bounds (default 10)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "Digital shift of the Sobol starts (default 1)");
  cmd->add_option("--jacobian", o->jacobian,
                  "Jacobians of --calibrate: exact (forward sensitivities; default) or differences (central; "
                  "cheaper where a problem has many observations per state and parameter: bench/petab_bench)")
      ->check(CLI::IsMember({"exact", "differences"}));
  cmd->add_option("--optimizer", o->optimizer,
                  "Optimiser of --calibrate: least-squares (Levenberg-Marquardt on the residuals' Jacobians, one "
                  "forward sensitivity vector per parameter; the default) or lbfgsb (L-BFGS-B on the "
                  "log-likelihood's gradient, --gradient: with the adjoint, one backward solve per condition "
                  "whatever the parameter count; more iterations)")
      ->check(CLI::IsMember({"least-squares", "lbfgsb"}));
  cmd->add_option("--max-iterations", o->max_iterations,
                  "Iterations per start of --calibrate (default: 200 for least squares, 1000 for L-BFGS-B); a start "
                  "that reaches them keeps where it is and fit.json says so")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-steps", o->max_steps,
                  "CVODES steps per solve inside --calibrate (default 100000; a solve that needs more fails and "
                  "the optimiser takes a shorter step)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--from-nominal", o->from_nominal, "Make the first start the table's nominal values");
  cmd->add_option("--work-budget", o->work_budget,
                  "Integrator steps each start of --calibrate may take over all its solves; a start that spends "
                  "them stops where it is (fit.json says so). Deterministic, unlike a time limit (default 0: none)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-j,--threads", o->threads, "Threads for the starts (default: every core)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--integrator", o->integrator,
                  "The solves' integrator: auto (Rodas5P up to 16 states, CVODES BDF above; the default), "
                  "rosenbrock or bdf")
      ->check(CLI::IsMember({"auto", "rosenbrock", "bdf"}));
  cmd->add_option("--linear-solver", o->linear_solver,
                  "CVODES' linear solver: auto (sparse KLU for a model of 100 states or more whose Jacobian is at "
                  "most a fifth full, else dense; the default), dense or klu")
      ->check(CLI::IsMember({"auto", "dense", "klu"}));
  cmd->add_option("--steady-state", o->steady_state,
                  "How preequilibrations and measurements at time inf find their steady state: newton (Newton's "
                  "method, simulation where it fails or the model reads time; the default) or simulation (alone: "
                  "for a multistable model, where which steady state a simulation reaches matters)")
      ->check(CLI::IsMember({"newton", "simulation"}));
  cmd->add_option("--units", o->units,
                  "The SBML unit policy: strict (every unit finding of libSBML an error), warn (libSBML's own "
                  "severity; default) or ignore")
      ->check(CLI::IsMember({"strict", "warn", "ignore"}));
  cmd->callback([o, &exit_code] {
    if (o->llh + o->calibrate + o->scenario + o->simulate != 1) {
      std::cerr << "physynth petab: say what to do, one of --llh, --calibrate, --simulate or --scenario\n";
      exit_code = kExitBadInput;
      return;
    }
    if (!o->gradient.empty() && !o->llh && !(o->calibrate && o->optimizer == "lbfgsb")) {
      std::cerr << "physynth petab: --gradient goes with --llh, or with --calibrate --optimizer lbfgsb (least "
                   "squares computes Jacobians: --jacobian)\n";
      exit_code = kExitBadInput;
      return;
    }
    if (o->calibrate && o->optimizer == "lbfgsb" && o->jacobian == "differences") {
      std::cerr << "physynth petab: --jacobian differences is least squares'; --optimizer lbfgsb takes the "
                   "log-likelihood's gradient (--gradient auto, forward or adjoint)\n";
      exit_code = kExitBadInput;
      return;
    }
    exit_code = o->llh         ? run_llh(*o)
                : o->calibrate ? run_calibrate(*o)
                : o->simulate  ? run_simulate(*o)
                               : run_scenario(*o);
  });
}

}  // namespace physynth::apps
