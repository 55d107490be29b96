// The PEtab reader and likelihood on the Boehm et al. (2014) STAT5 problem
// (data/kinetics/boehm): at the nominal parameters the log-likelihood is
// AMICI's reference, -138.22199693517703, and the simulations are the
// problem's own simulatedData table.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "physynth/domains/kinetics/petab.h"

using namespace physynth;
using physynth::domains::kinetics::PetabProblem;

namespace {
const std::string kBoehm = std::string(PHYSYNTH_SOURCE_DIR) + "/data/kinetics/boehm/";

// A copy of the PEtab problem folder `from` under the test output as `name`, to edit.
std::filesystem::path copy_problem(const std::string& from, const std::string& name) {
  const auto dir = std::filesystem::path(PHYSYNTH_TEST_OUTPUT) / name;
  std::filesystem::create_directories(dir);
  for (const auto& f : std::filesystem::directory_iterator(from))
    std::filesystem::copy_file(f.path(), dir / f.path().filename(), std::filesystem::copy_options::overwrite_existing);
  return dir;
}

// A file's text.
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

solvers::OdeOptions tight() {
  solvers::OdeOptions options;
  options.rtol = 1e-10;
  options.atol = 1e-12;
  options.max_steps = 1000000;
  return options;
}

// The problem's simulations at its nominal values, at tight tolerances (the test fails if it
// cannot be read or solved).
std::vector<double> nominal_simulations(const std::string& problem_yaml) {
  core::Diagnostics d;
  auto problem = PetabProblem::read(problem_yaml, d);
  INFO(d.report());
  REQUIRE(problem);
  const auto e = problem->evaluate(problem->nominal_values(), tight());
  INFO(e.message);
  REQUIRE_FALSE(e.failed);
  return e.simulations;
}
}  // namespace

TEST_CASE("PEtab: Boehm STAT5 at the nominal parameters gives the published log-likelihood") {
  core::Diagnostics diags;
  auto problem = PetabProblem::read(kBoehm + "Boehm_JProteomeRes2014.yaml", diags);
  INFO(diags.report());
  REQUIRE(problem);
  CHECK(problem->parameters().size() == 11);
  CHECK(problem->observables().size() == 3);
  CHECK(problem->measurements().size() == 48);
  const auto result = problem->evaluate(problem->nominal_values(), tight());
  INFO(result.message);
  REQUIRE_FALSE(result.failed);
  WARN("Boehm log-likelihood at the nominal parameters: " << std::setprecision(12) << result.log_likelihood);
  CHECK(result.log_likelihood == Approx(-138.22199693517703).margin(1e-4));
  CHECK(result.chi2 == Approx(47.977).margin(1e-3));

  // simulatedData_*.tsv: the model at the nominal parameters, measurement by measurement.
  std::ifstream in(kBoehm + "simulatedData_Boehm_JProteomeRes2014.tsv");
  std::string line;
  std::getline(in, line);
  std::size_t k = 0;
  double worst = 0.0;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream fields(line);
    while (std::getline(fields, cell, '\t')) cells.push_back(cell);
    // observableId, preequilibrationConditionId, simulationConditionId, simulation, time, ...
    const double simulated = std::stod(cells[3]);
    REQUIRE(k < result.simulations.size());
    worst = std::max(worst, std::fabs(result.simulations[k] - simulated));
    ++k;
  }
  CHECK(k == 48);
  CHECK(worst < 1e-4);
}

