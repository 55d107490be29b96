#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "physynth/engine/dataset.h"
#include "physynth/engine/feed.h"
#include "physynth/engine/run.h"
#include "support/test_problems.h"

using namespace physynth;
namespace fs = std::filesystem;

namespace {

std::string output_dir(const std::string& name) {
  const std::string dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/" + name;
  fs::remove_all(dir);
  return dir;
}

engine::Scenario load(const std::string& path, const std::vector<std::string>& overrides) {
  core::Diagnostics d;
  auto s = engine::load_scenario(path, overrides, d);
  INFO(d.report());
  REQUIRE(s);
  return std::move(*s);
}

engine::RunSummary run(const engine::Scenario& s, const std::string& dir, int threads, bool write_beside_solve = true) {
  engine::RunOptions o;
  o.output_directory = dir;
  o.threads = threads;
  o.write_beside_solve = write_beside_solve;
  auto summary = engine::run_scenario(s, o);
  INFO(summary.message);
  REQUIRE(summary.completed);
  return summary;
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json json_of(const std::string& path) { return nlohmann::json::parse(bytes_of(path)); }

// A minimal reader of the NPY files physynth writes (version 1.0, C order).
std::vector<double> read_npy_f8(const std::string& path, std::vector<std::size_t>* shape) {
  const std::string b = bytes_of(path);
  REQUIRE(b.compare(0, 6, "\x93NUMPY") == 0);
  const std::size_t header_len = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  const std::string header = b.substr(10, header_len);
  REQUIRE(header.find("'descr': '<f8'") != std::string::npos);
  shape->clear();
  const auto open = header.find('('), close = header.find(')');
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  std::string item;
  while (std::getline(dims, item, ','))
    if (item.find_first_not_of(' ') != std::string::npos) shape->push_back(std::stoul(item));
  std::vector<double> v((b.size() - 10 - header_len) / 8);
  std::memcpy(v.data(), b.data() + 10 + header_len, v.size() * 8);
  return v;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::string f;
    std::stringstream ss(line);
    while (std::getline(ss, f, ',')) fields.push_back(f);
    if (!line.empty() && line.back() == ',') fields.push_back("");
    rows.push_back(fields);
  }
  return rows;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// The scenario at `path` with `set` run with its samples stepped together (solver.lanes, on 1
// and on 2 threads) and one at a time (1 thread), into output folders named after `name`: the
// same data files and audit, bit for bit. The runs with lanes (1 thread) and without.
struct LanesAndNot {
  engine::RunSummary on, off;
  std::string on_dir, off_dir;
};
LanesAndNot check_lanes_same_bytes(const std::string& path, const std::vector<std::string>& set,
                                   const std::string& name) {
  auto off_set = set;
  off_set.push_back("solver.lanes=false");
  LanesAndNot r;
  r.on_dir = output_dir(name + "_on");
  r.off_dir = output_dir(name + "_off");
  const std::string on2_dir = output_dir(name + "_on2");
  const auto on = load(path, set);
  r.on = run(on, r.on_dir, 1);
  const auto on2 = run(on, on2_dir, 2);
  r.off = run(load(path, off_set), r.off_dir, 1);
  REQUIRE(r.on.files.size() == r.off.files.size());
  REQUIRE(r.on.files.size() == on2.files.size());
  for (std::size_t i = 0; i < r.on.files.size(); ++i) {
    INFO(r.on.files[i]);
    CHECK(bytes_of(r.on.files[i]) == bytes_of(r.off.files[i]));
    CHECK(bytes_of(r.on.files[i]) == bytes_of(on2.files[i]));
  }
  CHECK(bytes_of(r.on_dir + "/audit.json") == bytes_of(r.off_dir + "/audit.json"));
  CHECK(bytes_of(on2_dir + "/audit.json") == bytes_of(r.off_dir + "/audit.json"));
  CHECK(r.on.failed == r.off.failed);
  return r;
}

}  // namespace

TEST_CASE("run_scenario: byte-identical data files with 1 and 2 threads", "[slow]") {
  // On 2 threads each shard is written while the next is solved, unless asked not to; on 1
  // thread, before the next is begun. The files are the same in every case.
  const auto s = load(testing::repository_path("scenarios/kinetics/michaelis_menten.yaml"),
                      {"sampling.samples=96", "output.shard_size=40", "output.formats=[hdf5, csv, npy]"});
  const std::string d1 = output_dir("threads1"), d2 = output_dir("threads2"), d3 = output_dir("threads2_in_turn");
  const auto r1 = run(s, d1, 1);
  const auto r2 = run(s, d2, 2);
  const auto r3 = run(s, d3, 2, false);
  CHECK(r2.threads == 2);
  REQUIRE(r1.files.size() == r2.files.size());
  REQUIRE(r1.files.size() == r3.files.size());
  REQUIRE(r1.files.size() == 3 * (1 + 2 + 5 + 4));  // 3 shards x (h5, 2 csv, 5 + 2x2 npy)
  for (std::size_t i = 0; i < r1.files.size(); ++i) {
    INFO(r1.files[i]);
    CHECK(fs::path(r1.files[i]).filename() == fs::path(r2.files[i]).filename());
    CHECK(bytes_of(r1.files[i]) == bytes_of(r2.files[i]));
    CHECK(bytes_of(r1.files[i]) == bytes_of(r3.files[i]));
  }
  CHECK(bytes_of(d1 + "/audit.json") == bytes_of(d2 + "/audit.json"));
  CHECK(bytes_of(d1 + "/audit.json") == bytes_of(d3 + "/audit.json"));
  auto m1 = json_of(d1 + "/manifest.json"), m2 = json_of(d2 + "/manifest.json");
  CHECK(m1["shards"] == m2["shards"]);
  CHECK(m1["shards"] == json_of(d3 + "/manifest.json")["shards"]);
  // The manifest records where each run went (-o); the rest of the scenario is the same.
  CHECK(m1["scenario"]["resolved"]["output"]["directory"] == d1);
  CHECK(m2["scenario"]["resolved"]["output"]["directory"] == d2);
  m1["scenario"]["resolved"]["output"].erase("directory");
  m2["scenario"]["resolved"]["output"].erase("directory");
  CHECK(m1["scenario"] == m2["scenario"]);
  // The manifest's checksums are those of the files.
  CHECK(m1["shards"][0]["files"].size() == 12);
}

TEST_CASE("run_scenario: samples stepped together (solver.lanes) give the same bytes as one at a time, any threads") {
  // Robertson on Rodas5P; a step budget some samples exhaust, so failures sit among successes.
  // (Robertson's samples take 194 to 199 steps.)
  for (const char* budget : {"solver.max_steps=100000", "solver.max_steps=197"}) {
    INFO(budget);
    const std::vector<std::string> set = {"sampling.samples=150", "output.shard_size=64", "output.formats=[hdf5, csv]",
                                          budget};
    const auto r = check_lanes_same_bytes(testing::repository_path("scenarios/kinetics/robertson.yaml"), set, "lanes");
    CHECK(json_of(r.on_dir + "/manifest.json")["scenario"]["resolved"]["solver"]["lanes"] == true);
    CHECK(json_of(r.off_dir + "/manifest.json")["scenario"]["resolved"]["solver"]["lanes"] == false);
    if (std::string(budget) == "solver.max_steps=197") {
      CHECK(r.on.failed > 0);
      CHECK(r.on.failed < 150);
    } else {
      CHECK(r.on.failed == 0);
    }
  }
}

TEST_CASE("run_scenario: the NDF's samples stepped together give the same bytes as one at a time, any threads") {
  // Michaelis-Menten on the NDF (what auto picks for it) with its recorded event, located lane by lane.
  const std::vector<std::string> set = {"sampling.samples=90", "output.shard_size=40", "output.formats=[hdf5, csv]",
                                        "solver.method=ndf"};
  const auto r =
      check_lanes_same_bytes(testing::repository_path("scenarios/kinetics/michaelis_menten.yaml"), set, "ndf_lanes");
  CHECK(r.on.failed == 0);
}

TEST_CASE("run_scenario: samples stepped together with a recorded event give the same bytes as one at a time") {
  // Reversible binding's half_bound event, located lane by lane; no sensitivities (those go one by one).
  const std::vector<std::string> set = {"sampling.samples=100", "output.shard_size=48", "output.formats=[hdf5, csv]",
                                        "solver.sensitivities=[]"};
  const auto r = check_lanes_same_bytes(testing::repository_path("scenarios/kinetics/reversible_binding.yaml"), set,
                                        "lanes_event");
  // The event fired in some samples (its time is a label).
  const auto rows = read_csv(r.on_dir + "/shard-000000.samples.csv");
  REQUIRE(rows.size() > 1);
  const auto column = std::find(rows[0].begin(), rows[0].end(), "time_to_half") - rows[0].begin();
  REQUIRE(column < static_cast<long>(rows[0].size()));
  int fired = 0;
  for (std::size_t k = 1; k < rows.size(); ++k) fired += !rows[k][static_cast<std::size_t>(column)].empty();
  CHECK(fired > 0);
}

TEST_CASE("run_scenario: HDF5, CSV and NPY read back to the same numbers") {
  const auto s = load(testing::repository_path("scenarios/kinetics/michaelis_menten.yaml"),
                      {"sampling.samples=20", "output.formats=[hdf5, csv, npy]"});
  const std::string dir = output_dir("readback");
  run(s, dir, 2);
  const engine::Shard h = engine::read_hdf5(dir + "/shard-000000.h5");
  REQUIRE(h.samples == 20);
  REQUIRE(h.state_names == std::vector<std::string>{"E", "S", "ES", "P"});
  const std::size_t T = h.times.size(), N = 4;

  std::vector<std::size_t> shape;
  const auto states = read_npy_f8(dir + "/shard-000000.states.npy", &shape);
  CHECK(shape == std::vector<std::size_t>{20, T, N});
  const auto params = read_npy_f8(dir + "/shard-000000.parameters.npy", &shape);
  CHECK(shape == std::vector<std::size_t>{20, h.num_parameters()});
  const auto obs = read_npy_f8(dir + "/shard-000000.obs.product_reading.npy", &shape);
  REQUIRE(states.size() == h.states.size());
  for (std::size_t i = 0; i < states.size(); ++i) REQUIRE(same(states[i], h.states[i]));
  for (std::size_t i = 0; i < params.size(); ++i) REQUIRE(same(params[i], h.parameters[i]));
  const auto* reading = &h.observation("product_reading");
  REQUIRE(obs.size() == reading->values.size());
  for (std::size_t i = 0; i < obs.size(); ++i) REQUIRE(same(obs[i], reading->values[i]));

  // CSV: sample, time, E, S, ES, P, product_reading, bound_fraction.
  const auto rows = read_csv(dir + "/shard-000000.csv");
  REQUIRE(rows.size() == 1 + 20 * T);
  CHECK(rows[0] ==
        std::vector<std::string>{"sample", "time", "E", "S", "ES", "P", "product_reading", "bound_fraction"});
  std::size_t compared = 0;
  for (std::size_t i = 0; i < 20; ++i)
    for (std::size_t k = 0; k < T; ++k) {
      const auto& r = rows[1 + i * T + k];
      REQUIRE(std::stoul(r[0]) == i);
      REQUIRE(std::stod(r[1]) == h.times[k]);
      for (std::size_t n = 0; n < N; ++n) REQUIRE(std::stod(r[2 + n]) == h.states[(i * T + k) * N + n]);
      // The reading, where the channel has one at this time.
      for (std::size_t j = 0; j < reading->times.size(); ++j)
        if (reading->times[j] == h.times[k]) {
          const double v = reading->values[i * reading->times.size() + j];
          if (std::isnan(v))
            CHECK(r[6].empty());
          else
            CHECK(std::stod(r[6]) == v);
          ++compared;
        }
    }
  CHECK(compared == 20 * reading->times.size());
  const auto meta = read_csv(dir + "/shard-000000.samples.csv");
  REQUIRE(meta.size() == 21);
  for (std::size_t i = 0; i < 20; ++i)
    for (std::size_t j = 0; j < h.num_parameters(); ++j)
      REQUIRE(std::stod(meta[1 + i][3 + j]) == h.parameters[i * h.num_parameters() + j]);
}

TEST_CASE("run_scenario: failing samples are recorded and every other sample is written") {
  const auto s = load(testing::fixture("fixtures/failing_samples.yaml"), {});
  const std::string dir = output_dir("failing");
  const auto r = run(s, dir, 2);
  CHECK(r.failed > 0);
  CHECK(r.ok > 0);
  CHECK(r.ok + r.failed == 40);
  const auto manifest = json_of(dir + "/manifest.json");
  REQUIRE(manifest["failures"].size() == r.failed);
  for (const auto& f : manifest["failures"]) {
    CHECK_FALSE(f["flag"].get<std::string>().empty());
    CHECK(f["parameters"]["k"].get<double>() > 7.0);  // ln(DBL_MAX) / 100 = 7.1
    CHECK(f["t_reached"].get<double>() < 100.0);
  }
  std::size_t failed_seen = 0;
  for (int shard = 0; shard < 3; ++shard) {
    const auto h = engine::read_hdf5(dir + "/" + engine::shard_stem(shard) + ".h5");
    for (std::size_t i = 0; i < h.samples; ++i) {
      const double k = h.parameters[i * h.num_parameters() + 1];
      const bool failed = h.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kFailed);
      failed_seen += failed;
      const std::size_t T = h.times.size();
      for (std::size_t t = 0; t < T; ++t) {
        const double a = h.states[i * T + t];
        if (failed)
          REQUIRE(std::isnan(a));
        else
          REQUIRE(a == Approx(std::exp(k * h.times[t])).epsilon(1e-4));
      }
      if (failed) CHECK(std::isnan(h.labels[i]));
    }
  }
  CHECK(failed_seen == r.failed);
  const auto audit = json_of(dir + "/audit.json");
  CHECK(audit["failed"] == r.failed);
}

