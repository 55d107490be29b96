// PEtab calibration (anchor/petab_calibration.h) on hand-made problems with closed-form answers:
// the A <-> B model of tests/fixtures/petab/preequilibration, no preequilibration, k1 = 3 fixed,
// so that B(t) = 3 / (3 + k2) (1 - e^(-(3 + k2) t)).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "physynth/anchor/petab_calibration.h"

using namespace physynth;

namespace {
double b_of(double k2, double t) { return 3.0 / (3.0 + k2) * (1.0 - std::exp(-(3.0 + k2) * t)); }

// Writes the problem into `dir`: measurements of B at `times`, each the closed form at k2 = 1.4
// plus `offsets`; noise `distribution` with the estimated sigma sd_B (log10 scale).
std::string write_problem(const std::string& name, const std::vector<double>& times,
                          const std::vector<double>& offsets, const std::string& distribution, bool estimate_sigma) {
  const auto dir = std::filesystem::path(PHYSYNTH_TEST_OUTPUT) / name;
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration/model.xml",
                             dir / "model.xml", std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir / "problem.yaml") << "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n"
                                         "- condition_files: [conditions.tsv]\n  measurement_files: [measurements.tsv]\n"
                                         "  observable_files: [observables.tsv]\n  sbml_files: [model.xml]\n";
  std::ofstream(dir / "conditions.tsv") << "conditionId\tk1\nc\t3\n";
  std::ofstream(dir / "observables.tsv") << "observableId\tobservableFormula\tnoiseFormula\tnoiseDistribution\n"
                                         << "obs_B\tB\tsd_B\t" << distribution << "\n";
  std::ofstream(dir / "parameters.tsv")
      << "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
      << "k2\tlog10\t0.01\t100\t1\t1\n"
      << "sd_B\tlog10\t1e-4\t10\t0.05\t" << (estimate_sigma ? 1 : 0) << "\n";
  std::ofstream m(dir / "measurements.tsv");
  m << "observableId\tsimulationConditionId\tmeasurement\ttime\n";
  m.precision(17);
  for (std::size_t i = 0; i < times.size(); ++i) m << "obs_B\tc\t" << b_of(1.4, times[i]) + offsets[i] << "\t" << times[i] << "\n";
  return (dir / "problem.yaml").string();
}

anchor::PetabFitOptions options() {
  anchor::PetabFitOptions o;
  o.fit.starts = 4;
  o.fit.first_at_start = false;  // Sobol starts only: the nominal k2 = 1 is not the answer
  o.fit.seed = 3;
  o.ode.rtol = 1e-10;
  o.ode.atol = 1e-12;
  return o;
}
}  // namespace

