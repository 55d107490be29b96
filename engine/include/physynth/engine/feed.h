// Training feeds for models that learn from sequences (remaining useful life,
// fault classes): sliding windows over a scenario's observation channels, each
// with the target label at its last reading, split by unit.
//
// Units (samples) go to train / validation / test by a draw keyed on (seed,
// sample), so a unit never appears in two splits, whatever else changes.
// Windows come in one canonical order, by sample and then by last reading;
// the files and the live stream (FeedStream) follow it, so for the same
// scenario and seed they hold the same batches.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/engine/dataset.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine {

enum class Split : std::int8_t { kTrain = 0, kValidation = 1, kTest = 2 };
const char* split_name(Split s);
bool parse_split(const std::string& text, Split* split);
Split split_of(std::uint64_t sample, const Scenario& scenario);

struct WindowBatch {
  std::size_t size = 0;    // windows
  std::size_t window = 0;  // readings per window
  std::size_t channels = 0;
  std::vector<float> features;          // size x window x channels; NaN for missing readings (dropouts)
  std::vector<float> targets;           // size
  std::vector<std::int64_t> samples;    // the unit of each window
  std::vector<std::int64_t> end_times;  // index of each window's last reading within its channel
  std::vector<double> times;            // time of each window's last reading, in the scenario's time unit

  void clear();
  // Moves the first n windows of `from` to the end of this batch.
  void take_front(WindowBatch& from, std::size_t n);
};

// Appends every window of `split` in a shard: windows of scenario.feed.window
// readings, ends every feed.stride readings, kept where the target is known
// (reached and not censored).
void append_windows(const Scenario& scenario, const Shard& shard, Split split, WindowBatch* out);

// Batches of scenario.feed.batch_size windows of one split, computed on the
// fly (no files). Finite: the scenario's samples; endless: on past them
// (random and Sobol designs). Deterministic for a scenario and seed.
class FeedStream {
 public:
  FeedStream(const Scenario& scenario, Split split, bool endless = false, int threads = 0);
  ~FeedStream();
  // The next batch; the last one of a finite stream may be smaller. False when exhausted.
  bool next(WindowBatch* batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A channel's provenance card: its equation (state expression, or the feature of the model's
// synthesised signal), units, sensor model (the resolved noise), reading interval, domain and
// model, and where the parameters came from (a calibration's provenance, else the scenario's
// distributions).
nlohmann::ordered_json channel_card(const Scenario& scenario, const std::string& channel, const std::string& units);

// What a split's windows are, for the files to carry (their attributes and the NPY sidecar):
// split, channels with units, the target label with units and definition, the time unit, window
// and stride. `shard` is any shard of the scenario (for the units).
nlohmann::ordered_json window_description(const Scenario& scenario, const Shard& shard, Split split);

// Writes every window of each split: <directory>/windows-<split>.h5 (datasets x, y, sample,
// end_time, time, described by attributes) and windows-<split>.x.npy, .y.npy, .sample.npy,
// .time.npy with windows-<split>.json saying what they hold (a card per channel), and
// splits.csv: every unit (sample), its split and its window count. Returns the paths.
std::vector<std::string> write_window_files(const Scenario& scenario, const std::string& directory, int threads = 0);

// One batch as four NPY arrays (format 1.0) back to back: x (n, window, channels) float32,
// y (n) float32, sample (n) int64, time (n) float64. Each array is a 10-byte prefix (magic,
// version, header length), the header (a Python dict literal: descr, fortran_order, shape) and
// the raw data, so a reader needs no seeking (docs/python.md has one in numpy alone).
void write_npy_batch(std::ostream& out, const WindowBatch& batch);

// The C-MAPSS text layout (Saxena et al. 2008, train_FD001.txt): one row per
// unit and cycle, "unit cycle setting1..3 sensor1..21", space-separated with
// two trailing spaces, so existing readers take it unchanged. Units that ran
// to their target event only (C-MAPSS training units all fail); cycles are
// the sensor channels' readings; settings are the chosen parameters (0 where
// fewer than 3), sensors the chosen channels (0 in unused slots); a missing
// reading repeats the unit's previous one, as a data historian holds values. Units are
// numbered 1..N without gaps; PATH.json says what a cycle is (its time) and which sample each
// unit is.
void write_cmapss(const Scenario& scenario, const std::string& path, int threads = 0);

// Reads a C-MAPSS text file: rows of 26 numbers. Throws std::runtime_error
// with file and line for anything else.
std::vector<std::vector<double>> read_cmapss(const std::string& path);

}  // namespace physynth::engine