TEST_CASE("run_scenario: every example scenario runs, conserves and stays non-negative", "[slow]") {
  for (const char* f : {"michaelis_menten", "reversible_binding", "robertson", "puromycin"}) {
    INFO(f);
    const auto s =
        load(testing::repository_path(std::string("scenarios/kinetics/") + f + ".yaml"), {"sampling.samples=24"});
    const std::string dir = output_dir(std::string("example_") + f);
    const auto r = run(s, dir, 2);
    CHECK(r.failed == 0);
    const auto audit = json_of(dir + "/audit.json");
    CHECK(audit["conservation"]["worst_relative_violation"].get<double>() < 1e-8);
    CHECK(audit["conservation"]["laws"].size() >= 1);
    CHECK(audit["negative_amounts"]["samples_below_minus_tolerance"].get<int>() == 0);
    CHECK(audit["solver_statistics"]["steps"]["total"].get<double>() > 0);
  }
}

TEST_CASE("run_scenario: an earlier run is not overwritten unless asked") {
  const auto s = load(testing::repository_path("scenarios/kinetics/reversible_binding.yaml"), {"sampling.samples=4"});
  const std::string dir = output_dir("overwrite");
  run(s, dir, 1);
  engine::RunOptions o;
  o.output_directory = dir;
  auto again = engine::run_scenario(s, o);
  CHECK_FALSE(again.completed);
  CHECK(again.message == "output directory '" + dir +
                             "' already holds a run (manifest.json); pass --overwrite to replace it, --resume to continue it, or choose "
                             "another directory with -o");
  o.overwrite = true;
  CHECK(engine::run_scenario(s, o).completed);
}