TEST_CASE("PEtab calibration: exact data give back k2, and sigma's estimate is the residuals' closed form") {
  const std::vector<double> times = {0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0};
  const auto optimizer = GENERATE(anchor::PetabOptimizer::kLeastSquares, anchor::PetabOptimizer::kLbfgsb);
  const auto options = [optimizer] {
    auto o = ::options();
    o.optimizer = optimizer;
    return o;
  };
  INFO((optimizer == anchor::PetabOptimizer::kLbfgsb ? "L-BFGS-B" : "least squares"));
  SECTION("exact data, sigma fixed: k2 = 1.4") {
    core::Diagnostics d;
    auto problem = domains::kinetics::PetabProblem::read(
        write_problem("petab_fit_exact", times, std::vector<double>(times.size(), 0.0), "normal", false), d);
    INFO(d.report());
    REQUIRE(problem);
    const auto fit = anchor::calibrate_petab(*problem, options());
    REQUIRE(fit.fit.success);
    CHECK_THAT(fit.optimizer, Catch::StartsWith(optimizer == anchor::PetabOptimizer::kLbfgsb ? "L-BFGS-B"
                                                                                             : "least squares"));
    CHECK(fit.values[0] == Approx(1.4).epsilon(1e-6));
    for (double l : fit.start_objectives) CHECK(l == Approx(fit.log_likelihood).margin(1e-6));
    // The likelihood at the optimum: every residual 0, sigma 0.05.
    CHECK(fit.log_likelihood == Approx(-0.5 * 8 * std::log(2 * M_PI * 0.05 * 0.05)).margin(1e-6));
  }
  // With noise and sigma estimated, the maximum over sigma is closed-form given the fitted curve:
  // normal sigma^2 = mean r^2, Laplace sigma = mean |r|, r = data - B(t; k2 estimated).
  const std::vector<double> offsets = {0.013, -0.021, 0.008, 0.017, -0.011, -0.004, 0.019, -0.015};
  for (const std::string distribution : {"normal", "laplace"}) {
    DYNAMIC_SECTION("noisy data, sigma estimated, " << distribution) {
      core::Diagnostics d;
      auto problem = domains::kinetics::PetabProblem::read(
          write_problem("petab_fit_" + distribution, times, offsets, distribution, true), d);
      REQUIRE(problem);
      const auto fit = anchor::calibrate_petab(*problem, options());
      REQUIRE(fit.fit.success);
      const double k2 = fit.values[0], sigma = fit.values[1];
      CHECK(std::fabs(k2 - 1.4) < 0.1);
      double s2 = 0.0, s1 = 0.0;
      for (std::size_t i = 0; i < times.size(); ++i) {
        const double r = b_of(1.4, times[i]) + offsets[i] - b_of(k2, times[i]);
        s2 += r * r / times.size();
        s1 += std::fabs(r) / times.size();
      }
      // Laplace's residual sqrt(2 |r|) has a kink where a residual crosses 0, which Levenberg-
      // Marquardt on central differences resolves less sharply (3.6e-4 measured), and L-BFGS-B's
      // line search (on |r| itself) no better.
      if (distribution == "normal")
        CHECK(sigma == Approx(std::sqrt(s2)).epsilon(1e-5));
      else
        CHECK(sigma == Approx(s1).epsilon(1e-3));
      // And k2 is where the log-likelihood is largest: a step either way lowers it.
      auto values = fit.values;
      for (const double step : {-1e-3, 1e-3}) {
        values[0] = k2 * (1 + step);
        CHECK(problem->evaluate(values, options().ode).log_likelihood < fit.log_likelihood);
      }
      CHECK(fit.log_likelihood > fit.nominal_log_likelihood);
    }
  }
}

TEST_CASE("PEtab calibration: objective priors join the objective, with their closed-form maxima") {
  // Exact data for k2 (so the likelihood's maximum is k2 = 1.4) and three parameters no
  // simulation uses: their posterior maxima are their priors' modes, normal 0.5, logNormal
  // exp(mu - sigma^2) = 2 e^-0.25, parameterScaleNormal on log10: 3.
  const std::vector<double> times = {0.05, 0.1, 0.2, 0.5, 1.0, 2.0};
  const std::string path = write_problem("petab_fit_priors", times, std::vector<double>(times.size(), 0.0), "normal", false);
  const auto dir = std::filesystem::path(path).parent_path();
  std::ofstream table(dir / "parameters.tsv");
  table.precision(17);
  table << "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\tobjectivePriorType\t"
           "objectivePriorParameters\n"
        << "k2\tlog10\t0.01\t100\t1\t1\t\t\n"
        << "sd_B\tlog10\t1e-4\t10\t0.05\t0\t\t\n"
        << "u_normal\tlin\t-5\t5\t0\t1\tnormal\t0.5;0.2\n"
        << "u_lognormal\tlog\t0.01\t100\t1\t1\tlogNormal\t" << std::log(2.0) << ";0.5\n"
        << "u_scale\tlog10\t0.01\t100\t1\t1\tparameterScaleNormal\t" << std::log10(3.0) << ";0.2\n";
  table.close();
  core::Diagnostics d;
  auto problem = domains::kinetics::PetabProblem::read(path, d);
  INFO(d.report());
  REQUIRE(problem);
  REQUIRE(problem->has_priors());
  // The log-prior at the nominal values (0, 1, 1), by hand.
  const double lp = -0.5 * std::log(2 * M_PI * 0.04) - 0.5 * 0.25 / 0.04                          // normal at 0
                    - 0.5 * std::log(2 * M_PI * 0.25) - 0.5 * std::pow(std::log(2.0), 2) / 0.25 - 0.0  // logNormal at 1
                    - 0.5 * std::log(2 * M_PI * 0.04) - 0.5 * std::pow(std::log10(3.0), 2) / 0.04;     // on log10 at 1
  CHECK(problem->log_prior(problem->nominal_values()) == Approx(lp).epsilon(1e-12));
  for (const auto optimizer : {anchor::PetabOptimizer::kLeastSquares, anchor::PetabOptimizer::kLbfgsb}) {
    auto o = options();
    o.optimizer = optimizer;
    const auto fit = anchor::calibrate_petab(*problem, o);
    INFO(fit.optimizer);
    REQUIRE(fit.fit.success);
    CHECK(fit.values[0] == Approx(1.4).epsilon(1e-6));
    CHECK(fit.values[2] == Approx(0.5).epsilon(1e-6));
    CHECK(fit.values[3] == Approx(2.0 * std::exp(-0.25)).epsilon(1e-6));
    CHECK(fit.values[4] == Approx(3.0).epsilon(1e-6));
    CHECK(fit.objective == Approx(fit.log_likelihood + fit.log_prior).epsilon(1e-12));
    CHECK(fit.log_prior == Approx(problem->log_prior(fit.values)).epsilon(1e-12));
  }

  // A prior type PEtab does not define is named where it is.
  std::ofstream(dir / "parameters.tsv")
      << "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\tobjectivePriorType\t"
         "objectivePriorParameters\n"
      << "k2\tlog10\t0.01\t100\t1\t1\tgauss\t1;1\n"
      << "sd_B\tlog10\t1e-4\t10\t0.05\t0\tnormal\t1\n";
  core::Diagnostics bad;
  CHECK_FALSE(domains::kinetics::PetabProblem::read(path, bad));
  CHECK_THAT(bad.report(), Catch::Contains("parameters.tsv:2:7: error: objectivePriorType of 'k2' must be one of"));
  CHECK_THAT(bad.report(), Catch::Contains("parameters.tsv:3:8: error: objectivePriorParameters of 'sd_B' must be two numbers"));
}

