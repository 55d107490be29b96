// Every bad scenario file gets its exact, complete report.
#include <catch2/catch.hpp>

#include "physynth/engine/scenario.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {
std::string report_for(const std::string& path, const std::vector<std::string>& overrides = {}) {
  core::Diagnostics d;
  const auto s = engine::load_scenario(path, overrides, d);
  CHECK_FALSE(s.has_value());
  return d.report();
}
std::string one(const std::string& file, const std::string& position, const std::string& message) {
  return file + ":" + position + ": error: " + message + "\n1 error in 1 file; nothing was run.\n";
}
}  // namespace

TEST_CASE("load_scenario: each bad file gets its exact message") {
  struct Case {
    const char* file;
    const char* position;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"rtol_not_a_number", "14:16", "solver.rtol must be a number, got 'abc'"},
      {"unknown_key_typo", "12:25", "unknown key 'sed' in sampling; did you mean 'seed'?"},
      {"negative_rtol", "14:16", "solver.rtol must be > 0, got -1.0e-6"},
      {"negative_atol_per_state", "14:46", "solver.atol.B must be > 0, got -1"},
      {"uniform_low_above_high", "11:7", "parameters.k1: low (2) must be < high (1)"},
      {"unknown_species_in_reaction", "8:18",
       "model.reactions[0].equation: unknown species 'Xq' in 'A + Xq -> B'; species are A, B"},
      {"empty_time_grid", "13:16", "time.values must hold at least one time, got an empty list"},
      {"unknown_domain", "2:9",
       "domain must be 'crop', 'equations', 'kinetics' or 'manufacturing', got 'kinetic'; did you mean 'kinetics'?"},
      {"missing_time", "1:1", "missing required key 'time' in the scenario"},
      {"undefined_parameter", "8:50",
       "model.reactions[0].k refers to parameter 'k2', which is not defined in parameters"},
      {"unused_parameter", "11:7", "parameter 'k9' is not used by the model; did you mean 'k1'?"},
      {"invalid_yaml", "13:5", "invalid YAML: end of map flow not found"},
      {"time_end_before_start", "13:24", "time.end (0) must be > time.start (10)"},
      {"observation_unknown_variable", "16:38",
       "observations[0].expression: cannot evaluate 'A + Q': unknown name 'Q'; it may use A, B, A0, k1, t"},
      {"zero_samples", "12:21", "sampling.samples must be >= 1, got 0"},
      {"samples_not_integer", "12:21", "sampling.samples must be an integer, got 'ten'"},
      {"event_unknown_state", "16:25", "events[0].state: unknown state 'C'; states are A, B"},
      {"unknown_distribution", "11:22",
       "parameters.k1.distribution must be 'fixed', 'uniform', 'log_uniform', 'normal', 'log_normal', "
       "'truncated_normal' or 'choice', got 'gaussian'"},
      {"reversible_with_k", "8:51", "model.reactions[0] is reversible ('<->'): give 'kf' and 'kr' instead of 'k'"},
      {"label_unknown_event", "16:27", "labels[0].event: unknown event 'finished'; the scenario defines no events"},
      {"normal_sd_zero", "11:43", "parameters.k1.sd must be > 0, got 0"},
      {"log_uniform_nonpositive_low", "11:40", "parameters.k1.low must be > 0 for a log_uniform distribution, got 0"},
      {"bad_equation_arrow", "8:18",
       "model.reactions[0].equation: cannot read 'A = B': no reaction arrow; write '->' (irreversible) or '<->' "
       "(reversible)"},
      {"dropout_out_of_range", "16:60", "observations[0].noise.dropout_probability must be in [0, 1), got 1.5"},
      {"feed_target_not_per_record", "12:35",
       "feed.target must be a per-record label (remaining_until, or per: record), got 't_worn'; the scenario has none"},
      {"clip_without_remaining", "9:43", "labels[0].clip applies only to 'remaining_until' labels"},
      {"manufacturing_unknown_parameter", "3:26", "unknown key 'wear_rat' in model; did you mean 'wear_rate'?"},
      {"manufacturing_parameter_renamed", "3:30",
       "model.load must be a number; to sample it, define 'load' under parameters"},
      {"bearing_geometry_impossible", "5:13",
       "model.geometry: ball_diameter (40) must be smaller than pitch_diameter (39.04)"},
      {"unknown_sensitivity_parameter", "14:55",
       "solver.sensitivities[0]: 'k2' is not a parameter of the scenario; parameters are A0, k1; did you mean 'k1'?"},
  };
  for (const auto& c : cases) {
    const std::string path = testing::fixture(std::string("fixtures/bad/") + c.file + ".yaml");
    INFO(c.file);
    CHECK(report_for(path) == one(path, c.position, c.message));
  }
}

TEST_CASE("load_scenario: every problem in a file is reported at once") {
  const std::string path = testing::fixture("fixtures/bad/several_errors.yaml");
  CHECK(report_for(path) ==
        path +
            ":2:1: error: unknown key 'colour' in the scenario; valid keys are 'name', 'description', 'domain', "
            "'model', 'parameters', 'sampling', 'time', 'solver', 'events', 'observations', 'labels', 'output', "
            "'regimes', 'feed', 'field', 'backend', 'pinn', 'anchor', 'population' or 'provenance'\n" +
            path + ":13:21: error: sampling.samples must be >= 1, got 0\n" + path +
            ":15:16: error: solver.rtol must be > 0, got -1\n3 errors in 1 file; nothing was run.\n");
}

