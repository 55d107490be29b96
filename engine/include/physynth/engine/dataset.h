// One shard of a dataset in memory: a block of consecutive samples with their
// parameters, trajectories, observations, labels and per-sample status. The
// writers turn it into files; the readers used by tests turn files back into it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace physynth::engine {

enum class SampleStatus : std::int8_t { kOk = 0, kStoppedByEvent = 1, kFailed = 2 };
const char* sample_status_name(SampleStatus s);

struct ObservationBlock {
  std::string name;
  std::string units;
  std::vector<double> times;   // this channel's reading times
  std::vector<double> values;  // samples x times.size(); NaN: missing (dropout, failed sample)
};

struct Shard {
  std::uint64_t index = 0;
  std::uint64_t first_sample = 0;
  std::size_t samples = 0;

  std::vector<double> times;  // output grid
  std::string time_units;
  std::vector<std::string> state_names, state_units;
  std::vector<std::string> parameter_names, parameter_units;
  std::vector<std::string> label_names, label_units;
  std::vector<std::string> stat_names;

  std::vector<double> states;      // samples x times x states; NaN where not reached
  std::vector<double> parameters;  // samples x parameters
  std::vector<double> labels;      // samples x labels; NaN where undefined
  std::vector<ObservationBlock> observations;
  std::vector<std::int8_t> status;         // SampleStatus per sample
  std::vector<double> t_reached;           // per sample
  std::vector<std::int64_t> solver_stats;  // samples x stat_names
  std::vector<std::string> record_label_names, record_label_units;
  std::vector<double> record_labels;  // samples x times x record_label_names; NaN where undefined
  std::vector<double> regime;         // samples x times: index of the operating condition at each record (with regimes)
  std::vector<std::string> sensitivity_names;  // parameters of the forward sensitivities, if any
  std::vector<double> sensitivities;           // samples x times x sensitivity_names x states
  // A field scenario's samples are the plots of a rows x cols grid (sample = row * cols + col).
  int field_rows = 0, field_cols = 0;  // 0 without a field
  double field_cell_size_m = 0.0;
  std::vector<std::int32_t> plot;  // samples x 2: (row, col) of each plot; empty without a field
  // output.waveforms: the raw signal behind the derived channels (a vibration snapshot) at
  // waveform_times, samples x times x waveform_length, float32; NaN where the sample had ended.
  std::vector<double> waveform_times;
  std::size_t waveform_length = 0;
  double waveform_rate_hz = 0.0;
  std::string waveform_units;
  std::vector<float> waveforms;
  // What keys each sample's randomness (noise, regimes, weather) where it is not the sample's
  // index: samples at given design points (run.h, DesignPoints). Empty otherwise.
  std::vector<std::uint64_t> sample_keys;
  std::vector<std::string> failure_flag;  // per sample; empty unless failed
  std::vector<std::string> failure_message;

  std::size_t num_states() const { return state_names.size(); }
  // The observation channel with this name; throws std::out_of_range if there is none.
  const ObservationBlock& observation(const std::string& name) const;
  std::size_t num_parameters() const { return parameter_names.size(); }
  std::size_t num_labels() const { return label_names.size(); }
};

// File stem of shard i: "shard-000042".
std::string shard_stem(std::uint64_t index);

// Writers. Each writes to "<path>.partial" and renames it when complete, so a
// file under its final name is always whole; each returns the final paths.
// They throw std::runtime_error naming the file and the reason on I/O errors. write_hdf5
// compresses on up to `threads` threads; the file's bytes are the same for any count.
std::vector<std::string> write_hdf5(const Shard& shard, const std::string& directory, int compression, int threads = 1);
std::vector<std::string> write_csv(const Shard& shard, const std::string& directory);
std::vector<std::string> write_npy(const Shard& shard, const std::string& directory);

// Readers, for tests and tools. Without `waveforms` the raw snapshots (output.waveforms; the
// bulk of such a file) are left on disk.
Shard read_hdf5(const std::string& path, bool waveforms = true);

// Writes text to path atomically (temporary file, fsync, rename).
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace physynth::engine