TEST_CASE("PEtab: mistakes in the tables are reported with file, line and column") {
  const auto dir = copy_problem(kBoehm, "petab_bad");
  // An unknown observable on line 3 and a measurement that is not a number on line 4.
  {
    std::string text = read_text(kBoehm + "measurementData_Boehm_JProteomeRes2014.tsv");
    std::vector<std::string> lines;
    std::string l;
    std::istringstream split(text);
    while (std::getline(split, l)) lines.push_back(l);
    lines[2].replace(0, lines[2].find('\t'), "pSTAT5X_rel");
    const auto tab3 = lines[3].find('\t', lines[3].find('\t', lines[3].find('\t') + 1) + 1);
    lines[3].replace(tab3 + 1, lines[3].find('\t', tab3 + 1) - tab3 - 1, "n/a");
    std::ofstream out(dir / "measurementData_Boehm_JProteomeRes2014.tsv");
    for (const auto& x : lines) out << x << '\n';
  }
  core::Diagnostics diags;
  auto problem = PetabProblem::read((dir / "Boehm_JProteomeRes2014.yaml").string(), diags);
  CHECK_FALSE(problem);
  const std::string report = diags.report();
  CHECK_THAT(report, Catch::Contains(
                         "measurementData_Boehm_JProteomeRes2014.tsv:3:1: error: unknown observable 'pSTAT5X_rel'"));
  CHECK_THAT(
      report,
      Catch::Contains(
          "measurementData_Boehm_JProteomeRes2014.tsv:4:4: error: measurement must be a finite number, got 'n/a'"));
}