TEST_CASE("load_scenario: a regime parameter defined twice, and a condition of the wrong length") {
  const std::string path = testing::fixture("fixtures/bad/regime_parameter_twice.yaml");
  CHECK(report_for(path) ==
        path + ":5:9: error: parameter 'load' is set by regimes.parameters; define it in one place\n" + path +
            ":8:25: error: regimes.conditions[1] must have one value per regime parameter (2), got 1\n"
            "2 errors in 1 file; nothing was run.\n");
}

TEST_CASE("load_scenario: a missing file is reported with the reason") {
  CHECK(report_for("/no/such/scenario.yaml") ==
        "/no/such/scenario.yaml: error: cannot open scenario file: No such file or directory\n"
        "1 error in 1 file; nothing was run.\n");
}

TEST_CASE("load_scenario: --set overrides apply before validation and are named in errors") {
  const std::string path = testing::repository_path("scenarios/kinetics/robertson.yaml");
  CHECK(report_for(path, {"solver.rtol=-1"}) ==
        "--set: error: solver.rtol must be > 0, got -1\n1 error on the command line; nothing was run.\n");
  core::Diagnostics d;
  const auto s = engine::load_scenario(path, {"sampling.samples=7", "solver.rtol=1e-9", "solver.lanes=false"}, d);
  REQUIRE(s);
  CHECK(s->samples == 7);
  CHECK(s->solver.rtol == 1e-9);
  CHECK_FALSE(s->solver.lanes);
  const std::string lanes = report_for(path, {"solver.lanes=sometimes"});
  INFO(lanes);
  CHECK(lanes.find("solver.lanes") != std::string::npos);
  CHECK(lanes.find("sometimes") != std::string::npos);
}

TEST_CASE("load_scenario: every example scenario is valid") {
  for (const char* f : {"michaelis_menten", "reversible_binding", "robertson"}) {
    core::Diagnostics d;
    const auto s =
        engine::load_scenario(testing::repository_path(std::string("scenarios/kinetics/") + f + ".yaml"), {}, d);
    INFO(d.report());
    CHECK(s.has_value());
    CHECK(d.list().empty());
  }
}

TEST_CASE("load_scenario: the anchor population's problems, each with its place") {
  const std::string path = testing::fixture("fixtures/bad/anchor_population.yaml");
  CHECK(report_for(path) ==
        path + ":18:17: error: anchor.population.covariance must be 'diagonal' or 'full', got 'banded'\n" + path +
            ":19:12: error: anchor.population.group: 'K' is fitted; a group is known per unit\n" + path +
            ":20:17: error: anchor.population.per_group[0]: 'Km' is not a fitted parameter; they are Vm, K; did you "
            "mean 'Vm'?\n" +
            path +
            ":22:21: error: anchor.population.covariates[0].parameter: 'K' is not a per-unit fitted parameter; they "
            "are Vm\n" +
            path +
            ":23:36: error: anchor.population.covariates[1].covariate: 'S_0' is not a scenario parameter; they are "
            "S0, Vm, K; did you mean 'S0'?\n" +
            path +
            ":24:62: error: anchor.population.covariates[2].reference must be > 0 for a log covariate, got -1\n" +
            "6 errors in 1 file; nothing was run.\n");
}

TEST_CASE("load_scenario: the anchor section's problems, each with its place") {
  const std::string path = testing::fixture("fixtures/bad/anchor_section.yaml");
  CHECK(report_for(path) ==
        path +
            ":16:30: error: anchor.observables[0].observation: 'rat' is neither an observation nor a state; they "
            "are rate, S, P; did you mean 'rate'?\n" +
            path +
            ":17:43: error: anchor.observables[1].noise must be 'additive', 'proportional', 'log_normal' or "
            "'combined', got 'gaussian'\n" +
            path + ":18:9: error: anchor.fit[0]: unknown parameter 'Vmax'; the scenario's parameters are S0, Vm, K\n" +
            path +
            ":18:15: error: anchor.fit[1]: parameter 'K' has a fixed value (fixed(0.1)), so its fit needs "
            "'low' and 'high'\n" +
            path + ":18:58: error: anchor.fit[2].log: parameter 'Vm' is fitted in ln only with low > 0, got low -1\n" +
            "5 errors in 1 file; nothing was run.\n");
}

TEST_CASE("load_scenario: an anchor start outside its bounds and a random feature's draws, each with its place") {
  const std::string path = testing::repository_path("scenarios/manufacturing/bearing_vibration.yaml");
  CHECK(report_for(path, {"anchor.fit=[{parameter: onset, low: 10, high: 2000, start: 5000}]",
                          "anchor.observables=[{name: vib_rms, draws: 0}]"}) ==
        "--set: error: anchor.observables[0].draws must be between 1 and 1000, got 0\n"
        "--set: error: anchor.fit[0].start: start 5000 of parameter 'onset' is outside its bounds [10, 2000]\n"
        "2 errors on the command line; nothing was run.\n");
  CHECK(report_for(path, {"anchor.observables=[{name: vib_rms, noise: combined, sigma: 0.003}]"}) ==
        "--set: error: anchor.observables[0].sigma: combined noise estimates both of its sigmas (additive and "
        "proportional), so it takes no sigma; give each reading its sd, or choose additive or proportional noise "
        "with a known sigma\n"
        "1 error on the command line; nothing was run.\n");
}

TEST_CASE("load_scenario: a population fit refuses combined noise, naming the observable") {
  const std::string path = testing::repository_path("scenarios/kinetics/theophylline.yaml");
  CHECK(report_for(path, {"anchor.observables=[{name: cp, observation: serum_concentration, noise: combined}]"}) ==
        path +
            ":52:15: error: anchor.population: a population fit takes additive, proportional or log_normal noise; "
            "observable 'cp' has combined noise (not yet supported there)\n"
            "1 error in 1 file; nothing was run.\n");
}
