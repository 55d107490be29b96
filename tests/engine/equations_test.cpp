// User-defined models (model: {states, definitions, equations}) through the
// engine: the two example scenarios against their closed forms, the declared
// invariant and features, and every mistake a user can make in the equations
// reported at file:line:column with what would be valid.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "physynth/anchor/real_data.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/run.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {

std::size_t index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  REQUIRE(it != names.end());
  return static_cast<std::size_t>(it - names.begin());
}

// A scenario around a model section, written to a file of its own.
std::string write_scenario(const std::string& file, const std::string& model, const std::string& parameters) {
  const std::string path = std::string(PHYSYNTH_TEST_OUTPUT) + "/equations/" + file;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << "name: user_model\ndomain: equations\nmodel:\n"
                      << model << "parameters:\n"
                      << parameters << "sampling: {samples: 4, seed: 1}\ntime: {start: 0, end: 10, points: 11}\n";
  return path;
}

std::string errors(const std::string& file, const std::string& model, const std::string& parameters = "  k: {value: 1}\n") {
  return testing::scenario_errors(write_scenario(file, model, parameters), {});
}

}  // namespace

TEST_CASE("equations: the battery's capacity follows the square-root-of-time closed form, charge conserved") {
  const auto s = testing::load_scenario(testing::repository_path("scenarios/equations/battery_fade.yaml"),
                                        {"sampling.samples=40", "events=[]", "labels=[]"});
  engine::ShardGenerator gen(s, 2);
  const auto shard = gen.shard(0);
  const std::size_t n = shard.num_states(), T = shard.times.size();
  const std::size_t q = index_of(shard.state_names, "Q"), l = index_of(shard.state_names, "L_sei");
  double worst = 0.0;
  for (std::size_t i = 0; i < shard.samples; ++i) {
    REQUIRE(shard.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
    auto p = [&](const std::string& name) {
      return shard.parameters[i * shard.num_parameters() + index_of(shard.parameter_names, name)];
    };
    const double k_T = p("k_ref") * std::exp(p("Ea") / p("R_gas") * (1.0 / p("T_ref") - 1.0 / p("T")));
    const double cyc = p("beta") * p("cycles_per_day") * 2.0 * p("Q_nom"), L0 = p("L0");
    for (std::size_t r = 0; r < T; ++r) {
      const double t = shard.times[r], L = std::sqrt(L0 * L0 + 2.0 * k_T * t);
      const double Q = p("Q_nom") - (L - L0) - cyc * t;
      worst = std::max({worst, std::fabs(shard.states[(i * T + r) * n + q] - Q) / Q,
                        std::fabs(shard.states[(i * T + r) * n + l] - L) / L});
    }
  }
  CHECK(worst < 1e-6);
}

TEST_CASE("equations: the pump's wear follows its closed form and the operating point its curves") {
  const auto s = testing::load_scenario(testing::repository_path("scenarios/equations/pump_wear.yaml"),
                                        {"sampling.samples=40", "events=[]", "labels=[]"});
  engine::ShardGenerator gen(s, 1);
  const auto shard = gen.shard(0);
  const std::size_t n = shard.num_states(), T = shard.times.size(), w = index_of(shard.state_names, "w");
  const auto& model = *s.model.model;
  const auto& features = model.derived_channels();
  REQUIRE(features.size() == 5);
  std::vector<double> derived(features.size());
  core::CounterRng rng(1, 0, 0);
  double worst_w = 0.0, worst_flow = 0.0;
  for (std::size_t i = 0; i < shard.samples; ++i) {
    REQUIRE(shard.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kOk));
    const double* p = &shard.parameters[i * shard.num_parameters()];
    auto param = [&](const std::string& name) { return p[index_of(shard.parameter_names, name)]; };
    const double speed = param("N") / param("N_ref");
    const double a = param("c_wear") * param("solids") * speed * speed * speed;
    for (std::size_t r = 0; r < T; ++r) {
      const double t = shard.times[r], expected = 1.0 - 1.0 / std::sqrt(1.0 + 2.0 * a * t);
      const double* y = &shard.states[(i * T + r) * n];
      worst_w = std::max(worst_w, std::fabs(y[w] - expected));
      // The operating point: pump curve meets system curve.
      model.evaluate_derived(t, y, p, rng, derived.data());
      const double u = 1.0 - y[w], shutoff = param("H0") * u * u * speed * speed;
      const double flow = std::sqrt((shutoff - param("H_static")) / (param("A_pump") + param("K_sys")));
      worst_flow = std::max(worst_flow, std::fabs(derived[2] - flow) / flow);
    }
  }
  CHECK(worst_w < 1e-8);
  CHECK(worst_flow < 1e-12);
}

