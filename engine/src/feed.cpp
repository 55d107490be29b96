#include "physynth/engine/feed.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "formats.h"
#include "physynth/core/diagnostics.h"
#include "physynth/core/random.h"
#include "physynth/engine/run.h"

namespace physynth::engine {

const char* split_name(Split s) {
  switch (s) {
    case Split::kTrain:
      return "train";
    case Split::kValidation:
      return "validation";
    case Split::kTest:
      return "test";
  }
  return "?";
}

bool parse_split(const std::string& text, Split* split) {
  for (Split s : {Split::kTrain, Split::kValidation, Split::kTest})
    if (text == split_name(s)) {
      *split = s;
      return true;
    }
  return false;
}

Split split_of(std::uint64_t sample, const Scenario& scenario) {
  const double u = core::CounterRng(scenario.seed, sample, core::stream::kSplit).uniform();
  if (u < scenario.feed.test_fraction) return Split::kTest;
  if (u < scenario.feed.test_fraction + scenario.feed.validation_fraction) return Split::kValidation;
  return Split::kTrain;
}

void WindowBatch::clear() {
  size = 0;
  features.clear();
  targets.clear();
  samples.clear();
  end_times.clear();
  times.clear();
}

void WindowBatch::take_front(WindowBatch& from, std::size_t n) {
  n = std::min(n, from.size);
  const std::size_t per = from.window * from.channels;
  window = from.window;
  channels = from.channels;
  features.insert(features.end(), from.features.begin(), from.features.begin() + static_cast<long>(n * per));
  targets.insert(targets.end(), from.targets.begin(), from.targets.begin() + static_cast<long>(n));
  samples.insert(samples.end(), from.samples.begin(), from.samples.begin() + static_cast<long>(n));
  end_times.insert(end_times.end(), from.end_times.begin(), from.end_times.begin() + static_cast<long>(n));
  times.insert(times.end(), from.times.begin(), from.times.begin() + static_cast<long>(n));
  from.features.erase(from.features.begin(), from.features.begin() + static_cast<long>(n * per));
  from.targets.erase(from.targets.begin(), from.targets.begin() + static_cast<long>(n));
  from.samples.erase(from.samples.begin(), from.samples.begin() + static_cast<long>(n));
  from.end_times.erase(from.end_times.begin(), from.end_times.begin() + static_cast<long>(n));
  from.times.erase(from.times.begin(), from.times.begin() + static_cast<long>(n));
  size += n;
  from.size -= n;
}

namespace {

// Grid row of each reading time of a channel (reading times are grid times).
std::vector<std::size_t> grid_rows(const Shard& shard, const ObservationBlock& ob) {
  std::vector<std::size_t> rows;
  for (double t : ob.times)
    rows.push_back(
        static_cast<std::size_t>(std::lower_bound(shard.times.begin(), shard.times.end(), t) - shard.times.begin()));
  return rows;
}

}  // namespace

void append_windows(const Scenario& s, const Shard& shard, Split split, WindowBatch* out) {
  const FeedSpec& f = s.feed;
  std::vector<const ObservationBlock*> blocks;
  for (const auto& name : f.channels) blocks.push_back(&shard.observation(name));
  const std::size_t R = blocks.front()->times.size(), C = blocks.size(), T = shard.times.size();
  const std::size_t L = shard.record_label_names.size();
  const auto target =
      static_cast<std::size_t>(std::find(shard.record_label_names.begin(), shard.record_label_names.end(), f.target) -
                               shard.record_label_names.begin());
  const auto rows = grid_rows(shard, *blocks.front());
  out->window = f.window;
  out->channels = C;
  if (R < f.window) return;
  for (std::size_t i = 0; i < shard.samples; ++i) {
    const std::uint64_t sample = shard.first_sample + i;
    if (split_of(sample, s) != split) continue;
    for (std::size_t end = f.window - 1; end < R; end += f.stride) {
      const double y = shard.record_labels[(i * T + rows[end]) * L + target];
      if (std::isnan(y)) continue;  // not reached, or censored
      const std::size_t start = end + 1 - f.window;
      for (std::size_t k = 0; k < f.window; ++k)
        for (std::size_t c = 0; c < C; ++c)
          out->features.push_back(static_cast<float>(blocks[c]->values[i * R + start + k]));
      out->targets.push_back(static_cast<float>(y));
      out->samples.push_back(static_cast<std::int64_t>(sample));
      out->end_times.push_back(static_cast<std::int64_t>(end));
      out->times.push_back(blocks.front()->times[end]);
      ++out->size;
    }
  }
}

struct FeedStream::Impl {
  const Scenario& s;
  Split split;
  bool endless;
  ShardGenerator generator;
  std::uint64_t next_sample = 0;
  WindowBatch pending;