TEST_CASE("run_scenario: sensor artefacts do what the noise model says") {
  const auto s = load(testing::fixture("fixtures/noise.yaml"), {});
  const std::string dir = output_dir("noise");
  run(s, dir, 2);
  const auto h = engine::read_hdf5(dir + "/shard-000000.h5");
  const auto& clean = h.observation("clean");
  const std::size_t T = clean.times.size();
  REQUIRE(T == 201);
  CHECK(h.observation("coarse").times.size() == 11);
  CHECK(h.observation("coarse").times[3] == Approx(6.0));
  std::size_t dropped = 0, total = 0, spiked = 0;
  double sum_sq = 0.0, spike_sq = 0.0;
  for (std::size_t i = 0; i < h.samples; ++i)
    for (std::size_t k = 0; k < T; ++k) {
      const double x = h.states[i * T + k];
      const double exact = 10.0 * std::exp(-0.1 * clean.times[k]);
      REQUIRE(clean.values[i * T + k] == x);
      REQUIRE(x == Approx(exact).epsilon(1e-8));
      const double q = h.observation("quantised").values[i * T + k];
      REQUIRE(std::fabs(q / 0.5 - std::round(q / 0.5)) < 1e-12);
      REQUIRE(std::fabs(q - x) <= 0.25 + 1e-12);
      const double c = h.observation("clipped").values[i * T + k];
      REQUIRE(c == std::min(8.0, std::max(2.0, x)));
      REQUIRE(h.observation("biased").values[i * T + k] == Approx(x + 1.0).epsilon(1e-14));
      const double d = h.observation("dropped").values[i * T + k];
      if (std::isnan(d))
        ++dropped;
      else
        REQUIRE(d == x);
      const double spike = h.observation("spiky").values[i * T + k] - x;
      if (spike != 0.0) ++spiked;
      spike_sq += spike * spike;
      const double e = h.observation("additive").values[i * T + k] - x;
      sum_sq += e * e;
      ++total;
    }
  // 10050 readings: the dropout fraction within 4 standard errors of 0.2, the noise sd within 5 %.
  CHECK(std::fabs(static_cast<double>(dropped) / total - 0.2) < 4.0 * std::sqrt(0.2 * 0.8 / total));
  CHECK(std::sqrt(sum_sq / total) == Approx(0.1).epsilon(0.05));
  // Spikes: 5 % of readings, each N(0, 3^2); the rest untouched.
  CHECK(std::fabs(static_cast<double>(spiked) / total - 0.05) < 4.0 * std::sqrt(0.05 * 0.95 / total));
  CHECK(std::sqrt(spike_sq / spiked) == Approx(3.0).epsilon(0.1));
}