TEST_CASE("equations: exact Jacobians agree with finite differences, initial values are expressions") {
  const auto s = testing::load_scenario(testing::repository_path("scenarios/equations/pump_wear.yaml"),
                                        {"sampling.samples=1"});
  const auto& m = *s.model.model;
  engine::ShardGenerator gen(s, 1);
  const auto shard = gen.shard(0);
  const std::size_t n = m.num_states(), np = m.num_parameters();
  const std::vector<double> p(shard.parameters.begin(), shard.parameters.begin() + static_cast<long>(np));
  const std::vector<double> y = {0.03, 100.0};
  std::vector<double> jy(n * n), jp(n * np), f0(n), f1(n);
  m.jacobian(1000.0, y.data(), p.data(), jy.data());
  m.parameter_jacobian(1000.0, y.data(), p.data(), jp.data());
  for (std::size_t j = 0; j < n; ++j) {
    auto yh = y;
    const double h = 1e-6 * std::max(1.0, std::fabs(y[j]));
    yh[j] += h;
    m.rhs(1000.0, y.data(), p.data(), f0.data());
    m.rhs(1000.0, yh.data(), p.data(), f1.data());
    for (std::size_t i = 0; i < n; ++i) CHECK(jy[i + n * j] == Approx((f1[i] - f0[i]) / h).epsilon(1e-5).margin(1e-12));
  }
  for (std::size_t k = 0; k < np; ++k) {
    auto ph = p;
    const double h = 1e-6 * std::max(1e-6, std::fabs(p[k]));
    ph[k] += h;
    m.rhs(1000.0, y.data(), p.data(), f0.data());
    m.rhs(1000.0, y.data(), ph.data(), f1.data());
    for (std::size_t i = 0; i < n; ++i) CHECK(jp[i + n * k] == Approx((f1[i] - f0[i]) / h).epsilon(1e-4).margin(1e-12));
  }
}

TEST_CASE("equations: declared invariants become the audit's conservation laws, or are refused with why") {
  const std::string model =
      "  states:\n    - {name: A, initial: 2 * k}\n    - {name: B, initial: k}\n"
      "  equations:\n    dA/dt: -k * A\n    dB/dt: 2 * k * A\n"
      "  invariants:\n    - {name: mass, expression: \"2 * A + B + 7\"}\n";
  core::Diagnostics d;
  auto s = engine::load_scenario(write_scenario("invariant.yaml", model, "  k: {value: 0.5}\n"), {}, d);
  INFO(d.report());
  REQUIRE(s);
  const auto laws = s->model.model->linear_invariants();
  REQUIRE(laws.size() == 1);
  CHECK(laws[0].weights == std::vector<double>{2.0, 1.0});
  std::vector<double> y0(2);
  const double p[] = {0.5};
  s->model.model->initial_state(p, y0.data());
  CHECK(y0 == std::vector<double>{1.0, 0.5});

  const std::string report = errors("nonlinear.yaml",
                                    "  states:\n    - {name: A, initial: 1}\n  equations:\n    dA/dt: -k * A\n"
                                    "  invariants:\n    - {name: energy, expression: \"A^2 + k\"}\n");
  CHECK_THAT(report, Catch::Contains("nonlinear.yaml:9:34: error: model.invariants[0].expression: invariant "
                                     "'energy' (A^2 + k) is not linear in the states"));
}

