#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "physynth/engine/feed.h"
#include "physynth/engine/run.h"
#include "support/test_problems.h"

using namespace physynth;
namespace fs = std::filesystem;

namespace {
engine::Scenario bearing_fleet(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> overrides = {"sampling.samples=80", "output.shard_size=30"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  core::Diagnostics d;
  auto s = engine::load_scenario(testing::repository_path("scenarios/manufacturing/bearing_fleet.yaml"), overrides, d);
  INFO(d.report());
  REQUIRE(s);
  return std::move(*s);
}

std::vector<float> read_npy_f4(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string b((std::istreambuf_iterator<char>(in)), {});
  const std::size_t header = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  REQUIRE(b.find("'descr': '<f4'") != std::string::npos);
  std::vector<float> v((b.size() - 10 - header) / 4);
  std::memcpy(v.data(), b.data() + 10 + header, v.size() * 4);
  return v;
}

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }
}  // namespace

TEST_CASE("feed: the stream and the files give identical batches, and no unit is in two splits", "[slow]") {
  const auto s = bearing_fleet();
  const std::string dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/feed_files";
  fs::remove_all(dir);
  fs::create_directories(dir);
  engine::write_window_files(s, dir, 2);
  std::set<std::int64_t> units[3];
  std::size_t total = 0;
  for (engine::Split split : {engine::Split::kTrain, engine::Split::kValidation, engine::Split::kTest}) {
    INFO(engine::split_name(split));
    const std::string stem = dir + "/windows-" + engine::split_name(split);
    const auto x = read_npy_f4(stem + ".x.npy"), y = read_npy_f4(stem + ".y.npy");
    engine::FeedStream stream(s, split, false, 1);  // another thread count: the same numbers
    engine::WindowBatch batch;
    std::size_t offset = 0, batches = 0;
    while (stream.next(&batch)) {
      ++batches;
      REQUIRE(batch.window == 12);
      REQUIRE(batch.channels == 1);
      if (offset + batch.size < y.size()) REQUIRE(batch.size == 128);  // only the last batch is short
      for (std::size_t k = 0; k < batch.size; ++k) {
        REQUIRE(batch.targets[k] == y[offset + k]);
        for (std::size_t j = 0; j < 12; ++j) REQUIRE(same(batch.features[k * 12 + j], x[(offset + k) * 12 + j]));
        units[static_cast<int>(split)].insert(batch.samples[k]);
      }
      offset += batch.size;
    }
    CHECK(offset == y.size());
    CHECK(batches == (y.size() + 127) / 128);
    total += offset;
  }
  CHECK(total > 0);
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (auto u : units[a]) CHECK(units[b].count(u) == 0);
  CHECK(units[0].size() > units[1].size());  // 70 / 15 / 15
}

TEST_CASE("feed: each window is the channel's readings with the target at its last reading") {
  const auto s = bearing_fleet();
  engine::ShardGenerator generator(s, 2);
  const engine::Shard shard = generator.shard(0);
  engine::WindowBatch w;
  engine::append_windows(s, shard, engine::Split::kTrain, &w);
  REQUIRE(w.size > 0);
  const auto& temperature = shard.observations[0];
  const std::size_t R = temperature.times.size(), T = shard.times.size();
  for (std::size_t k = 0; k < w.size; ++k) {
    const std::size_t i = static_cast<std::size_t>(w.samples[k]) - shard.first_sample;
    const std::size_t end = static_cast<std::size_t>(w.end_times[k]);
    REQUIRE(engine::split_of(shard.first_sample + i, s) == engine::Split::kTrain);
    REQUIRE((end + 1 - 12) % 3 == 0);  // stride 3
    for (std::size_t j = 0; j < 12; ++j)
      REQUIRE(same(w.features[k * 12 + j], static_cast<float>(temperature.values[i * R + end - 11 + j])));
    // The reading times are the grid's here, so the reading index is the grid row.
    REQUIRE(w.targets[k] == static_cast<float>(shard.record_labels[(i * T + end) * 2 + 0]));
    REQUIRE(w.targets[k] <= 125.0f);
  }
}

TEST_CASE("feed: an endless stream goes past the scenario's samples, a Latin hypercube cannot") {
  CHECK_THROWS_WITH(engine::FeedStream(bearing_fleet(), engine::Split::kTrain, true),
                    "an endless feed needs sampling.design random or sobol: a Latin hypercube has exactly "
                    "sampling.samples points");
  const auto s = bearing_fleet({"sampling.design=random", "sampling.samples=10", "output.shard_size=10"});
  engine::FeedStream stream(s, engine::Split::kTrain, true, 2);
  engine::WindowBatch batch;
  std::int64_t largest = 0;
  for (int n = 0; n < 20 && stream.next(&batch); ++n)
    for (auto u : batch.samples) largest = std::max(largest, u);
  CHECK(largest >= 10);
}

TEST_CASE("feed: the C-MAPSS export parses with the same reader as train_FD001.txt, its units numbered without gaps") {
  const auto fd001 = engine::read_cmapss(testing::fixture("fixtures/cmapss-fd001/train_FD001_units_1_2.txt"));
  REQUIRE(fd001.size() == 479);
  const auto s = bearing_fleet();
  const std::string path = std::string(PHYSYNTH_TEST_OUTPUT) + "/train_bearing.txt";
  engine::write_cmapss(s, path, 2);
  const auto rows = engine::read_cmapss(path);
  REQUIRE(rows.size() > 0);
  // Units count 1, 2, ... without gaps, cycles count 1, 2, ... within a unit, settings hold the
  // unit's load and speed.
  double unit = 0, cycle = 0;
  for (const auto& r : rows) {
    if (r[0] != unit) {
      REQUIRE(r[0] == unit + 1);
      unit = r[0];
      cycle = 0;
    }
    REQUIRE(r[1] == cycle + 1);
    cycle = r[1];
    REQUIRE((r[2] == 4 || r[2] == 6 || r[2] == 8));
    REQUIRE((r[3] == 25 || r[3] == 30 || r[3] == 35));
    REQUIRE(r[4] == 0);
    REQUIRE(r[5] > 10.0);  // a temperature in deg C
    for (int c = 6; c < 26; ++c) REQUIRE(r[c] == 0);
  }
  // Same line shape as FD001: two trailing spaces.
  std::ifstream a(path), b(testing::fixture("fixtures/cmapss-fd001/train_FD001_units_1_2.txt"));
  std::string la, lb;
  std::getline(a, la);
  std::getline(b, lb);
  CHECK(la.substr(la.size() - 2) == "  ");
  CHECK(lb.substr(lb.size() - 2) == "  ");
}

TEST_CASE("read_cmapss: a malformed row names file, line and what is wrong") {
  const std::string path = std::string(PHYSYNTH_TEST_OUTPUT) + "/bad_cmapss.txt";
  std::ofstream(path) << "1 1 0 0 0\n";
  CHECK_THROWS_WITH(engine::read_cmapss(path),
                    path + ":1: 5 columns, C-MAPSS has 26 (unit, cycle, 3 settings, 21 sensors)");
}