TEST_CASE("PEtab calibration: a work budget stops each start where it is, the same on every run, evaluations "
          "count their integrator steps") {
  const std::vector<double> times = {0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0};
  core::Diagnostics d;
  auto problem = domains::kinetics::PetabProblem::read(
      write_problem("petab_fit_budget", times, std::vector<double>(times.size(), 0.0), "normal", false), d);
  INFO(d.report());
  REQUIRE(problem);
  solvers::OdeOptions ode = options().ode;
  const auto e = problem->evaluate(problem->nominal_values(), ode);
  REQUIRE_FALSE(e.failed);
  CHECK(e.steps > 0);
  CHECK(problem->evaluate(problem->nominal_values(), ode).steps == e.steps);  // deterministic

  auto o = options();
  const auto free = anchor::calibrate_petab(*problem, o);
  REQUIRE(free.fit.success);
  long most = 0;
  for (const auto& s : free.fit.starts) {
    CHECK_FALSE(s.budget_spent);
    CHECK(s.work > 0);
    most = std::max(most, s.work);
  }
  // A budget of a third of the busiest start's work: that start stops early, at a usable point,
  // and two runs give the same bits.
  o.fit.work_budget = most / 3;
  const auto capped = anchor::calibrate_petab(*problem, o);
  const auto again = anchor::calibrate_petab(*problem, o);
  int spent = 0;
  for (std::size_t s = 0; s < capped.fit.starts.size(); ++s) {
    const auto& st = capped.fit.starts[s];
    spent += st.budget_spent;
    if (st.budget_spent) {
      CHECK(st.work >= o.fit.work_budget);
      CHECK_THAT(st.message, Catch::StartsWith("work budget spent"));
      CHECK(st.usable);
    }
    CHECK(st.work <= free.fit.starts[s].work);
    CHECK(st.optimum == again.fit.starts[s].optimum);
    CHECK(st.work == again.fit.starts[s].work);
  }
  CHECK(spent >= 1);
}

