// The run journal: what a run has finished, shard by shard, so that an interrupted run resumes
// from it and MPI ranks hand their shards' results to rank 0.
//
//   journal/run.json             the run's fingerprint (scenario file, overrides, SHA-256 of the
//                                resolved scenario), written before the first shard
//   journal/shard-NNNNNN.json    one finished shard: its data files with sizes and SHA-256, its
//                                counts, failures and audit state; written (atomically) after
//                                every data file of the shard is in place
//
// A shard counts as done only when its record exists and every file it lists has that size and
// checksum; anything else is computed again. The journal is removed once manifest.json of a
// complete run is written (the manifest then holds the same).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/engine/dataset.h"

namespace physynth::engine {

// Doubles as JSON that reads back bit for bit: finite values as numbers (shortest round-trip
// text), NaN and infinities as the strings "nan", "inf", "-inf".
nlohmann::json exact_doubles(const std::vector<double>& values);
std::vector<double> read_exact_doubles(const nlohmann::json& j);

std::string journal_directory(const std::string& run_dir);
std::string shard_record_path(const std::string& run_dir, std::uint64_t shard_index);
std::string run_record_path(const std::string& run_dir);

// A journal file's JSON; throws std::runtime_error naming the file when it cannot be read or parsed.
nlohmann::json read_journal_record(const std::string& path);

// A shard's samples counted by status, as run records and manifests give them.
struct StatusCounts {
  std::uint64_t ok = 0, stopped_by_event = 0, failed = 0;
  void add(SampleStatus s) { ++(s == SampleStatus::kOk ? ok : s == SampleStatus::kStoppedByEvent ? stopped_by_event : failed); }
};

// Each file's name (within its folder), size and SHA-256: how a shard record lists its files.
nlohmann::json file_records(const std::vector<std::string>& files);

// Whether every file a shard record lists exists in run_dir with its size and SHA-256; when
// not, `why` says which file and what differs.
bool shard_files_intact(const nlohmann::json& record, const std::string& run_dir, std::string* why);

}  // namespace physynth::engine
