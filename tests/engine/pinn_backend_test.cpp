// The `pinn` backend through the engine: a network trained for a scenario
// generates the same file layout as CVODES, its audit reports the residual of
// every sample and the error of the verified ones, the gate re-solves samples
// whose residual is too large, out-of-range draws are refused, and the bytes do
// not depend on the thread count.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "physynth/engine/pinn_problem.h"
#include "physynth/engine/run.h"
#include "support/scenarios.h"
#ifdef PHYSYNTH_HAVE_VIZ
#include "physynth/viz/viz.h"
#include "support/png_check.h"
#endif
#include "support/test_problems.h"

using namespace physynth;
namespace fs = std::filesystem;

namespace {

const std::string kScenario = testing::fixture("fixtures/pinn/decay.yaml");
const std::string kOut = std::string(PHYSYNTH_TEST_OUTPUT) + "/pinn_backend";

// The network for the fixture, trained once per test run.
const std::string& trained_model() {
  static const std::string path = [] {
    fs::create_directories(kOut);
    const auto s = testing::load_scenario(kScenario, {"backend=cvode"});
    // One file per test process: ctest runs this file's cases as separate processes, two at a
    // time, and two of them saving the same path at once failed (ENOENT) in CI.
    const std::string p = kOut + "/decay-" + std::to_string(::getpid()) + ".pt";
    pinn::Pinn::train(engine::pinn_problem(s), s.pinn.network, s.pinn.train).save(p);
    return p;
  }();
  return path;
}

engine::Scenario pinn_scenario(std::vector<std::string> overrides = {}) {
  overrides.push_back("pinn.model=" + trained_model());
  return testing::load_scenario(kScenario, overrides);
}

engine::RunSummary run(const engine::Scenario& s, const std::string& name, int threads = 1) {
  engine::RunOptions o;
  o.output_directory = kOut + "/" + name;
  o.overwrite = true;
  o.threads = threads;
  const auto r = engine::run_scenario(s, o);
  INFO(r.message);
  REQUIRE(r.completed);
  return r;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::string> names_of(const std::vector<std::string>& files) {
  std::vector<std::string> v;
  for (const auto& f : files) v.push_back(fs::path(f).filename().string());
  return v;
}

}  // namespace

TEST_CASE("pinn backend: the same file layout as CVODES, with the residual and verified errors in the audit") {
  const auto pinn = run(pinn_scenario(), "pinn");
  const auto cvode = run(pinn_scenario({"backend=cvode"}), "cvode");
  CHECK(names_of(pinn.files) == names_of(cvode.files));
  CHECK(pinn.ok == 40);
  // The shards hold the same datasets, and the network's states are close to CVODES'.
  const auto s_pinn = pinn_scenario(), s_cvode = pinn_scenario({"backend=cvode"});  // outlive the generators
  engine::ShardGenerator g_pinn(s_pinn, 1), g_cvode(s_cvode, 1);
  const auto a = g_pinn.shard(0), b = g_cvode.shard(0);
  CHECK(a.state_names == b.state_names);
  CHECK(a.label_names == b.label_names);
  REQUIRE(a.states.size() == b.states.size());
  double worst = 0.0;
  for (std::size_t k = 0; k < a.states.size(); ++k) worst = std::max(worst, std::abs(a.states[k] - b.states[k]));
  CHECK(worst < 0.05);
  CHECK(a.states != b.states);

  const auto audit = read_json(kOut + "/pinn/audit.json");
  REQUIRE(audit.contains("pinn"));
  const auto& p = audit["pinn"];
  CHECK(p["verified"]["samples"] == 10);
  CHECK(p["verified"]["relative_l2_error"]["A"]["max"].get<double>() < 0.05);
  CHECK(p["residual"]["max"].get<double>() < 1.0);
  CHECK(p["gate"]["resolved_with_solver"] == 0);
  CHECK(p["gate"]["solver"] == pinn_scenario().solver_choice);
  // One row per sample in pinn_audit.csv, errors where verified.
  std::ifstream csv(kOut + "/pinn/pinn_audit.csv");
  std::string line;
  std::getline(csv, line);
  CHECK(line == "sample,residual,resolved_with_solver,error_A");
  int rows = 0, verified = 0;
  while (std::getline(csv, line)) {
    ++rows;
    verified += line.back() != ',' ? 1 : 0;
  }
  CHECK(rows == 40);
  CHECK(verified == 10);
  CHECK(read_json(kOut + "/pinn/manifest.json")["backend"] == "pinn");
}

TEST_CASE("pinn backend: a gate below the residual re-solves those samples with the scenario's integrator") {
  // Every sample's residual exceeds a gate of 1e-12: all are the integrator's trajectories, bit
  // for bit what backend cvode writes with the same solver section (CVODES, Rodas5P, or what
  // auto picks).
  for (const std::string method : {"bdf", "rosenbrock", "auto"}) {
    INFO("solver.method " << method);
    const auto s_cvode = pinn_scenario({"backend=cvode", "solver.method=" + method});
    engine::ShardGenerator cvode(s_cvode, 1);
    const auto reference = cvode.shard(0);
    const auto s = pinn_scenario({"pinn.gate_residual=1e-12", "solver.method=" + method});
    run(s, "gated_all_" + method);
    const auto audit = read_json(kOut + "/gated_all_" + method + "/audit.json");
    CHECK(audit["pinn"]["gate"]["resolved_with_solver"] == 40);
    CHECK(audit["pinn"]["gate"]["solver"] == s.solver_choice);
    engine::ShardGenerator g(s, 1);
    CHECK(g.shard(0).states == reference.states);
  }
  // A gate between the samples' residuals replaces exactly those above it.
  {
    const auto all = pinn_scenario({"pinn.gate_residual=0"});
    run(all, "ungated");
    std::ifstream csv(kOut + "/ungated/pinn_audit.csv");
    std::string line;
    std::getline(csv, line);
    std::vector<double> residual;
    while (std::getline(csv, line)) residual.push_back(std::stod(line.substr(line.find(',') + 1)));
    REQUIRE(residual.size() == 40);
    auto sorted = residual;
    std::sort(sorted.begin(), sorted.end());
    const double gate = 0.5 * (sorted[29] + sorted[30]);  // ten samples above it
    const auto s = pinn_scenario({"pinn.gate_residual=" + core::format_number(gate)});
    run(s, "gated_some");
    const auto audit = read_json(kOut + "/gated_some/audit.json");
    CHECK(audit["pinn"]["gate"]["resolved_with_solver"] == 10);
    for (const auto& sample : audit["pinn"]["gate"]["samples"]) CHECK(residual[sample.get<std::size_t>()] > gate);
  }
}

TEST_CASE("pinn backend: draws outside the trained box are refused and recorded, not extrapolated") {
  core::Diagnostics d;
  auto s = engine::load_scenario(kScenario, {"pinn.model=" + trained_model(), "parameters.k.high=3"}, d);
  REQUIRE(s);
  CHECK_THAT(d.report(), Catch::Contains("reaches outside the range the network") && Catch::Contains("[0.5, 2]"));
  const auto r = run(*s, "out_of_range");
  CHECK(r.failed > 0);
  CHECK(r.ok + r.failed == 40);
  const auto manifest = read_json(kOut + "/out_of_range/manifest.json");
  for (const auto& f : manifest["failures"]) {
    CHECK(f["flag"] == "PINN_OUT_OF_RANGE");
    CHECK(f["parameters"]["k"].get<double>() > 2.0);
    CHECK_THAT(f["message"].get<std::string>(), Catch::Contains("is outside the range the network covers [0.5, 2]"));
  }
  CHECK(read_json(kOut + "/out_of_range/audit.json")["pinn"]["refused_out_of_range"] == r.failed);
}

TEST_CASE("pinn backend: the same bytes for any thread count") {
  const auto s = pinn_scenario({"sampling.samples=40"});
  const auto one = run(s, "threads1", 1);
  const auto two = run(s, "threads2", 2);
  REQUIRE(one.files.size() == two.files.size());
  for (std::size_t k = 0; k < one.files.size(); ++k) CHECK((bytes_of(one.files[k]) == bytes_of(two.files[k])));
  CHECK((bytes_of(kOut + "/threads1/pinn_audit.csv") == bytes_of(kOut + "/threads2/pinn_audit.csv")));

  // A shard of one sample is one chunk of rows: its operations, large enough here (20,000
  // residual points) for torch to share each of them over the threads, still run in one thread.
  const auto small = pinn_scenario({"sampling.samples=3", "output.shard_size=1", "pinn.residual_points=20000"});
  run(small, "threads1_one_chunk", 1);
  run(small, "threads2_one_chunk", 2);
  CHECK(
      (bytes_of(kOut + "/threads1_one_chunk/pinn_audit.csv") == bytes_of(kOut + "/threads2_one_chunk/pinn_audit.csv")));
}

TEST_CASE("pinn backend: float32 layers (pinn.precision) move the states by float32's rounding, and auto weighs the "
          "network's test error") {
  // The fixture's network is float32 throughout.
  run(pinn_scenario(), "precision_float32_network");
  const auto own = read_json(kOut + "/precision_float32_network/audit.json")["pinn"]["layers"];
  CHECK(own["precision"] == "float32");
  CHECK(own["why"] == "the network was trained in float32");

  // Float64 networks, one without a test error in its sidecar and one with.
  const auto train64 = [](const std::string& name, const std::string& test_samples) {
    const auto base = testing::load_scenario(
        kScenario, {"backend=cvode", "pinn.train.dtype=float64", "pinn.train.test_samples=" + test_samples});
    const std::string path = kOut + "/" + name + "-" + std::to_string(::getpid()) + ".pt";
    const auto net = pinn::Pinn::train(engine::pinn_problem(base), base.pinn.network, base.pinn.train);
    net.save(path);
    return std::make_pair(path, net.metadata());
  };
  const auto [untested, untested_meta] = train64("decay64", "0");
  const auto [tested, tested_meta] = train64("decay64-tested", "20");
  REQUIRE(tested_meta["training"]["test"]["median"].get<double>() >= 1e-5);

  const auto with = [](const std::string& model, const std::string& precision) {
    return testing::load_scenario(kScenario, {"pinn.model=" + model, "pinn.precision=" + precision});
  };
  run(with(untested, "auto"), "precision_auto");
  const auto kept = read_json(kOut + "/precision_auto/audit.json")["pinn"]["layers"];
  CHECK(kept["precision"] == "float64");
  CHECK_THAT(kept["why"].get<std::string>(), Catch::Contains("no test error"));

  run(with(untested, "float32"), "precision_32");
  const auto asked = read_json(kOut + "/precision_32/audit.json")["pinn"]["layers"];
  CHECK(asked["precision"] == "float32");
  CHECK(asked["why"] == "pinn.precision: float32");
  const auto s64 = with(untested, "float64"), s32 = with(untested, "float32");
  engine::ShardGenerator g64(s64, 1), g32(s32, 1);
  const auto a = g64.shard(0), b = g32.shard(0);
  REQUIRE(a.states.size() == b.states.size());
  double worst = 0.0, largest = 0.0;
  for (std::size_t k = 0; k < a.states.size(); ++k) {
    worst = std::max(worst, std::abs(a.states[k] - b.states[k]));
    largest = std::max(largest, std::abs(a.states[k]));
  }
  CHECK(worst > 0.0);             // the layers did run in float32
  CHECK(worst < 1e-5 * largest);  // and changed the states by float32's rounding, no more

  run(with(tested, "auto"), "precision_auto_tested");
  const auto taken = read_json(kOut + "/precision_auto_tested/audit.json")["pinn"]["layers"];
  CHECK(taken["precision"] == "float32");
  CHECK_THAT(taken["why"].get<std::string>(), Catch::Contains("median test error") && Catch::Contains("is at least"));

  CHECK_THAT(testing::scenario_errors(kScenario, {"pinn.model=" + trained_model(), "pinn.precision=half"}),
             Catch::Contains("pinn.precision must be 'auto', 'float64' or 'float32', got 'half'"));
}

TEST_CASE("pinn backend: scenarios it cannot run are refused at load with the reason") {
  const std::string model = "pinn.model=" + trained_model();
  CHECK_THAT(testing::scenario_errors(kScenario, {model, "events=[{name: half, state: A, threshold: 0.5}]"}),
             Catch::Contains("events: backend pinn has no root finding"));
  CHECK_THAT(testing::scenario_errors(kScenario, {"pinn.model=nowhere.pt"}),
             Catch::Contains("decay.yaml") && Catch::Contains("nowhere.pt' does not exist") &&
                 Catch::Contains("physynth train-pinn"));
  CHECK_THAT(testing::scenario_errors(kScenario, {model, "solver.sensitivities=all"}),
             Catch::Contains("backend pinn writes no forward sensitivities"));
  // A network trained for another model.
  const std::string mm = testing::repository_path("scenarios/kinetics/michaelis_menten.yaml");
  CHECK_THAT(testing::scenario_errors(mm, {"backend=pinn", model, "events=[]", "labels=[]"}),
             Catch::Contains("was trained for model") && Catch::Contains("this model has [E, S, ES, P]"));
  // A model without a tensor right-hand side.
  const std::string crop = testing::repository_path("scenarios/crop/spring_wheat.yaml");
  CHECK_THAT(testing::scenario_errors(crop, {"backend=pinn"}), Catch::Contains("has no right-hand side"));
}

#ifdef PHYSYNTH_HAVE_VIZ
TEST_CASE("pinn backend: the report plots the error against CVODES over the parameter range") {
  run(pinn_scenario(), "pinn_report");
  viz::VisualOptions o;
  o.width = 800;
  o.height = 360;
  o.plots = {"pinn_error"};
  const auto figures = viz::plot_run(kOut + "/pinn_report", kOut + "/pinn_report/plots", o);
  REQUIRE(figures.size() == 1);
  CHECK(figures[0].kind == "pinn_error");
  CHECK(figures[0].caption.find("10 samples") != std::string::npos);  // the verified ones
  testing::check_plot(figures[0], o, {{214, 39, 40}});
}
#endif