TEST_CASE("run_scenario: forward sensitivities are written and equal derivatives of the closed form") {
  const auto s = load(testing::repository_path("scenarios/kinetics/reversible_binding.yaml"),
                      {"sampling.samples=8", "output.formats=[hdf5, npy]"});
  const std::string dir = output_dir("sensitivities");
  run(s, dir, 2);
  const auto h = engine::read_hdf5(dir + "/shard-000000.h5");
  REQUIRE(h.sensitivity_names == std::vector<std::string>{"kon", "koff"});
  const std::size_t T = h.times.size(), K = 2, N = 3, M = h.num_parameters();
  REQUIRE(h.sensitivities.size() == h.samples * T * K * N);
  std::vector<std::size_t> shape;
  const auto npy = read_npy_f8(dir + "/shard-000000.sensitivities.npy", &shape);
  CHECK(shape == std::vector<std::size_t>{8, T, K, N});
  CHECK(npy == h.sensitivities);
  auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(h.parameter_names.begin(), h.parameter_names.end(), name) -
                                    h.parameter_names.begin());
  };
  for (std::size_t i = 0; i < h.samples; ++i) {
    const double a0 = h.parameters[i * M + column("A0")], b0 = h.parameters[i * M + column("B0")];
    const double kon = h.parameters[i * M + column("kon")], koff = h.parameters[i * M + column("koff")];
    for (std::size_t k = 10; k < T; k += 40) {
      const double t = h.times[k];
      const double hk = 1e-6 * kon, hf = 1e-6 * koff;
      const double d_kon =
          (testing::binding_ab(t, a0, b0, kon + hk, koff) - testing::binding_ab(t, a0, b0, kon - hk, koff)) / (2 * hk);
      const double d_koff =
          (testing::binding_ab(t, a0, b0, kon, koff + hf) - testing::binding_ab(t, a0, b0, kon, koff - hf)) / (2 * hf);
      CHECK(h.sensitivities[((i * T + k) * K + 0) * N + 2] == Approx(d_kon).epsilon(1e-4));
      CHECK(h.sensitivities[((i * T + k) * K + 1) * N + 2] == Approx(d_koff).epsilon(1e-4));
    }
  }
}

