// Trajectories per second for the kinetics example scenarios, on 1 and 2
// threads, through the engine as a user runs it (sampling, the solver,
// observations): the solving alone, and end to end with the HDF5 shards written
// (deflate level 4, the default). Prints one JSON object per line.
//
//   kinetics_bench SCENARIO_DIR OUTPUT_DIR [REPEATS [NAME...]]
// NAMEs are scenario files in SCENARIO_DIR without ".yaml" (the three kinetics examples by
// default; bench/binding_parts.sh passes variants of one). Each scenario is run once untimed
// first, so that no timed run pays for what a process does once (the thread pool, the heap's
// first pages), whatever REPEATS is: bench/run_kinetics.sh runs one repeat per call, in rounds.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/engine/run.h"
#include "physynth/engine/scenario.h"

int main(int argc, char** argv) {
  using namespace physynth;
  if (argc < 3) {
    std::cerr << "usage: kinetics_bench SCENARIO_DIR OUTPUT_DIR [REPEATS [NAME...]]\n";
    return 2;
  }
  const std::string scenario_dir = argv[1], out = argv[2];
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 3;
  std::vector<std::string> names = {"michaelis_menten", "reversible_binding", "robertson"};
  if (argc > 4) names.assign(argv + 4, argv + argc);
  for (const std::string& name : names) {
    core::Diagnostics d;
    auto s = engine::load_scenario(
        scenario_dir + "/" + name + ".yaml",
        {"output.formats=[hdf5]", "sampling.samples=4096", "output.shard_size=1024", "solver.sensitivities=[]"}, d);
    if (!s) {
      std::cerr << d.report();
      return 2;
    }
    {
      engine::RunOptions warm;
      warm.output_directory = out + "/" + name;
      warm.threads = 1;
      warm.overwrite = true;
      if (const auto r = engine::run_scenario(*s, warm); !r.completed || r.failed > 0) {
        std::cerr << name << ": run failed: " << r.message << "\n";
        return 1;
      }
    }
    // 1 and 2 threads as the engine runs by default, then 1 thread with solver.lanes off (each
    // sample stepped alone: the rate before samples were stepped together; the same bytes).
    for (const auto& [threads, lanes] : {std::pair{1, true}, std::pair{2, true}, std::pair{1, false}}) {
      s->solver.lanes = lanes;
      std::vector<double> solve, wall, wall_serial;
      engine::RunSummary r;
      for (int k = 0; k < repeats; ++k) {
        engine::RunOptions o;
        o.output_directory = out + "/" + name;
        o.threads = threads;
        o.overwrite = true;
        // The solving timed alone (each shard written before the next is begun), then the run as
        // a user's goes, each shard written while the next is solved.
        for (const bool beside : {false, true}) {
          o.write_beside_solve = beside;
          r = engine::run_scenario(*s, o);
          if (!r.completed || r.failed > 0) {
            std::cerr << name << ": run failed: " << r.message << "\n";
            return 1;
          }
          if (beside) {
            wall.push_back(r.wall_s);
          } else {
            solve.push_back(r.solve_s);
            wall_serial.push_back(r.wall_s);
          }
        }
      }
      std::sort(solve.begin(), solve.end());
      std::sort(wall.begin(), wall.end());
      std::sort(wall_serial.begin(), wall_serial.end());
      const double median = solve[solve.size() / 2], wall_median = wall[wall.size() / 2];
      nlohmann::json j = {{"scenario", name},
                          {"threads", threads},
                          {"lanes", lanes},
                          {"samples", r.samples},
                          {"solve_s_median", median},
                          {"trajectories_per_s", static_cast<double>(r.samples) / median},
                          {"wall_s_median", wall_median},
                          {"end_to_end_per_s", static_cast<double>(r.samples) / wall_median},
                          {"wall_written_after_each_shard_s_median", wall_serial[wall_serial.size() / 2]},
                          {"rtol", s->solver.rtol},
                          {"output_times", s->times.size()},
                          {"run_directory", r.directory}};
      std::cout << j.dump() << std::endl;
    }
  }
  return 0;
}
