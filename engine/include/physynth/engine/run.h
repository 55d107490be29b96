// Running a scenario: sample parameters, integrate every sample (a TBB pool
// with one solver per thread), apply the observation models, write the shards,
// the audit and the manifest.
//
// Output is a pure function of (scenario, seed): the bytes of every data file
// and of audit.json are the same for any thread count, any number of MPI ranks
// (ranks.h: shard k is computed and written by rank k mod N; rank 0 gathers the
// shards' records and writes audit.json and manifest.json), and whether or not
// the run was interrupted and resumed. Only manifest.json's timings, thread and
// rank counts differ.
//
// Each finished shard leaves a record in journal/ (journal.h in the sources):
// its files' sizes and SHA-256, counts, failures and audit state. A run killed
// at any point resumes from the shards whose records and files agree.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "physynth/engine/dataset.h"
#include "physynth/engine/scenario.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::engine {

// Samples at given points instead of the scenario's sampling design: what the rare-event and
// active-learning drivers (active/) draw. Sample i has the design coordinates
// unit[i * dimension .. + dimension) (in (0, 1), one per non-fixed parameter, in order, each
// through its parameter's quantile function, as the designs' points are), its randomness keyed
// on keys[i] as if it were sample keys[i], and per-sample values `columns` (a sampling weight,
// say) written after the scenario's labels under column_names.
struct DesignPoints {
  std::size_t dimension = 0;
  std::vector<double> unit;         // size() x dimension
  std::vector<std::uint64_t> keys;  // size()
  std::vector<std::string> column_names, column_units;
  std::vector<double> columns;  // size() x column_names.size()
  std::size_t size() const { return keys.size(); }
};

struct RunOptions {
  std::string output_directory;  // overrides the scenario's output.directory when not empty
  int threads = 0;               // 0: every core
  bool overwrite = false;        // replace the files of an earlier run in the directory
  // Continue the run in output_directory from its journal: shards whose files match their
  // records are kept, the rest computed. The scenario must be the one the run started with.
  bool resume = false;
  // Polled between samples: when it returns true, the run finishes no further shard, writes a
  // manifest of the shards done (status "interrupted") and returns (SIGINT, SIGTERM).
  std::function<bool()> stop_requested;
  // Versions of components the engine does not link (LibTorch, VTK), for the manifest.
  std::map<std::string, std::string> component_versions;
  // Called as samples finish, from worker threads; must be thread-safe.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
  // The samples, where a driver drew them (DesignPoints); the scenario's sampling.samples must
  // equal points->size(). Required for a scenario with sampling.condition.
  std::shared_ptr<const DesignPoints> points;
  // Written into manifest.json under its keys: a driver's account of how it drew the points.
  nlohmann::ordered_json manifest_extra = nlohmann::ordered_json::object();
  // On 2 or more threads, write each shard on one more thread while the next is solved (the
  // default; the same files either way). Off, a shard is written before the next is begun:
  // bench/kinetics_bench.cpp times the solving so, without the writing competing for the cores.
  bool write_beside_solve = true;
};

struct RunSummary {
  bool completed = false;    // false: the run could not start, could not write, or was stopped (see message)
  bool refused = false;      // it could not start because of what was asked (the folder, --resume): exit 2
  bool interrupted = false;  // stopped by stop_requested; manifest.json lists the shards done
  std::string message;
  std::string directory;
  std::uint64_t samples = 0;
  std::uint64_t ok = 0;
  std::uint64_t stopped_by_event = 0;
  std::uint64_t failed = 0;
  int threads = 0;                   // per rank
  int ranks = 1;                     // MPI ranks
  std::uint64_t shards_resumed = 0;  // kept from an earlier, interrupted run
  double wall_s = 0.0;
  double solve_s = 0.0;  // sampling, integration, observations (parallel part)
  double write_s = 0.0;
  std::vector<std::string> files;  // data files, in order
};

RunSummary run_scenario(const Scenario& scenario, const RunOptions& options);

// Why run_scenario would refuse the output folder as asked (busy, foreign files, an earlier run
// without --overwrite, a --resume that cannot be), or "" when it would take it; changes nothing
// there. *refused: whether that is the user's to change (exit 2) rather than an I/O failure. For
// drivers that work before the run (the rare-event sampler), so a refusal comes first.
std::string run_directory_refusal(const Scenario& scenario, const RunOptions& options, bool* refused = nullptr);

// The scenario file (absolute path) and --set values that the interrupted run in `dir` started
// with, from its journal: `physynth run --resume DIR` without a scenario. Throws
// std::runtime_error saying why not (no journal: a complete run, or not a run folder).
struct StartedRun {
  std::string scenario;
  std::vector<std::string> overrides;
};
StartedRun started_run(const std::string& dir);

// Whether `dir` holds a complete run: manifest.json with status "complete" and no journal.
bool run_is_complete(const std::string& dir);

// Computes a scenario's samples in memory, exactly the numbers run_scenario
// writes: for feeds and streams that consume data without files. Keeps one
// solver per thread across calls. Not thread-safe itself.
class ShardGenerator {
 public:
  // threads 0: every core. on_sample is called (from worker threads) as samples finish.
  // With `points`, shard() and samples() compute the given points instead of the design's.
  ShardGenerator(const Scenario& scenario, int threads = 0, std::function<void()> on_sample = {},
                 std::shared_ptr<const DesignPoints> points = nullptr);
  ~ShardGenerator();
  ShardGenerator(const ShardGenerator&) = delete;
  ShardGenerator& operator=(const ShardGenerator&) = delete;

  std::uint64_t num_shards() const;
  // Shard `index` of the scenario, as run_scenario writes it.
  Shard shard(std::uint64_t index);
  // Samples [first, first + count), also past sampling.samples for the random
  // and Sobol designs (an endless stream); throws std::invalid_argument for a
  // Latin hypercube, whose design has exactly sampling.samples points.
  Shard samples(std::uint64_t first, std::size_t count);
  // Samples at design points (DesignPoints' unit and keys; count x dimension()); no columns.
  // What a sampler that chooses its points as it goes (rare events, active learning) evaluates.
  Shard at(const double* unit, const std::uint64_t* keys, std::size_t count);
  // The design's dimension: the scenario's non-fixed parameters.
  std::size_t dimension() const;

 private:
  friend RunSummary run_scenario(const Scenario&, const RunOptions&);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Versions of the libraries the engine is built with (SUNDIALS, HDF5, yaml-cpp, ...).
std::map<std::string, std::string> library_versions();
const char* physynth_version();

// The scenario's events as the solver's root functions, in `specs` order; `action: stop` ones
// terminal. Build them per thread: an expression event owns the scratch its inputs are written
// to.
std::vector<solvers::Event> scenario_events(const std::vector<EventSpec>& specs, const core::Model* model);

}  // namespace physynth::engine