TEST_CASE("run_scenario: bearing fleet RUL labels are time to failure, clipped, and missing for censored units") {
  const auto s = load(testing::repository_path("scenarios/manufacturing/bearing_fleet.yaml"),
                      {"sampling.samples=60", "output.shard_size=60"});
  const std::string dir = output_dir("bearing_fleet");
  const auto r = run(s, dir, 2);
  CHECK(r.failed == 0);
  CHECK(r.stopped_by_event > 0);  // units that failed ...
  CHECK(r.ok > 0);                // ... and units still healthy at the horizon
  const auto h = engine::read_hdf5(dir + "/shard-000000.h5");
  REQUIRE(h.label_names == std::vector<std::string>{"time_to_failure"});
  REQUIRE(h.record_label_names == std::vector<std::string>{"rul", "health_stage"});
  const std::size_t T = h.times.size(), N = h.num_states();
  for (std::size_t i = 0; i < h.samples; ++i) {
    const double ttf = h.labels[i];
    const bool failed = h.status[i] == static_cast<std::int8_t>(engine::SampleStatus::kStoppedByEvent);
    CHECK(failed == !std::isnan(ttf));
    if (failed) CHECK(h.t_reached[i] == ttf);
    for (std::size_t k = 0; k < T; ++k) {
      const double rul = h.record_labels[(i * T + k) * 2], stage = h.record_labels[(i * T + k) * 2 + 1];
      const double spall = h.states[(i * T + k) * N];
      if (std::isnan(spall)) {  // after the failure: no record
        REQUIRE(std::isnan(rul));
        REQUIRE(std::isnan(stage));
        continue;
      }
      if (failed)
        REQUIRE(rul == Approx(std::min(ttf - h.times[k], 125.0)).epsilon(1e-12));
      else
        REQUIRE(std::isnan(rul));  // censored: the remaining life is unknown
      REQUIRE(stage == (spall < 0.1 ? 0.0 : spall < 0.5 ? 1.0 : 2.0));
      REQUIRE(spall <= 2.0 + 1e-9);
    }
  }
}

