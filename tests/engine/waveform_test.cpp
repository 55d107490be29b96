// output.waveforms: the raw vibration snapshots behind the recorded features, written into the
// HDF5 shards; the features are the function of exactly these samples.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "physynth/anchor/real_data.h"
#include "physynth/core/random.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/run.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {
std::optional<engine::Scenario> mixed_fleet(const std::vector<std::string>& extra, core::Diagnostics& d) {
  std::vector<std::string> overrides = {"sampling.samples=6", "output.shard_size=4"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return engine::load_scenario(testing::repository_path("scenarios/manufacturing/mixed_fleet.yaml"), overrides, d);
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }
}  // namespace

TEST_CASE("waveforms: the written snapshots are the samples the recorded features were computed from") {
  core::Diagnostics d;
  auto s = mixed_fleet({"output.waveforms={every: 10}"}, d);
  INFO(d.report());
  REQUIRE(s);
  const core::Model& model = *s->model.model;
  engine::ShardGenerator generator(*s, 2);
  const engine::Shard shard = generator.shard(0);
  const std::size_t K = shard.waveform_times.size(), L = shard.waveform_length, n = model.num_states();
  REQUIRE(K == 7);     // readings every 50 h over 3000 h: 61, every 10th
  REQUIRE(L == 5000);  // 0.25 s at 20 kHz
  CHECK(shard.waveform_rate_hz == 20000.0);
  CHECK(shard.waveform_units == "g");
  const auto& rms = shard.observation("vib_rms");
  const int rms_channel =
      static_cast<int>(std::find_if(model.derived_channels().begin(), model.derived_channels().end(),
                                    [](const auto& v) { return v.name == "vib_rms"; }) -
                       model.derived_channels().begin());
  std::size_t compared = 0, past_end = 0;
  std::vector<double> features(model.derived_channels().size());
  for (std::size_t i = 0; i < shard.samples; ++i)
    for (std::size_t k = 0; k < K; ++k) {
      const double t = shard.waveform_times[k];
      const float* stored = &shard.waveforms[(i * K + k) * L];
      const auto row =
          static_cast<std::size_t>(std::lower_bound(shard.times.begin(), shard.times.end(), t) - shard.times.begin());
      if (t > shard.t_reached[i]) {
        CHECK(std::isnan(stored[0]));
        ++past_end;
        continue;
      }
      const std::uint64_t sample = shard.first_sample + i;
      const double* y = &shard.states[(i * shard.times.size() + row) * n];
      const double* p = &shard.parameters[i * model.num_parameters()];
      core::CounterRng rng(s->seed, sample, core::stream::kDerivedBase + static_cast<std::uint32_t>(row));
      const std::vector<double> signal = model.derived_signal(t, y, p, rng);
      REQUIRE(signal.size() == L);
      for (std::size_t j = 0; j < L; ++j) REQUIRE(same_bits(stored[j], static_cast<float>(signal[j])));
      // The feature recorded at that reading (no sensor noise on vib_rms) is that snapshot's.
      core::CounterRng again(s->seed, sample, core::stream::kDerivedBase + static_cast<std::uint32_t>(row));
      model.evaluate_derived(t, y, p, again, features.data());
      const std::size_t reading =
          static_cast<std::size_t>(std::lower_bound(rms.times.begin(), rms.times.end(), t) - rms.times.begin());
      REQUIRE(rms.values[i * rms.times.size() + reading] == features[static_cast<std::size_t>(rms_channel)]);
      double sum = 0;
      for (double x : signal) sum += x * x;
      CHECK(features[static_cast<std::size_t>(rms_channel)] == Approx(std::sqrt(sum / L)).epsilon(1e-12));
      ++compared;
    }
  CHECK(compared >= 8);
  CHECK(compared + past_end == shard.samples * K);

  // Written and read back, chunked per snapshot.
  const std::string dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/waveforms";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto files = engine::write_hdf5(shard, dir, 4);
  const engine::Shard back = engine::read_hdf5(files.at(0));
  CHECK(back.waveform_times == shard.waveform_times);
  CHECK(back.waveform_length == L);
  CHECK(back.waveform_rate_hz == 20000.0);
  CHECK(back.waveform_units == "g");
  REQUIRE(back.waveforms.size() == shard.waveforms.size());
  for (std::size_t j = 0; j < back.waveforms.size(); ++j) REQUIRE(same_bits(back.waveforms[j], shard.waveforms[j]));
}