TEST_CASE("PEtab calibration: with more sensitivity parameters than twice the states, L-BFGS-B's gradient is "
          "the adjoint's, and both optimisers give exact data's parameters back") {
  // One species decaying at ka A + kb A^2 + kc A^3, from three initial amounts (a species as a
  // condition column): 3 sensitivity parameters for 1 state. The data are the model's own
  // solution at (0.5, 0.3, 0.2), so the maximum is there, every residual 0.
  const auto dir = std::filesystem::path(PHYSYNTH_TEST_OUTPUT) / "petab_fit_cubic_decay";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "model.xml")
      << R"(<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="cubic_decay" substanceUnits="mole" timeUnits="second" volumeUnits="litre" extentUnits="mole">
    <listOfCompartments><compartment id="cell" spatialDimensions="3" size="1" constant="true"/></listOfCompartments>
    <listOfSpecies>
      <species id="A" compartment="cell" initialConcentration="1" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="ka" value="1" constant="true"/><parameter id="kb" value="1" constant="true"/><parameter id="kc" value="1" constant="true"/>
    </listOfParameters>
    <listOfReactions>
      <reaction id="decay" reversible="false">
        <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>cell</ci><ci>A</ci>
          <apply><plus/><ci>ka</ci><apply><times/><ci>kb</ci><ci>A</ci></apply><apply><times/><ci>kc</ci><ci>A</ci><ci>A</ci></apply></apply>
        </apply></math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>
)";
  std::ofstream(dir / "problem.yaml") << "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n"
                                         "- condition_files: [conditions.tsv]\n  measurement_files: [measurements.tsv]\n"
                                         "  observable_files: [observables.tsv]\n  sbml_files: [model.xml]\n";
  std::ofstream(dir / "conditions.tsv") << "conditionId\tA\nlow\t0.5\nmid\t1\nhigh\t2\n";
  std::ofstream(dir / "observables.tsv") << "observableId\tobservableFormula\tnoiseFormula\nobs_A\tA\t0.01\n";
  const auto write_parameters = [&](double a, double b, double c) {
    std::ofstream t(dir / "parameters.tsv");
    t.precision(17);
    t << "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
      << "ka\tlog10\t0.001\t10\t" << a << "\t1\nkb\tlog10\t0.001\t10\t" << b << "\t1\nkc\tlog10\t0.001\t10\t" << c
      << "\t1\n";
  };
  const std::vector<double> times = {0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0};
  const auto write_measurements = [&](const std::vector<double>& values) {
    std::ofstream m(dir / "measurements.tsv");
    m.precision(17);
    m << "observableId\tsimulationConditionId\tmeasurement\ttime\n";
    std::size_t k = 0;
    for (const char* c : {"low", "mid", "high"})
      for (double t : times) m << "obs_A\t" << c << "\t" << (values.empty() ? 1.0 : values[k++]) << "\t" << t << "\n";
  };
  write_parameters(0.5, 0.3, 0.2);
  write_measurements({});
  solvers::OdeOptions tight;
  tight.rtol = 1e-12, tight.atol = 1e-14;
  {
    core::Diagnostics d;
    auto truth = domains::kinetics::PetabProblem::read((dir / "problem.yaml").string(), d);
    INFO(d.report());
    REQUIRE(truth);
    const auto e = truth->evaluate(truth->nominal_values(), tight);
    REQUIRE_FALSE(e.failed);
    write_measurements(e.simulations);
  }
  write_parameters(1, 1, 1);
  core::Diagnostics d;
  auto problem = domains::kinetics::PetabProblem::read((dir / "problem.yaml").string(), d);
  REQUIRE(problem);
  auto o = options();
  o.fit.starts = 3;
  const double best = -0.5 * 21 * std::log(2 * M_PI * 1e-4);  // every residual 0, sigma 0.01
  for (const auto optimizer : {anchor::PetabOptimizer::kLbfgsb, anchor::PetabOptimizer::kLeastSquares}) {
    o.optimizer = optimizer;
    const auto fit = anchor::calibrate_petab(*problem, o);
    INFO(fit.optimizer << "; " << fit.gradient);
    REQUIRE(fit.fit.success);
    if (optimizer == anchor::PetabOptimizer::kLbfgsb) {
      CHECK_THAT(fit.gradient, Catch::StartsWith("adjoint sensitivities"));  // GradientMethod::kAuto's choice
    } else {
      CHECK_THAT(fit.gradient, Catch::StartsWith("exact (forward sensitivities)"));
    }
    CHECK(fit.values[0] == Approx(0.5).epsilon(1e-4));
    CHECK(fit.values[1] == Approx(0.3).epsilon(1e-4));
    CHECK(fit.values[2] == Approx(0.2).epsilon(1e-4));
    CHECK(fit.log_likelihood == Approx(best).margin(1e-4));
    // The intervals come from the residuals' Jacobian at the optimum either way: finite here.
    for (std::size_t i = 0; i < 3; ++i) CHECK(std::isfinite(fit.fit.covariance[i * 3 + i]));
  }
}