TEST_CASE("run_scenario: milling tools all wear out at ISO 8688's 0.3 mm, with force rising with wear", "[slow]") {
  const auto s = load(testing::repository_path("scenarios/manufacturing/milling_campaign.yaml"),
                      {"sampling.samples=40", "output.formats=[hdf5]"});
  const std::string dir = output_dir("milling");
  const auto r = run(s, dir, 2);
  CHECK(r.stopped_by_event == 40);
  const auto h = engine::read_hdf5(dir + "/shard-000000.h5");
  const std::size_t T = h.times.size();
  for (std::size_t i = 0; i < h.samples; ++i) {
    double previous = -1.0;
    for (std::size_t k = 0; k < T && !std::isnan(h.states[i * T + k]); ++k) {
      REQUIRE(h.states[i * T + k] > previous);  // monotone wear
      REQUIRE(h.states[i * T + k] < 0.3 + 1e-9);
      previous = h.states[i * T + k];
    }
  }
  const auto audit = json_of(dir + "/audit.json");
  CHECK(audit["events_fired"]["worn_out"] == 40);
}

TEST_CASE("run_scenario: in a mixed fleet each fault mode shows its signature in the vibration features", "[slow]") {
  const auto s = load(testing::repository_path("scenarios/manufacturing/mixed_fleet.yaml"),
                      {"sampling.samples=60", "output.shard_size=60"});
  const std::string dir = output_dir("mixed_fleet");
  run(s, dir, 2);
  const auto h = engine::read_hdf5(dir + "/shard-000000.h5");
  const auto &bpfo = h.observation("env_bpfo"), &bpfi = h.observation("env_bpfi"), &bsf = h.observation("env_bsf"),
             &kurtosis = h.observation("vib_kurtosis"), &one_x = h.observation("vib_1x");
  const std::size_t R = bpfo.times.size(), T = h.times.size();
  int checked[6] = {0, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < h.samples; ++i) {
    // The last snapshot the unit reached, and its spall there.
    std::size_t k = R;
    while (k > 0 && std::isnan(bpfo.values[i * R + k - 1])) --k;
    if (k == 0) continue;
    const std::size_t j = i * R + k - 1;
    const std::size_t row =
        static_cast<std::size_t>(std::lower_bound(h.times.begin(), h.times.end(), bpfo.times[k - 1]) - h.times.begin());
    const double spall = h.states[(i * T + row) * 2];
    if (spall < 0.5) continue;  // too early in the fault to show
    const int mode = static_cast<int>(h.labels[i * h.num_labels()]);
    INFO("unit " << i << ", fault mode " << mode << ", spall " << spall);
    switch (mode) {
      case 1:
        CHECK(bpfo.values[j] > 3.0 * std::max(bpfi.values[j], bsf.values[j]));
        break;
      case 2:
        CHECK(bpfi.values[j] > 3.0 * std::max(bpfo.values[j], bsf.values[j]));
        break;
      case 3:
        CHECK(bsf.values[j] > 3.0 * std::max(bpfo.values[j], bpfi.values[j]));
        break;
      case 4:
        CHECK(kurtosis.values[j] > 10.0);
        break;
      case 5: {
        // 1x amplitude = imbalance + gain * spall; on 0.25 s snapshots (4 Hz bins) a 25 or 35 Hz shaft
        // falls between bins and the rectangular window reads it up to 36 % low (scalloping).
        auto param = [&](const char* name) {
          const auto c =
              std::find(h.parameter_names.begin(), h.parameter_names.end(), name) - h.parameter_names.begin();
          return h.parameters[i * h.num_parameters() + static_cast<std::size_t>(c)];
        };
        CHECK(one_x.values[j] > 0.6 * (param("imbalance") + param("impulse_gain") * spall));
        CHECK(kurtosis.values[j] < 3.0);
        break;
      }
    }
    ++checked[mode];
  }
  for (int mode = 1; mode <= 5; ++mode) {
    INFO("fault mode " << mode);
    CHECK(checked[mode] > 0);
  }
}

