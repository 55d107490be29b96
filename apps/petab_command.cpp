// physynth petab PROBLEM.yaml --llh: a PEtab problem's log-likelihood at its nominal parameters,
// with tolerances the value can be trusted at (tightened until it stops moving).
#include <CLI/CLI.hpp>

#include <cmath>
#include <iomanip>
#include <iostream>

#include "commands.h"
#include "physynth/domains/kinetics/petab.h"

namespace physynth::apps {

namespace {
struct PetabOptions {
  std::string problem;
  bool llh = false;
  double rtol = 1e-8, atol = 1e-12;
  double llh_tolerance = 1e-4;  // |change| in log-likelihood under 100x tighter tolerances
  std::string units = "warn";
};

int run_llh(const PetabOptions& o) {
  core::Diagnostics diagnostics;
  domains::kinetics::SbmlOptions sbml;
  sbml.units = o.units == "strict" ? domains::kinetics::UnitPolicy::kStrict
               : o.units == "ignore" ? domains::kinetics::UnitPolicy::kIgnore
                                     : domains::kinetics::UnitPolicy::kWarn;
  auto problem = domains::kinetics::PetabProblem::read(o.problem, diagnostics, sbml);
  std::cerr << diagnostics.report(problem ? "" : "nothing was run");
  if (!problem) return kExitBadInput;
  std::size_t estimated = 0;
  for (const auto& p : problem->parameters()) estimated += p.estimate;
  std::cout << o.problem << ": " << problem->model().num_states() << " states, " << problem->parameters().size()
            << " parameters (" << estimated << " estimated), " << problem->observables().size() << " observables, "
            << problem->conditions().size() << " conditions, " << problem->measurements().size() << " measurements\n";
  const auto values = problem->nominal_values();
  solvers::OdeOptions ode;
  ode.rtol = o.rtol, ode.atol = o.atol;
  ode.max_steps = 1000000;
  // Tighten 100x until the log-likelihood moves by less than llh_tolerance (at most 3 times): a
  // likelihood is only as good as the solves under it.
  domains::kinetics::PetabEvaluation last;
  bool converged = false;
  std::cout << std::setprecision(12);
  for (int round = 0; round < 4; ++round) {
    const auto e = problem->evaluate(values, ode);
    if (e.failed) {
      std::cerr << o.problem << ": the likelihood could not be computed at rtol " << ode.rtol << ", atol " << ode.atol
                << ": " << e.message << "\n";
      return kExitRunFailed;
    }
    std::cout << "rtol " << ode.rtol << ", atol " << ode.atol << ": log-likelihood " << e.log_likelihood;
    if (round > 0) std::cout << " (change " << e.log_likelihood - last.log_likelihood << ")";
    std::cout << "\n";
    if (round > 0 && std::fabs(e.log_likelihood - last.log_likelihood) < o.llh_tolerance) {
      converged = true;
      last = e;
      break;
    }
    last = e;
    ode.rtol /= 100, ode.atol /= 100;
    if (ode.rtol < 1e-14) break;  // CVODES' floor: tighter is rounding
  }
  if (!converged)
    std::cerr << "warning: the log-likelihood still moved by more than " << o.llh_tolerance
              << " at the tightest tolerances tried; it is reported there and is uncertain at that level\n";
  std::cout << "chi2: " << last.chi2 << "\n";
  std::cout << "log-likelihood: " << last.log_likelihood << "\n";
  return converged ? kExitOk : kExitRunFailed;
}
}  // namespace

void add_petab_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<PetabOptions>();
  CLI::App* cmd = app.add_subcommand("petab", "Work with a PEtab parameter-estimation problem (PEtab v1)");
  cmd->add_option("problem", o->problem, "The PEtab problem YAML file")->required();
  cmd->add_flag("--llh", o->llh,
                "Print the log-likelihood (and chi2) at the nominal parameters; the last line is "
                "'log-likelihood: VALUE'");
  cmd->add_option("--rtol", o->rtol, "First relative tolerance of the solves (tightened 100x until the value settles)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--atol", o->atol, "First absolute tolerance of the solves")->check(CLI::PositiveNumber);
  cmd->add_option("--llh-tolerance", o->llh_tolerance,
                  "How little the log-likelihood must move when the tolerances tighten 100x (default 1e-4)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--units", o->units,
                  "The SBML unit policy: strict (every unit finding of libSBML an error), warn (libSBML's own "
                  "severity; default) or ignore")
      ->check(CLI::IsMember({"strict", "warn", "ignore"}));
  cmd->callback([o, &exit_code] {
    if (!o->llh) {
      std::cerr << "physynth petab: say what to do: --llh (--simulate, --calibrate and --scenario are not built "
                   "yet)\n";
      exit_code = kExitBadInput;
      return;
    }
    exit_code = run_llh(*o);
  });
}

}  // namespace physynth::apps