TEST_CASE("PEtab: preequilibration starts from a steady state, and a measurement at time inf is at one") {
  // tests/fixtures/petab/preequilibration (SOURCE.md there): A <-> B, steady state under k1 = 1,
  // then k1 = 3: B(t) = 0.75 - 0.25 e^(-4t); one measurement without preequilibration follows
  // B(t) = 0.75 (1 - e^(-4t)); one is at time inf, the steady state B = 0.75. sigma = 0.1.
  const std::string dir = std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration/";
  core::Diagnostics diags;
  auto problem = PetabProblem::read(dir + "problem.yaml", diags);
  INFO(diags.report());
  REQUIRE(problem);
  const auto result = problem->evaluate(problem->nominal_values(), tight());
  INFO(result.message);
  REQUIRE_FALSE(result.failed);
  const double sigma = 0.1;
  const std::pair<double, double> rows[] = {{0.52, 0.75 - 0.25},
                                            {0.64, 0.75 - 0.25 * std::exp(-1.0)},
                                            {0.76, 0.75 - 0.25 * std::exp(-4.0)},
                                            {0.66, 0.75 * (1 - std::exp(-2.0))},
                                            {0.70, 0.75}};
  double llh = 0.0;
  for (std::size_t k = 0; k < 5; ++k) {
    const auto [m, y] = rows[k];
    CHECK(result.simulations[k] == Approx(y).margin(1e-8));
    llh += -0.5 * std::log(2.0 * M_PI * sigma * sigma) - 0.5 * std::pow((m - y) / sigma, 2);
  }
  CHECK(result.log_likelihood == Approx(llh).margin(1e-7));
  // The steady states came from Newton's method (the model does not read time); by simulation
  // alone they agree.
  CHECK(problem->steady_states_found().first > 0);
  CHECK(problem->steady_states_found().second == 0);
  problem->set_newton_steady_states(false);
  const auto simulated = problem->evaluate(problem->nominal_values(), tight());
  REQUIRE_FALSE(simulated.failed);
  CHECK(problem->steady_states_found().second > 0);
  for (std::size_t k = 0; k < 5; ++k) CHECK(simulated.simulations[k] == Approx(result.simulations[k]).margin(1e-9));

  // An unknown preequilibration condition is named with its file, line and column.
  const auto bad = copy_problem(dir, "petab_preeq_bad");
  {
    std::ofstream out(bad / "measurements.tsv");
    out << "observableId\tpreequilibrationConditionId\tsimulationConditionId\tmeasurement\ttime\n"
        << "obs_B\tpre\tsim\t0.52\t0\n"
        << "obs_B\tpree\tsim\t0.64\t0.25\n";
  }
  core::Diagnostics d2;
  CHECK_FALSE(PetabProblem::read((bad / "problem.yaml").string(), d2));
  CHECK_THAT(d2.report(), Catch::Contains("measurements.tsv:3:2: error: unknown preequilibration condition 'pree'"));

  // A species column sets the initial value (A = 2 in condition 'double', empty elsewhere: the
  // model's 1): B(0.5) = 2 * 0.75 (1 - e^(-2)) under k1 = 3.
  {
    std::ofstream c(bad / "conditions.tsv");
    c << "conditionId\tk1\tA\npre\t1\t\nsim\t3\t\ndouble\t3\t2\n";
    std::ofstream m(bad / "measurements.tsv");
    m << "observableId\tpreequilibrationConditionId\tsimulationConditionId\tmeasurement\ttime\n"
      << "obs_B\t\tdouble\t1.3\t0.5\n"
      << "obs_B\t\tsim\t0.66\t0.5\n";
  }
  const auto y = nominal_simulations((bad / "problem.yaml").string());
  CHECK(y[0] == Approx(1.5 * (1 - std::exp(-2.0))).margin(1e-8));
  CHECK(y[1] == Approx(0.75 * (1 - std::exp(-2.0))).margin(1e-8));

  // The same with the SBML file writing A's initial amount (2 in a compartment of size 2): the
  // condition's concentration 2 becomes the amount 4, so the concentrations are as above. A
  // condition that sets the compartment to 4 as well converts by 4 (amount 8, concentration 2).
  {
    std::ifstream in(dir + "model.xml");
    std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    xml.replace(xml.find("size=\"1\""), 8, "size=\"2\"");
    const auto a = xml.find("initialConcentration=\"1\"");
    xml.replace(a, 24, "initialAmount=\"2\"");
    std::ofstream(bad / "model.xml") << xml;
  }
  const auto z = nominal_simulations((bad / "problem.yaml").string());
  CHECK(z[0] == Approx(1.5 * (1 - std::exp(-2.0))).margin(1e-8));
  CHECK(z[1] == Approx(0.75 * (1 - std::exp(-2.0))).margin(1e-8));
  {
    std::ofstream c(bad / "conditions.tsv");
    c << "conditionId\tk1\tA\tcell\npre\t1\t\t2\nsim\t3\t\t2\ndouble\t3\t2\t4\n";
  }
  const auto w = nominal_simulations((bad / "problem.yaml").string());
  CHECK(w[0] == Approx(1.5 * (1 - std::exp(-2.0))).margin(1e-8));
  // An estimated compartment size cannot convert once: refused where the value is.
  {
    std::ofstream c(bad / "conditions.tsv");
    c << "conditionId\tk1\tA\npre\t1\t\nsim\t3\t\ndouble\t3\t2\n";
    std::ifstream in(bad / "parameters.tsv");
    std::string table((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    std::ofstream(bad / "parameters.tsv") << table << "cell\tlin\t0.1\t10\t2\t1\n";
  }
  core::Diagnostics d3;
  CHECK_FALSE(PetabProblem::read((bad / "problem.yaml").string(), d3));
  CHECK_THAT(d3.report(), Catch::Contains("conditions.tsv:4:3: error: condition column 'A': PEtab gives the species' "
                                          "initial concentration but the SBML file writes its initial amount, and the "
                                          "size of its compartment 'cell' is estimated"));
}

TEST_CASE("PEtab: Weber 2015 (135 preequilibrated measurements) gives AMICI's log-likelihood") {
  core::Diagnostics diags;
  auto problem =
      PetabProblem::read(std::string(PHYSYNTH_SOURCE_DIR) + "/data/kinetics/weber/Weber_BMC2015.yaml", diags);
  REQUIRE(problem);
  const auto result = problem->evaluate(problem->nominal_values(), tight());
  INFO(result.message);
  REQUIRE_FALSE(result.failed);
  // AMICI's tests/benchmark_models/benchmark_models.yaml (data/kinetics/weber/SOURCE.md).
  CHECK(result.log_likelihood == Approx(-296.2017922646865).margin(1e-4));
}

TEST_CASE("PEtab: Isensee 2018 (drugs switched on at given times, 123 preequilibrated conditions) gives AMICI's "
          "log-likelihood") {
  core::Diagnostics diags;
  auto problem =
      PetabProblem::read(std::string(PHYSYNTH_SOURCE_DIR) + "/data/kinetics/isensee/Isensee_JCB2018.yaml", diags);
  INFO(diags.report());
  REQUIRE(problem);
  // Its inputs are piecewise functions of time; the solves stop at each switch and restart
  // (core::TimeSwitches). Stepping across them, CVODES ran out of steps at t = 60.
  CHECK(problem->model().switch_times(problem->model_parameters(problem->nominal_values(), 0).data()).size() > 0);
  solvers::OdeOptions options = tight();
  options.method = solvers::Method::kBdf;  // 25 states: what `auto` picks
  const auto result = problem->evaluate(problem->nominal_values(), options);
  INFO(result.message);
  REQUIRE_FALSE(result.failed);
  // AMICI's tests/benchmark_models/benchmark_models.yaml (data/kinetics/isensee/SOURCE.md).
  CHECK(result.log_likelihood == Approx(-3949.375966548649).margin(1e-4));
}

TEST_CASE("PEtab: several measurement, condition and observable files and a parameter_file list read as one") {
  // The preequilibration fixture with every table split in two: the same five rows, so the same
  // log-likelihood. A fixed parameter may leave its bounds empty.
  const std::string dir = std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration/";
  const auto split = std::filesystem::path(PHYSYNTH_TEST_OUTPUT) / "petab_split";
  std::filesystem::create_directories(split);
  std::filesystem::copy_file(dir + "model.xml", split / "model.xml", std::filesystem::copy_options::overwrite_existing);
  const auto write = [&](const std::string& name, const std::string& text) { std::ofstream(split / name) << text; };
  write("problem.yaml",
        "format_version: 1\nparameter_file: [p1.tsv, p2.tsv]\nproblems:\n- condition_files: [c1.tsv, c2.tsv]\n"
        "  measurement_files: [m1.tsv, m2.tsv]\n  observable_files: [o1.tsv]\n  sbml_files: [model.xml]\n");
  write("p1.tsv",
        "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\nk2\tlin\t0.01\t100\t1\t1\n");
  write("p2.tsv",
        "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\nsd_B\tlin\t\t\t0.1\t0\n");
  write("c1.tsv", "conditionId\tk1\npre\t1\n");
  write("c2.tsv", "conditionId\tk1\nsim\t3\n");
  write("m1.tsv",
        "observableId\tpreequilibrationConditionId\tsimulationConditionId\tmeasurement\ttime\n"
        "obs_B\tpre\tsim\t0.52\t0\nobs_B\tpre\tsim\t0.64\t0.25\nobs_B\tpre\tsim\t0.76\t1\n");
  write("m2.tsv",
        "observableId\tsimulationConditionId\tmeasurement\ttime\nobs_B\tsim\t0.66\t0.5\nobs_B\tsim\t0.70\tinf\n");
  write("o1.tsv", "observableId\tobservableFormula\tnoiseFormula\nobs_B\tB\tsd_B\n");
  core::Diagnostics d1, d2;
  auto whole = PetabProblem::read(dir + "problem.yaml", d1);
  auto parts = PetabProblem::read((split / "problem.yaml").string(), d2);
  INFO(d2.report());
  REQUIRE(whole);
  REQUIRE(parts);
  CHECK(parts->measurements().size() == 5);
  CHECK(parts->measurements()[3].file == (split / "m2.tsv").string());
  CHECK(parts->measurements()[3].line == 2);
  const auto a = whole->evaluate(whole->nominal_values(), tight());
  const auto b = parts->evaluate(parts->nominal_values(), tight());
  REQUIRE_FALSE(b.failed);
  CHECK(b.log_likelihood == Approx(a.log_likelihood).margin(1e-12));

  // An empty bound of an estimated parameter, a parameter listed twice and a list entry that is
  // not a file name are each reported where they are.
  write("p2.tsv",
        "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\nsd_B\tlin\t\t1\t0.1\t1\n"
        "k2\tlin\t0.01\t100\t1\t1\n");
  core::Diagnostics d3;
  CHECK_FALSE(PetabProblem::read((split / "problem.yaml").string(), d3));
  CHECK_THAT(d3.report(), Catch::Contains("p2.tsv:2:3: error: lowerBound of 'sd_B' must be a number (it may be empty "
                                          "only where estimate is 0), got ''"));
  CHECK_THAT(d3.report(), Catch::Contains("p2.tsv:3:1: error: parameter 'k2' is listed twice"));
  write("problem.yaml",
        "format_version: 1\nparameter_file: [p1.tsv, {file: p2.tsv}]\nproblems:\n- condition_files: [c1.tsv]\n"
        "  measurement_files: [m1.tsv]\n  observable_files: [o1.tsv]\n  sbml_files: [model.xml]\n");
  core::Diagnostics d4;
  CHECK_FALSE(PetabProblem::read((split / "problem.yaml").string(), d4));
  CHECK_THAT(d4.report(),
             Catch::Contains("problem.yaml:2:26: error: parameter_file must list file names, got a mapping here"));
}

namespace {
// Parameter q of v stepped both ways for a central difference: a positive one in ln θ by `step`
// (compared with θ times a derivative: d/d ln θ = θ d/dθ; a rate of 1e-5 stepped linearly would
// move less than the solver's own error), any other linearly by 1e-5.
struct CentralStep {
  std::vector<double> up, down;
  double h, scale;
};
CentralStep central_step(const std::vector<double>& v, std::size_t q, double step) {
  const bool log = v[q] > 0.0;
  CentralStep c{v, v, log ? step : 1e-5, log ? v[q] : 1.0};
  if (log)
    c.up[q] *= std::exp(c.h), c.down[q] *= std::exp(-c.h);
  else
    c.up[q] += c.h, c.down[q] -= c.h;
  return c;
}

// The largest difference between the evaluation's exact gradients (misfit and sigma by every
// PEtab parameter) and central differences of the same quantities, relative to max(|d|, 1). A
// positive parameter is stepped in ln θ (step 1e-4, compared with θ times the gradient): a
// rate of 1e-5 stepped linearly would move less than the solver's own error.
double worst_gradient_error(const PetabProblem& problem, const solvers::OdeOptions& options,
                            const solvers::OdeOptions& fd_options, double step = 1e-4) {
  const auto v = problem.nominal_values();
  const auto e = problem.evaluate(v, options, true);
  INFO(e.message << e.no_gradient);
  REQUIRE_FALSE(e.failed);
  REQUIRE(e.has_gradient);
  const std::size_t M = problem.measurements().size(), P = v.size();
  double worst = 0.0;
  for (std::size_t q = 0; q < P; ++q) {
    const auto [up, down, h, scale] = central_step(v, q, step);
    const auto a = problem.evaluate(up, fd_options), b = problem.evaluate(down, fd_options);
    REQUIRE_FALSE(a.failed);
    REQUIRE_FALSE(b.failed);
    for (std::size_t k = 0; k < M; ++k) {
      const double dm = (a.residuals[k] * a.sigmas[k] - b.residuals[k] * b.sigmas[k]) / (2 * h);
      const double ds = (a.sigmas[k] - b.sigmas[k]) / (2 * h);
      worst = std::max({worst, std::fabs(dm - scale * e.misfit_gradient[k * P + q]) / std::max(std::fabs(dm), 1.0),
                        std::fabs(ds - scale * e.sigma_gradient[k * P + q]) / std::max(std::fabs(ds), 1.0)});
    }
  }
  return worst;
}
}  // namespace

TEST_CASE("PEtab: exact gradients (forward sensitivities) agree with central differences") {
  solvers::OdeOptions o = tight();
  o.rtol = 1e-12, o.atol = 1e-14;
  SECTION("preequilibration, a steady-state measurement and a species set by a condition") {
    core::Diagnostics d;
    auto p =
        PetabProblem::read(std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration/problem.yaml", d);
    REQUIRE(p);
    CHECK(worst_gradient_error(*p, o, o) < 1e-5);
    // The closed form: B(t) = 0.75 - 0.25 e^(-(3 + k2) t) ... at k2 = 1 for the first rows; here
    // only d(sigma)/d(sd_B) = 1 exactly and the misfit does not depend on sd_B.
    const auto e = p->evaluate(p->nominal_values(), o, true);
    CHECK(e.sigma_gradient[1] == 1.0);
    CHECK(e.misfit_gradient[1] == 0.0);
  }
  SECTION("Boehm 2014: log10 parameters, noise parameters, 8 states") {
    core::Diagnostics d;
    auto p = PetabProblem::read(kBoehm + "Boehm_JProteomeRes2014.yaml", d);
    REQUIRE(p);
    CHECK(worst_gradient_error(*p, o, o) < 1e-4);
  }
  SECTION("Weber 2015: preequilibration in every measurement") {
    core::Diagnostics d;
    auto p = PetabProblem::read(std::string(PHYSYNTH_SOURCE_DIR) + "/data/kinetics/weber/Weber_BMC2015.yaml", d);
    REQUIRE(p);
    // Its steady states are reached by simulation and accepted at the first settled decade, so
    // central differences need rtol 1e-11 and a step of 1e-3 to resolve derivatives of 1e-5
    // relative (at rtol 1e-10 they give 214 where the exact value is 1211, and converge to it
    // as the tolerance tightens); the exact ones are taken at rtol 1e-8. Measured: 3.1e-2 at
    // worst (the differences' own error); before sensitivities had to settle too, 255.
    solvers::OdeOptions exact = tight(), fd = tight();
    exact.rtol = 1e-8, exact.atol = 1e-10;
    fd.rtol = 1e-11, fd.atol = 1e-13;
    CHECK(worst_gradient_error(*p, exact, fd, 1e-3) < 5e-2);
  }
}

TEST_CASE("PEtab: a compartment column in the condition table sets its size from the start") {
  // The fixture's model with A given as an amount (1): in a compartment of size 2 its
  // concentration starts at 0.5, so B(0.5) = 0.5 * 0.75 (1 - e^-2) under k1 = 3; size 1 gives twice that.
  const std::string dir = std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration/";
  const auto out = copy_problem(dir, "petab_compartment");
  {
    std::string text = read_text(dir + "model.xml");
    const std::string from = "<species id=\"A\" compartment=\"cell\" initialConcentration=\"1\"";
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), "<species id=\"A\" compartment=\"cell\" initialAmount=\"1\"");
    std::ofstream(out / "model.xml") << text;
    std::ofstream(out / "conditions.tsv") << "conditionId\tk1\tcell\nbig\t3\t2\nunit\t3\t1\n";
    std::ofstream(out / "measurements.tsv")
        << "observableId\tsimulationConditionId\tmeasurement\ttime\nobs_B\tbig\t0.3\t0.5\nobs_B\tunit\t0.6\t0.5\n";
  }
  const auto y = nominal_simulations((out / "problem.yaml").string());
  CHECK(y[0] == Approx(0.5 * 0.75 * (1 - std::exp(-2.0))).margin(1e-8));
  CHECK(y[1] == Approx(0.75 * (1 - std::exp(-2.0))).margin(1e-8));
}

namespace {
// The preequilibration fixture without its preequilibration, observed through log, log10 and
// Laplace noise: B(t) = 0.75 (1 - e^(-4t)) under k1 = 3, k2 = 1.
std::filesystem::path transformations_problem() {
  const auto dir = copy_problem(std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration",
                                "petab_transformations");
  std::ofstream(dir / "observables.tsv")
      << "observableId\tobservableFormula\tnoiseFormula\tobservableTransformation\tnoiseDistribution\n"
      << "b_log\tB\t0.2\tlog\tnormal\nb_log10\tB\t0.1\tlog10\tnormal\nb_lap\tB\t0.05\tlin\tlaplace\n"
      << "b_lap_log\tB\t0.3\tlog\tlaplace\n";
  std::ofstream(dir / "measurements.tsv") << "observableId\tsimulationConditionId\tmeasurement\ttime\n"
                                          << "b_log\tsim\t0.61\t0.5\nb_log10\tsim\t0.7\t1\nb_lap\tsim\t0.5\t0.25\n"
                                          << "b_lap_log\tsim\t0.66\t0.5\n";
  return dir;
}
}  // namespace

TEST_CASE("PEtab: log and log10 observable transformations and Laplace noise give PEtab's closed forms") {
  // Each row's term: normal on the transformed scale, less log m (log) or log(m ln 10) (log10);
  // Laplace likewise.
  const auto dir = transformations_problem();
  core::Diagnostics d;
  auto problem = PetabProblem::read((dir / "problem.yaml").string(), d);
  INFO(d.report());
  REQUIRE(problem);
  const auto e = problem->evaluate(problem->nominal_values(), tight());
  REQUIRE_FALSE(e.failed);
  const auto B = [](double t) { return 0.75 * (1 - std::exp(-4 * t)); };
  const double ln10 = std::log(10.0);
  const double z1 = (std::log(0.61) - std::log(B(0.5))) / 0.2;
  const double z2 = (std::log10(0.7) - std::log10(B(1.0))) / 0.1;
  const double z3 = (0.5 - B(0.25)) / 0.05;
  const double z4 = (std::log(0.66) - std::log(B(0.5))) / 0.3;
  const double llh = (-0.5 * std::log(2 * M_PI * 0.04) - 0.5 * z1 * z1 - std::log(0.61)) +
                     (-0.5 * std::log(2 * M_PI * 0.01) - 0.5 * z2 * z2 - std::log(0.7 * ln10)) +
                     (-std::log(2 * 0.05) - std::fabs(z3)) + (-std::log(2 * 0.3) - std::fabs(z4) - std::log(0.66));
  CHECK(e.log_likelihood == Approx(llh).margin(1e-7));  // the solves at rtol 1e-10: 5e-9 measured
  CHECK(e.simulations[1] == Approx(B(1.0)).epsilon(1e-9));
}

namespace {
// The largest difference between a gradient of the log-likelihood and central differences of it
// (a positive parameter stepped in ln theta, compared with theta times the gradient), relative to
// max(|difference|, 1), over the estimated parameters.
double worst_llh_gradient_error(const PetabProblem& problem, const domains::kinetics::PetabGradient& g,
                                const solvers::OdeOptions& fd) {
  const auto v = problem.nominal_values();
  double worst = 0.0;
  for (std::size_t q = 0; q < v.size(); ++q) {
    if (!problem.parameters()[q].estimate) continue;
    const auto [up, down, h, scale] = central_step(v, q, 1e-4);
    const auto a = problem.evaluate(up, fd), b = problem.evaluate(down, fd);
    REQUIRE_FALSE(a.failed);
    REQUIRE_FALSE(b.failed);
    const double d = (a.log_likelihood - b.log_likelihood) / (2 * h);
    INFO(problem.parameters()[q].id << ": differences " << d << ", gradient " << scale * g.gradient[q]);
    worst = std::max(worst, std::fabs(d - scale * g.gradient[q]) / std::max(std::fabs(d), 1.0));
  }
  return worst;
}
}  // namespace

TEST_CASE("PEtab: the log-likelihood's gradient by adjoint sensitivities agrees with central differences and "
          "forward sensitivities") {
  using domains::kinetics::GradientMethod;
  solvers::OdeOptions o = tight();
  o.rtol = 1e-12, o.atol = 1e-14;
  const auto agree = [&](const PetabProblem& p, double bar) {
    const auto adjoint = p.log_likelihood_gradient(p.nominal_values(), o, GradientMethod::kAdjoint);
    const auto forward = p.log_likelihood_gradient(p.nominal_values(), o, GradientMethod::kForward);
    INFO(adjoint.message << adjoint.why_forward);
    REQUIRE_FALSE(adjoint.failed);
    REQUIRE_FALSE(forward.failed);
    CHECK(adjoint.method == "adjoint");
    CHECK(forward.method == "forward");
    CHECK(adjoint.log_likelihood == Approx(p.evaluate(p.nominal_values(), o).log_likelihood).margin(1e-9));
    CHECK(worst_llh_gradient_error(p, adjoint, o) < bar);
    CHECK(worst_llh_gradient_error(p, forward, o) < bar);
    double norm = 0.0;
    for (double v : forward.gradient) norm += v * v;
    norm = std::sqrt(norm);
    for (std::size_t q = 0; q < adjoint.gradient.size(); ++q)
      CHECK(adjoint.gradient[q] == Approx(forward.gradient[q]).margin(1e-6 * norm));
  };
  SECTION("log, log10 and Laplace observables, an estimated noise parameter") {
    core::Diagnostics d;
    auto p = PetabProblem::read((transformations_problem() / "problem.yaml").string(), d);
    REQUIRE(p);
    agree(*p, 1e-6);
  }
  SECTION("Boehm 2014: log10 parameters, noise parameters, 8 states, rows at t = 0") {
    core::Diagnostics d;
    auto p = PetabProblem::read(kBoehm + "Boehm_JProteomeRes2014.yaml", d);
    REQUIRE(p);
    agree(*p, 1e-5);
  }
  SECTION("a preequilibration: from its steady state, with derivatives by the implicit function theorem") {
    const auto dir = copy_problem(std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration",
                                  "petab_adjoint_preequilibration");
    std::ofstream(dir / "measurements.tsv")
        << "observableId\tpreequilibrationConditionId\tsimulationConditionId\tmeasurement\ttime\n"
        << "obs_B\tpre\tsim\t0.52\t0\nobs_B\tpre\tsim\t0.64\t0.25\nobs_B\tpre\tsim\t0.76\t1\n"
        << "obs_B\t\tsim\t0.66\t0.5\n";
    core::Diagnostics d;
    auto p = PetabProblem::read((dir / "problem.yaml").string(), d);
    REQUIRE(p);
    agree(*p, 1e-6);
  }
  SECTION("a measurement at steady state too (time inf, by the implicit function theorem)") {
    core::Diagnostics d;
    auto p =
        PetabProblem::read(std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration/problem.yaml", d);
    REQUIRE(p);
    agree(*p, 1e-6);
  }
  SECTION("a measurement at steady state after a preequilibration is left to forward sensitivities, and the "
          "result says so") {
    const auto dir = copy_problem(std::string(PHYSYNTH_SOURCE_DIR) + "/tests/fixtures/petab/preequilibration",
                                  "petab_adjoint_inf_after_preequilibration");
    std::ofstream(dir / "measurements.tsv")
        << "observableId\tpreequilibrationConditionId\tsimulationConditionId\tmeasurement\ttime\n"
        << "obs_B\tpre\tsim\t0.52\t0\nobs_B\tpre\tsim\t0.70\tinf\n";
    core::Diagnostics d;
    auto p = PetabProblem::read((dir / "problem.yaml").string(), d);
    REQUIRE(p);
    const auto g = p->log_likelihood_gradient(p->nominal_values(), o, GradientMethod::kAdjoint);
    REQUIRE_FALSE(g.failed);
    CHECK(g.method == "forward");
    CHECK_THAT(g.why_forward, Catch::Contains("time inf) after a preequilibration"));
    CHECK(worst_llh_gradient_error(*p, g, o) < 1e-5);
  }
  SECTION("auto: the adjoint wherever it applies, the same gradient as forward sensitivities") {
    core::Diagnostics d;
    auto p = PetabProblem::read(kBoehm + "Boehm_JProteomeRes2014.yaml", d);
    REQUIRE(p);
    const auto g = p->log_likelihood_gradient(p->nominal_values(), o);
    CHECK(g.method == "adjoint");
    CHECK(g.why_forward.empty());
    CHECK(worst_llh_gradient_error(*p, g, o) < 1e-5);
  }
  SECTION("auto: forward sensitivities where the adjoint's solves fail, and the result says why") {
    core::Diagnostics d;
    auto p = PetabProblem::read(kBoehm + "Boehm_JProteomeRes2014.yaml", d);
    REQUIRE(p);
    auto few = o;
    few.max_steps = 20;  // too few for the forward solve the adjoint keeps (CVODES BDF)
    const auto adjoint = p->log_likelihood_gradient(p->nominal_values(), few, GradientMethod::kAdjoint);
    const auto g = p->log_likelihood_gradient(p->nominal_values(), few);
    INFO(adjoint.message << " | " << g.message << " | " << g.why_forward);
    REQUIRE(adjoint.failed);
    CHECK(g.method == "forward");
    CHECK_THAT(g.why_forward, Catch::StartsWith("the adjoint's solves failed ("));
  }
}