TEST_CASE("run_scenario: operating regimes switch the physics, each record is in its regime's steady state") {
  const auto s = load(testing::repository_path("scenarios/manufacturing/cmapss_style.yaml"),
                      {"sampling.samples=12", "output.formats=[hdf5, csv, npy]"});
  const std::string d1 = output_dir("regimes1"), d2 = output_dir("regimes2");
  const auto r1 = run(s, d1, 1);
  const auto r2 = run(s, d2, 2);
  REQUIRE(r1.files.size() == r2.files.size());
  for (std::size_t k = 0; k < r1.files.size(); ++k) CHECK(bytes_of(r1.files[k]) == bytes_of(r2.files[k]));
  const auto h = engine::read_hdf5(d1 + "/shard-000000.h5");
  REQUIRE(h.regime.size() == h.samples * h.times.size());
  const std::size_t T = h.times.size(), M = h.num_parameters();
  auto param = [&](std::size_t i, const char* name) {
    const auto c = std::find(h.parameter_names.begin(), h.parameter_names.end(), name) - h.parameter_names.begin();
    return h.parameters[i * M + static_cast<std::size_t>(c)];
  };
  std::set<int> seen;
  for (std::size_t i = 0; i < h.samples; ++i)
    for (std::size_t k = 1; k < T; ++k) {
      const double regime = h.regime[i * T + k];
      if (std::isnan(regime)) break;  // past the failure
      seen.insert(static_cast<int>(regime));
      const auto& condition = s.regimes.conditions[static_cast<std::size_t>(regime)];
      const double load = condition[0], shaft_hz = condition[1], spall = h.states[(i * T + k) * 2];
      // Heat balance at steady state (the thermal time constant, 0.19 h, is far below a regime's 10 h).
      const double power = param(i, "friction") * (1.0 + param(i, "friction_gain") * spall) * load * 1000.0 *
                           param(i, "bore_diameter") / 2000.0 * 2.0 * M_PI * shaft_hz;
      INFO("unit " << i << ", t = " << h.times[k] << ", regime " << regime);
      // Near failure the spall grows fast and the temperature lags its moving steady state by about
      // tau dT_ss/dt (up to 0.1 K here); neighbouring regimes differ by 5 K or more.
      CHECK(h.states[(i * T + k) * 2 + 1] ==
            Approx(param(i, "ambient") + power / param(i, "heat_transfer")).margin(0.2));
    }
  CHECK(seen.size() == 6);

  // The C-MAPSS export carries each cycle's regime in its settings.
  const std::string path = d1 + "/train.txt";
  engine::write_cmapss(s, path, 1);
  const auto rows = engine::read_cmapss(path);
  REQUIRE(!rows.empty());
  for (const auto& row : rows) {
    const auto i = static_cast<std::size_t>(row[0]) - 1;
    const auto cycle = static_cast<std::size_t>(row[1]);
    const std::size_t k = (cycle - 1) * 2;  // readings every 20 h on a 10 h grid
    if (k == 0) continue;                   // t0: the regime of the first interval
    const auto& condition = s.regimes.conditions[static_cast<std::size_t>(h.regime[i * T + k])];
    REQUIRE(row[2] == condition[0]);
    REQUIRE(row[3] == condition[1]);
  }
}

