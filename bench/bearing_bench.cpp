// Throughput of the bearing fleet: units per second through the engine
// (degradation + heat balance + sensors + RUL labels, without file writing),
// and vibration snapshots per second (1 s at 20 kHz: impulse train, resonance,
// noise, then RMS/kurtosis/crest and the envelope spectrum by FFT), on 1 and 2
// threads. Prints JSON lines.
//   bearing_bench SCENARIO_DIR OUTPUT_DIR
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <utility>

#include "physynth/domains/manufacturing/bearing.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/run.h"

int main(int argc, char** argv) {
  using namespace physynth;
  using namespace physynth::domains::manufacturing;
  if (argc < 3) {
    std::cerr << "usage: bearing_bench SCENARIO_DIR OUTPUT_DIR\n";
    return 2;
  }
  // Units through the engine with CVODES (solver.method bdf, the default until 2026-12-04), with
  // what auto picks (Rodas5P) one sample at a time (solver.lanes false, until 2026-12-05) and with
  // its samples stepped together (the default), side by side: the bearing fleet and the milling
  // campaign.
  for (const auto& [file, samples] : {std::pair<std::string, int>{"bearing_fleet", 4000}, {"milling_campaign", 4000}})
    for (const auto& [method, lanes] : {std::pair{"bdf", false}, std::pair{"auto", false}, std::pair{"auto", true}}) {
      core::Diagnostics d;
      auto s = engine::load_scenario(
          std::string(argv[1]) + "/" + file + ".yaml",
          {"sampling.samples=" + std::to_string(samples), "output.shard_size=1000",
           std::string("solver.method=") + method, std::string("solver.lanes=") + (lanes ? "true" : "false")},
          d);
      if (!s) {
        std::cerr << d.report();
        return 2;
      }
      for (int threads : {1, 2}) {
        engine::RunOptions o;
        o.output_directory = std::string(argv[2]) + "/" + file;
        o.threads = threads;
        o.overwrite = true;
        o.write_beside_solve = false;  // the solving timed alone, the writing not competing for the cores
        double best = 1e30;
        engine::RunSummary r;
        for (int k = 0; k < 3; ++k) {
          r = engine::run_scenario(*s, o);
          best = std::min(best, r.solve_s);
        }
        std::cout << nlohmann::json{{"what", file + " units"}, {"method", solvers::method_name(s->solver.method)},
                                    {"lanes", lanes},          {"threads", threads},
                                    {"units", r.samples},      {"failed", r.failed},
                                    {"seconds", best},         {"per_second", r.samples / best}}
                         .dump()
                  << std::endl;
      }
    }
  {
    core::Diagnostics dm;
    auto mixed = engine::load_scenario(std::string(argv[1]) + "/mixed_fleet.yaml", {"sampling.samples=200"}, dm);
    if (!mixed) {
      std::cerr << dm.report();
      return 2;
    }
    std::uint64_t snapshots_taken = 0;
    for (int threads : {1, 2}) {
      engine::RunOptions o;
      o.output_directory = std::string(argv[2]) + "/mixed_fleet";
      o.threads = threads;
      o.overwrite = true;
      o.write_beside_solve = false;
      const auto r = engine::run_scenario(*mixed, o);
      if (threads == 1) {
        // Snapshots actually taken: readings of one feature channel that the units reached.
        const auto shard = engine::read_hdf5(o.output_directory + "/shard-000000.h5");
        for (double v : shard.observation("vib_rms").values) snapshots_taken += !std::isnan(v);
        snapshots_taken *= (r.samples + shard.samples - 1) / shard.samples;  // shards alike in size
      }
      std::cout << nlohmann::json{{"what", "mixed fleet units with vibration features every 50 h (0.25 s snapshots)"},
                                  {"threads", threads},
                                  {"units", r.samples},
                                  {"seconds", r.solve_s},
                                  {"per_second", r.samples / r.solve_s},
                                  {"snapshots_per_second", snapshots_taken / r.solve_s}}
                       .dump()
                << std::endl;
    }
  }
  const auto geometry = BearingGeometry::skf_6205();
  const SnapshotOptions options;  // 1 s at 20 kHz
  const int snapshots = 400;
  for (int threads : {1, 2}) {
    tbb::task_arena arena(threads);
    std::vector<double> rms(snapshots);
    const auto start = std::chrono::steady_clock::now();
    arena.execute([&] {
      tbb::parallel_for(0, snapshots, [&](int i) {
        core::CounterRng rng(1, static_cast<std::uint64_t>(i), 0);
        SnapshotState state;
        state.shaft_hz = 30.0;
        state.mode = static_cast<FaultMode>(i % 5);
        state.impulse_amplitude = 1.0;
        state.imbalance_amplitude = 0.2;
        const auto x = vibration_snapshot(geometry, options, state, rng);
        const auto f = snapshot_features(x, geometry, options, state.shaft_hz);
        rms[static_cast<std::size_t>(i)] = f.rms;
      });
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double checksum = 0.0;  // in index order: the same for any thread count
    for (double v : rms) checksum += v;
    std::cout << nlohmann::json{{"what", "vibration snapshots with features (1 s at 20 kHz)"},
                                {"threads", threads},
                                {"snapshots", snapshots},
                                {"seconds", seconds},
                                {"per_second", snapshots / seconds},
                                {"checksum", checksum}}
                     .dump()
              << std::endl;
  }
  return 0;
}