  Impl(const Scenario& scenario, Split sp, bool forever, int threads)
      : s(scenario), split(sp), endless(forever), generator(scenario, threads) {}

  bool more() const { return endless || next_sample < s.samples; }

  void generate() {
    const std::uint64_t block = s.output.shard_size;
    const auto count = static_cast<std::size_t>(endless ? block : std::min(block, s.samples - next_sample));
    const Shard shard = generator.samples(next_sample, count);
    next_sample += count;
    append_windows(s, shard, split, &pending);
  }
};

FeedStream::FeedStream(const Scenario& scenario, Split split, bool endless, int threads) {
  if (!scenario.feed.present) throw std::invalid_argument("the scenario has no feed section");
  if (endless && scenario.design == core::Design::kLatinHypercube)
    throw std::invalid_argument(
        "an endless feed needs sampling.design random or sobol: a Latin hypercube has exactly "
        "sampling.samples points");
  impl_ = std::make_unique<Impl>(scenario, split, endless, threads);
}

FeedStream::~FeedStream() = default;

bool FeedStream::next(WindowBatch* batch) {
  Impl& m = *impl_;
  const std::size_t want = m.s.feed.batch_size;
  while (m.pending.size < want && m.more()) m.generate();
  batch->clear();
  if (m.pending.size == 0) return false;
  batch->take_front(m.pending, want);
  return true;
}

nlohmann::ordered_json channel_card(const Scenario& s, const std::string& channel, const std::string& units) {
  const core::Model& model = *s.model.model;
  nlohmann::ordered_json card;
  card["name"] = channel;
  card["units"] = units;
  for (std::size_t c = 0; c < s.observations.size(); ++c) {
    const ObservationSpec& o = s.observations[c];
    if (o.name != channel) continue;
    if (o.derived_index >= 0) {
      const auto info = model.derived_signal_info();
      std::string equation = "feature '" + o.expression + "' of model '" + model.name() + "''s synthesised signal";
      if (info.length > 0)
        equation += " (" + std::to_string(info.length) + " points at " + core::format_number(info.sample_rate_hz) +
                    " Hz, " + info.units + ")";
      card["equation"] = equation;
    } else {
      card["equation"] = o.expression + " (over the states and parameters of model '" + model.name() + "')";
    }
    // The sensor model as the resolved scenario holds it (manifest.json has the same).
    if (s.resolved.contains("observations") && c < s.resolved["observations"].size())
      card["sensor"] = s.resolved["observations"][c]["noise"];
    card["reading_interval"] = o.sample_interval > 0 ? nlohmann::ordered_json(o.sample_interval)
                                                     : nlohmann::ordered_json("every time of the grid");
  }
  card["domain"] = s.domain;
  card["model"] = model.name();
  // Where the parameters came from: a calibration's provenance (physynth anchor writes it), else
  // the scenario's own distributions.
  card["parameters"] =
      s.provenance.empty()
          ? nlohmann::ordered_json("the scenario's parameter distributions (" + s.file + ", manifest.json's scenario)")
          : nlohmann::ordered_json(s.provenance);
  return card;
}

nlohmann::ordered_json window_description(const Scenario& s, const Shard& shard, Split split) {
  const FeedSpec& f = s.feed;
  nlohmann::ordered_json d;
  d["format"] = "physynth-windows-2";
  d["scenario"] = s.name;
  d["seed"] = s.seed;
  d["split"] = split_name(split);
  d["count"] = 0;
  nlohmann::ordered_json units = nlohmann::ordered_json::array();
  for (const auto& name : f.channels) units.push_back(shard.observation(name).units);
  nlohmann::ordered_json cards = nlohmann::ordered_json::array();
  for (std::size_t c = 0; c < f.channels.size(); ++c) cards.push_back(channel_card(s, f.channels[c], units[c]));
  d["x"] = {{"shape", "windows x window x channels"},
            {"dtype", "float32"},
            {"channels", f.channels},
            {"units", units},
            {"missing", "NaN (a dropout or a reading past the unit's end)"},
            {"cards", cards}};
  std::string target_units, definition;
  for (std::size_t k = 0; k < shard.record_label_names.size(); ++k)
    if (shard.record_label_names[k] == f.target) target_units = shard.record_label_units[k];
  for (const auto& r : s.record_labels)
    if (r.name == f.target) {
      if (r.kind == RecordLabelSpec::Kind::kRemainingTime) {
        definition = "remaining time to event '" + r.event + "' (t_event - t at the window's last reading)";
        if (r.clip) definition += ", clipped at " + core::format_number(*r.clip) + " (piecewise-linear RUL)";
        definition += "; windows of units that never reach the event (censored) are left out";
      } else {
        definition = r.expression + " at the window's last reading";
      }
    }
  d["y"] = {{"dtype", "float32"}, {"label", f.target}, {"units", target_units}, {"definition", definition}};
  d["sample"] = "the unit (sample index of the run) each window comes from; a unit is in one split only";
  d["time"] = {{"units", s.time_units}, {"meaning", "time of the window's last reading"}};
  d["end_time"] = "index of the window's last reading in its channel (0-based), the reading order";
  d["window"] = f.window;
  d["stride"] = f.stride;
  return d;
}

std::vector<std::string> write_window_files(const Scenario& s, const std::string& directory, int threads) {
  if (!s.feed.present) throw std::invalid_argument("the scenario has no feed section");
  ShardGenerator generator(s, threads);
  WindowBatch windows[3];
  std::optional<nlohmann::ordered_json> descriptions[3];
  for (std::uint64_t k = 0; k < generator.num_shards(); ++k) {
    const Shard shard = generator.shard(k);
    for (Split sp : {Split::kTrain, Split::kValidation, Split::kTest}) {
      append_windows(s, shard, sp, &windows[static_cast<int>(sp)]);
      if (!descriptions[static_cast<int>(sp)]) descriptions[static_cast<int>(sp)] = window_description(s, shard, sp);
    }
  }
  std::vector<std::string> paths;
  // The split manifest: every unit, its split and how many windows it gave.
  {
    std::map<std::int64_t, std::size_t> count;
    for (const auto& w : windows)
      for (std::int64_t u : w.samples) ++count[u];
    std::string csv = "sample,split,windows\n";
    for (std::uint64_t u = 0; u < s.samples; ++u) {
      const auto it = count.find(static_cast<std::int64_t>(u));
      csv += std::to_string(u) + "," + split_name(split_of(u, s)) + "," +
             std::to_string(it == count.end() ? 0 : it->second) + "\n";
    }
    write_file_atomically(directory + "/splits.csv", csv);
    paths.push_back(directory + "/splits.csv");
  }
  for (Split sp : {Split::kTrain, Split::kValidation, Split::kTest}) {
    const WindowBatch& w = windows[static_cast<int>(sp)];
    nlohmann::ordered_json d = *descriptions[static_cast<int>(sp)];
    d["count"] = w.size;
    const std::string stem = directory + "/windows-" + split_name(sp);
    write_windows_hdf5(stem + ".h5", w, d, s.output.compression);
    write_file_atomically(stem + ".x.npy", npy_bytes("<f4", {w.size, s.feed.window, s.feed.channels.size()},
                                                     w.features.data(), w.features.size() * sizeof(float)));
    write_file_atomically(stem + ".y.npy",
                          npy_bytes("<f4", {w.size}, w.targets.data(), w.targets.size() * sizeof(float)));
    write_file_atomically(stem + ".sample.npy",
                          npy_bytes("<i8", {w.size}, w.samples.data(), w.samples.size() * sizeof(std::int64_t)));
    write_file_atomically(stem + ".time.npy",
                          npy_bytes("<f8", {w.size}, w.times.data(), w.times.size() * sizeof(double)));
    write_file_atomically(stem + ".json", d.dump(2) + "\n");
    paths.insert(paths.end(), {stem + ".h5", stem + ".x.npy", stem + ".y.npy", stem + ".sample.npy", stem + ".time.npy",
                               stem + ".json"});
  }
  return paths;
}

void write_npy_batch(std::ostream& out, const WindowBatch& b) {
  for (const std::string& a :
       {npy_bytes("<f4", {b.size, b.window, b.channels}, b.features.data(), b.features.size() * sizeof(float)),
        npy_bytes("<f4", {b.size}, b.targets.data(), b.targets.size() * sizeof(float)),
        npy_bytes("<i8", {b.size}, b.samples.data(), b.samples.size() * sizeof(std::int64_t)),
        npy_bytes("<f8", {b.size}, b.times.data(), b.times.size() * sizeof(double))})
    out.write(a.data(), static_cast<std::streamsize>(a.size()));
}

void write_cmapss(const Scenario& s, const std::string& path, int threads) {
  const FeedSpec& f = s.feed;
  if (!f.present || f.cmapss_sensors.empty())
    throw std::invalid_argument("the scenario's feed section has no cmapss.sensors");
  ShardGenerator generator(s, threads);
  std::string text;
  char number[40];
  // Units are numbered 1..N in sample order, without gaps; the sidecar maps them to samples.
  std::int64_t unit = 0;
  nlohmann::ordered_json units = nlohmann::ordered_json::array(), sensor_units = nlohmann::ordered_json::array();
  std::vector<double> cycle_times;
  for (std::uint64_t k = 0; k < generator.num_shards(); ++k) {
    const Shard shard = generator.shard(k);
    if (k == 0) {
      for (const auto& name : f.cmapss_sensors) sensor_units.push_back(shard.observation(name).units);
      cycle_times = shard.observation(f.cmapss_sensors.front()).times;
    }
    std::vector<const ObservationBlock*> sensors;
    for (const auto& name : f.cmapss_sensors) sensors.push_back(&shard.observation(name));
    std::vector<std::size_t> settings;
    for (const auto& name : f.cmapss_settings)
      settings.push_back(static_cast<std::size_t>(
          std::find(shard.parameter_names.begin(), shard.parameter_names.end(), name) - shard.parameter_names.begin()));
    const std::size_t R = sensors.front()->times.size(), M = shard.num_parameters();
    for (std::size_t i = 0; i < shard.samples; ++i) {
      if (shard.status[i] != static_cast<std::int8_t>(SampleStatus::kStoppedByEvent)) continue;
      std::vector<double> held(sensors.size(), std::numeric_limits<double>::quiet_NaN());
      // A reading missing before any was made takes the unit's first valid one.
      for (std::size_t c = 0; c < sensors.size(); ++c)
        for (std::size_t j = 0; j < R && std::isnan(held[c]); ++j) held[c] = sensors[c]->values[i * R + j];
      ++unit;
      std::size_t cycles = 0;
      for (std::size_t j = 0; j < R && sensors.front()->times[j] <= shard.t_reached[i]; ++j) {
        cycles = j + 1;
        std::string row = std::to_string(unit) + " " + std::to_string(j + 1);
        // Settings: a regime parameter takes its value in the condition of this cycle.
        const std::size_t grid_row = static_cast<std::size_t>(
            std::lower_bound(shard.times.begin(), shard.times.end(), sensors.front()->times[j]) - shard.times.begin());
        for (std::size_t q = 0; q < 3; ++q) {
          double v = q < settings.size() ? shard.parameters[i * M + settings[q]] : 0.0;
          if (q < settings.size() && s.regimes.present && !shard.regime.empty()) {
            const auto& names = s.regimes.parameters;
            const auto at = std::find(names.begin(), names.end(), f.cmapss_settings[q]);
            const double regime = shard.regime[i * shard.times.size() + grid_row];
            if (at != names.end() && !std::isnan(regime))
              v = s.regimes.conditions[static_cast<std::size_t>(regime)][static_cast<std::size_t>(at - names.begin())];
          }
          std::snprintf(number, sizeof number, " %.6g", v);
          row += number;
        }
        for (std::size_t c = 0; c < 21; ++c) {
          double v = 0.0;
          if (c < sensors.size()) {
            const double reading = sensors[c]->values[i * R + j];
            if (!std::isnan(reading)) held[c] = reading;
            v = std::isnan(held[c]) ? 0.0 : held[c];
          }
          std::snprintf(number, sizeof number, " %.6g", v);
          row += number;
        }
        text += row + "  \n";
      }
      units.push_back({{"unit", unit},
                       {"sample", shard.first_sample + i},
                       {"cycles", cycles},
                       {"failure_time", shard.t_reached[i]}});
    }
  }
  // What the columns are, what a cycle is and which sample each unit is, beside the text file
  // (a comment line inside it would break the readers written for NASA's files).
  nlohmann::ordered_json d;
  d["format"] = "physynth-cmapss-1";
  d["layout"] = "one row per unit and cycle: unit cycle setting1..3 sensor1..21 (Saxena et al. 2008, train_FD001.txt)";
  d["scenario"] = s.name;
  d["seed"] = s.seed;
  d["cycle"] = "cycle j is the j-th reading of the sensor channels (1-based); its time is cycle_times[j - 1], in " +
               s.time_units + "; a unit's last cycle is its last reading before the failure event";
  d["time_units"] = s.time_units;
  d["cycle_times"] = cycle_times;
  d["settings"] = f.cmapss_settings;
  d["sensors"] = f.cmapss_sensors;
  d["sensor_units"] = sensor_units;
  nlohmann::ordered_json cards = nlohmann::ordered_json::array();
  for (std::size_t c = 0; c < f.cmapss_sensors.size(); ++c)
    cards.push_back(channel_card(s, f.cmapss_sensors[c], sensor_units[c].get<std::string>()));
  d["sensor_cards"] = cards;
  d["unused"] = "settings and sensors past those named are 0; a missing reading repeats the unit's previous one";
  d["units"] = units;
  d["left_out"] =
      "samples that did not reach the failure event (censored or failed) are not written; units are "
      "numbered 1..N without gaps";
  write_file_atomically(path, text);
  write_file_atomically(path + ".json", d.dump(1) + "\n");
}

std::vector<std::vector<double>> read_cmapss(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<std::vector<double>> rows;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    std::istringstream ss(line);
    std::vector<double> row;
    std::string token;
    while (ss >> token) {
      char* end = nullptr;
      const double v = std::strtod(token.c_str(), &end);
      if (end != token.c_str() + token.size())
        throw std::runtime_error(path + ":" + std::to_string(line_no) + ": '" + token + "' is not a number");
      row.push_back(v);
    }
    if (row.empty()) continue;
    if (row.size() != 26)
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": " + std::to_string(row.size()) +
                               " columns, C-MAPSS has 26 (unit, cycle, 3 settings, 21 sensors)");
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace physynth::engine