TEST_CASE("run_scenario: an event on an expression of the state is located by root finding") {
  const auto s = load(testing::fixture("fixtures/expression_event.yaml"), {});
  const std::string dir = output_dir("expression_event");
  run(s, dir, 2);
  const auto h = engine::read_hdf5(dir + "/shard-000000.h5");
  for (std::size_t i = 0; i < h.samples; ++i) {
    const double k = h.labels[i * 2 + 1];
    CHECK(h.labels[i * 2] == Approx(std::log(2.0) / k).epsilon(1e-8));
  }
}

TEST_CASE("run_scenario: a shard computed into a written shard's memory is the shard computed alone, bit for bit") {
  // Later shards of a run reuse the bulk arrays of the shard written before them (run.cpp,
  // for_each_bulk_array); each block of samples clears its rows first. Stale values would show in the rows
  // a sample leaves NaN: after a stopping event, of a failed sample, at a dropped reading.
  const auto bits_equal = [](const auto& a, const auto& b) {
    // (memcmp may not be given the null data() of an empty vector, even for 0 bytes)
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0);
  };
  for (const char* fixture : {"fixtures/stopping_samples.yaml", "fixtures/failing_samples.yaml"}) {
    const auto s = load(testing::fixture(fixture), {});
    for (int threads : {1, 2}) {
      const std::string dir = output_dir("recycled_shards");
      run(s, dir, threads, threads == 2);
      engine::ShardGenerator alone(s, 1);
      REQUIRE(alone.num_shards() == 3);
      std::size_t nan_states = 0;
      for (std::uint64_t k = 0; k < alone.num_shards(); ++k) {
        INFO(fixture << ", " << threads << " threads, shard " << k);
        const engine::Shard written = engine::read_hdf5(dir + "/" + engine::shard_stem(k) + ".h5");
        const engine::Shard fresh = alone.shard(k);
        CHECK(bits_equal(written.states, fresh.states));
        CHECK(bits_equal(written.labels, fresh.labels));
        CHECK(bits_equal(written.record_labels, fresh.record_labels));
        REQUIRE(written.observations.size() == fresh.observations.size());
        for (std::size_t c = 0; c < fresh.observations.size(); ++c)
          CHECK(bits_equal(written.observations[c].values, fresh.observations[c].values));
        for (double x : fresh.states) nan_states += std::isnan(x);
      }
      CHECK(nan_states > 0);
    }
  }
}