TEST_CASE("waveforms: refused, naming the key, where there is no signal or it would not fit") {
  core::Diagnostics d;
  CHECK_FALSE(engine::load_scenario(testing::repository_path("scenarios/kinetics/michaelis_menten.yaml"),
                                    {"output.waveforms={every: 1}"}, d));
  CHECK_THAT(d.report(), Catch::Contains("output.waveforms: model") && Catch::Contains("synthesises no raw signal"));
  core::Diagnostics d2;
  CHECK_FALSE(mixed_fleet({"output.waveforms={every: 1}", "sampling.samples=3000", "output.shard_size=3000"}, d2));
  CHECK_THAT(d2.report(), Catch::Contains("GiB in memory") && Catch::Contains("raise output.waveforms.every"));
  core::Diagnostics d3;
  CHECK_FALSE(mixed_fleet({"output.waveforms={every: 0}"}, d3));
  CHECK_THAT(d3.report(), Catch::Contains("output.waveforms.every must be between 1 and"));
}

// The anchor's path through random features (a feature of a synthesised snapshot, its noise drawn
// again with the same counters at every parameter value: common random numbers), small enough
// for the sanitizer build, where the CLI's bearing fits are left out (scripts/sanitize.sh): one
// healthy bearing, 0.02 s snapshots, its broadband noise level recovered from vib_rms alone.
TEST_CASE("anchor: a healthy bearing's noise level recovered from its vibration RMS (random features, common random numbers)") {
  const std::vector<std::string> base = {"model.snapshot.duration_s=0.02", "time={start: 0, end: 1000, points: 21, units: h}",
                                         "parameters.onset={value: 3000}", "events=[]", "labels=[]"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), base.begin(), base.end());
    return extra;
  };
  const std::string path = testing::repository_path("scenarios/manufacturing/bearing_vibration.yaml");
  const double truth = 0.08;
  const auto truth_run =
      testing::load_scenario(path, with({"sampling.samples=1", "parameters.vibration_noise={value: " + std::to_string(truth) + "}"}));
  engine::ShardGenerator gen(truth_run, 1);
  const auto shard = gen.shard(0);
  const auto& rms = shard.observation("vib_rms");
  anchor::RealData data;
  data.file = "bearing.csv";
  anchor::RealUnit unit;
  unit.id = "bearing_1";
  anchor::RealSeries series;
  series.observable = "vib_rms";
  for (std::size_t r = 0; r < rms.times.size(); ++r) series.readings.push_back({rms.times[r], rms.values[r], 0.0, 0});
  REQUIRE(series.readings.size() == 21);
  unit.series.push_back(series);
  data.units.push_back(unit);

  const auto s = testing::load_scenario(
      path, with({"anchor={observables: [{name: vib_rms, noise: additive}], "
                  "fit: [{parameter: vibration_noise, low: 0.001, high: 1}], starts: 1, seed: 1}"}));
  core::Diagnostics diagnostics;
  const auto pr = engine::calibration_problem(s, data, diagnostics);
  INFO(diagnostics.report());
  REQUIRE(pr);
  anchor::CalibrationOptions opt;
  opt.starts = 1;
  opt.threads = 1;
  const auto a = anchor::calibrate(*pr, opt), b = anchor::calibrate(*pr, opt);
  INFO(a.message);
  REQUIRE(a.success);
  const auto& all = a.shared.empty() ? a.per_unit : a.shared;
  REQUIRE(all.size() == 1);
  const auto& e = all.front();
  INFO(e.name << " = " << e.estimate << " [" << e.lower << ", " << e.upper << "]");
  CHECK(e.name == "vibration_noise");
  CHECK(e.estimate == Approx(truth).epsilon(0.1));
  CHECK(e.lower < e.estimate);
  CHECK(e.upper > e.estimate);
  // The same noise at every evaluation: the objective is a deterministic function, so is the fit.
  const auto& again = b.shared.empty() ? b.per_unit : b.shared;
  CHECK(again.front().estimate == e.estimate);
  CHECK(b.log_likelihood == a.log_likelihood);
}