TEST_CASE("equations: every mistake is reported at file:line:column with what would be valid") {
  struct Case {
    const char* file;
    const char* model;
    const char* message;
  };
  const Case cases[] = {
      // An unknown name is a parameter the scenario must define; a typo of a symbol gets a hint.
      {"typo.yaml",
       "  states:\n    - {name: Q, initial: 1}\n  definitions:\n    rate: \"k * 2\"\n"
       "  equations:\n    dQ/dt: \"-rat * Q\"\n",
       "typo.yaml:9:14: error: model.equations.dQ/dt refers to parameter 'rat', which is not defined in parameters; "
       "did you mean 'rate'?"},
      {"function.yaml", "  states:\n    - {name: Q, initial: 1}\n  equations:\n    dQ/dt: \"-k * sqrtt(Q)\"\n",
       "function.yaml:7:18: error: model.equations.dQ/dt: unknown function 'sqrtt'; did you mean 'sqrt'?"},
      {"cycle.yaml",
       "  states:\n    - {name: Q, initial: 1}\n  definitions:\n    a: \"b + k\"\n    b: \"2 * a\"\n"
       "  equations:\n    dQ/dt: \"-a * Q\"\n",
       "cycle.yaml:7:9: error: model.definitions.a: definition 'a' depends on itself: a -> b -> a"},
      {"unknown_state.yaml", "  states:\n    - {name: Q, initial: 1}\n  equations:\n    dQ/dt: -k\n    dR/dt: k\n",
       "error: model.equations: 'dR/dt' is not the derivative of a state ('R' is not declared in states); expected "
       "dQ/dt"},
      {"missing.yaml", "  states:\n    - {name: Q, initial: 1}\n    - {name: R, initial: 1}\n  equations:\n    dQ/dt: -k\n",
       "model.equations: state 'R' has no equation; add 'dR/dt: ...'"},
      {"initial.yaml",
       "  states:\n    - {name: Q, initial: \"2 * R\"}\n    - {name: R, initial: 1}\n"
       "  equations:\n    dQ/dt: -k\n    dR/dt: k\n",
       "initial.yaml:5:31: error: model.states[0].initial: an initial value may use parameters only, not the state 'R'"},
      {"reserved.yaml", "  states:\n    - {name: t, initial: 1}\n  equations:\n    dt/dt: -k\n", "'t' is reserved"},
      {"twice.yaml", "  states:\n    - {name: Q, initial: 1}\n  definitions:\n    Q: k\n  equations:\n    dQ/dt: -k\n",
       "'Q' is declared twice (as a state already)"},
      {"syntax.yaml", "  states:\n    - {name: Q, initial: 1}\n  equations:\n    dQ/dt: \"-k * (Q + 1\"\n",
       "syntax.yaml:7:18: error: model.equations.dQ/dt: '(' is not closed in '-k * (Q + 1'"},
  };
  for (const Case& c : cases) {
    INFO(c.file);
    CHECK_THAT(errors(c.file, c.model), Catch::Contains(c.message));
  }
}

// A user model's definitions are observables the anchor differentiates exactly: noisy flow and
// head readings of six pumps made with known wear and static head give those values back.
TEST_CASE("equations: anchor recovers the pump's wear coefficient and static head from flow and head readings") {
  const std::vector<std::string> truth = {"parameters.c_wear={value: 3.0e-7}", "parameters.H_static={value: 21.5}",
                                          "sampling.samples=6", "events=[]", "labels=[]",
                                          "anchor.fit=[{parameter: c_wear, low: 1.0e-8, high: 1.0e-5}, "
                                          "{parameter: H_static, low: 10, high: 30}]"};
  const std::string anchor_section =
      "anchor={observables: [{name: flow, observation: flow_meter, noise: additive}, "
      "{name: head, observation: discharge_head, noise: additive}], fit: [c_wear, H_static], starts: 4, seed: 1}";
  const auto truth_run = testing::load_scenario(testing::repository_path("scenarios/equations/pump_wear.yaml"), truth);
  engine::ShardGenerator gen(truth_run, 2);
  const auto shard = gen.shard(0);
  // The readings as a real-data file would give them, every 10th, with each pump's conditions.
  anchor::RealData data;
  data.file = "pumps.csv";
  data.covariate_columns = {"N", "K_sys", "solids"};
  for (std::size_t i = 0; i < shard.samples; ++i) {
    anchor::RealUnit unit;
    unit.id = "pump_" + std::to_string(i + 1);
    for (const auto& c : data.covariate_columns)
      unit.covariates[c] = shard.parameters[i * shard.num_parameters() + index_of(shard.parameter_names, c)];
    for (const auto& [observable, channel] : {std::pair{"flow", "flow_meter"}, {"head", "discharge_head"}}) {
      const auto& block = shard.observation(channel);
      anchor::RealSeries series;
      series.observable = observable;
      for (std::size_t r = 0; r < block.times.size(); r += 10)
        series.readings.push_back({block.times[r], block.values[i * block.times.size() + r], 0.0, 0});
      unit.series.push_back(series);
    }
    data.units.push_back(unit);
  }
  auto s = testing::load_scenario(testing::repository_path("scenarios/equations/pump_wear.yaml"), {anchor_section});
  core::Diagnostics diagnostics;
  auto pr = engine::calibration_problem(s, data, diagnostics);
  INFO(diagnostics.report());
  REQUIRE(pr);
  anchor::CalibrationOptions opt;
  opt.starts = 4;
  opt.seed = 1;
  opt.threads = 2;
  const auto c = anchor::calibrate(*pr, opt);
  INFO(c.message);
  REQUIRE(c.success);
  const std::map<std::string, double> expected = {{"c_wear", 3.0e-7}, {"H_static", 21.5}};
  for (const auto& e : c.shared) {
    INFO(e.name << " = " << e.estimate << " [" << e.lower << ", " << e.upper << "]");
    CHECK(e.lower <= expected.at(e.name));
    CHECK(e.upper >= expected.at(e.name));
    CHECK(e.estimate == Approx(expected.at(e.name)).epsilon(0.05));
  }
}

// Issue 27's accuracy rule on user models: Rodas5P at rtol 1e-6 agrees with CVODES at 1e-11
// within the requested tolerance (atol 1e-9 where a state is near 0), on every state and output.
TEST_CASE("equations: Rodas5P and CVODES agree on both examples") {
  for (const char* file : {"scenarios/equations/battery_fade.yaml", "scenarios/equations/pump_wear.yaml"}) {
    INFO(file);
    const std::vector<std::string> common = {"sampling.samples=16", "events=[]", "labels=[]", "solver.rtol=1e-6"};
    auto with = [&](const std::vector<std::string>& extra) {  // later overrides win
      std::vector<std::string> all = common;
      all.insert(all.end(), extra.begin(), extra.end());
      return all;
    };
    const auto rodas = testing::load_scenario(testing::repository_path(file), with({"solver.method=rosenbrock"}));
    const auto cvodes = testing::load_scenario(testing::repository_path(file),
                                               with({"solver.method=bdf", "solver.rtol=1e-11"}));
    engine::ShardGenerator a(rodas, 1), b(cvodes, 1);
    const auto x = a.shard(0), y = b.shard(0);
    REQUIRE(x.states.size() == y.states.size());
    double worst = 0.0;
    for (std::size_t k = 0; k < x.states.size(); ++k)
      worst = std::max(worst, std::fabs(x.states[k] - y.states[k]) / (1e-6 * std::fabs(y.states[k]) + 1e-9));
    // Measured 2026-12-03: 0.38 (battery) and 0.087 (pump) tolerances; CVODES itself at rtol 1e-6
    // is off by 12.6 and 2.4.
    INFO("Rodas5P at rtol 1e-6 against CVODES at 1e-11: worst error " << worst << " tolerances");
    CHECK(worst < 1.0);
  }
}

TEST_CASE("anchor: past a failure event a unit continues at its failure rate, and the fit finds the truth from there") {
  // Readings from the closed form with k = 0.5, c = 3 (D = D0 / (1 - k D0 t), H = -(c/k) ln(1 - k D0 t)):
  // D stays below the failure size of 2. The fit starts at k = 2, where the crack runs away at
  // t = 5 h, before the last reading: the solve stops at D = 2 (t = 4.75 h) and the later readings
  // see the continuation. Solves that succeed are fitted as they are (the pump test: readings past
  // a retirement threshold). (Ceres' gradient check cannot judge these rows: CVODES' root location
  // moves with c by its tolerance, so its finite differences of D by c are noise where the exact
  // derivative is 0; checked by hand, the Jacobians agree elsewhere to the noise.)
  const double D0 = 0.1, k = 0.5, c = 3.0;
  anchor::RealData data;
  data.file = "growth.csv";
  anchor::RealUnit unit;
  unit.id = "u1";
  anchor::RealSeries defect, heat;
  defect.observable = "defect", heat.observable = "heat";
  for (int i = 0; i <= 20; ++i) {
    const double t = 0.5 * i, q = 1.0 - k * D0 * t, wiggle = 0.001 * ((i % 3) - 1);
    defect.readings.push_back({t, D0 / q + wiggle, 0.0, 0});
    heat.readings.push_back({t, -(c / k) * std::log(q) - wiggle, 0.0, 0});
  }
  unit.series = {defect, heat};
  data.units.push_back(unit);
  const std::string file = testing::repository_path("tests/fixtures/equations/growth_to_failure.yaml");
  core::Diagnostics diagnostics;
  auto s = testing::load_scenario(file, {});
  auto pr = engine::calibration_problem(s, data, diagnostics);
  INFO(diagnostics.report());
  REQUIRE(pr);
  REQUIRE(pr->stop_events);
  anchor::CalibrationOptions opt;
  opt.starts = 1;
  const auto fit = anchor::calibrate(*pr, opt);
  INFO(fit.message);
  REQUIRE(fit.success);
  for (const auto& e : fit.shared) {
    INFO(e.name << " = " << e.estimate << " [" << e.lower << ", " << e.upper << "]");
    CHECK(e.estimate == Approx(e.name == "k" ? k : c).epsilon(1e-3));
  }
  // Without the event the same start's solve fails (the crack runs away at 5 h): no start is usable.
  auto no_events = testing::load_scenario(file, {"events=[]"});
  auto plain = engine::calibration_problem(no_events, data, diagnostics);
  REQUIRE(plain);
  CHECK_FALSE(plain->stop_events);
  CHECK_FALSE(anchor::calibrate(*plain, opt).success);
}
