// Loads a scenario with the installed physynth, computes its first shard in memory and prints
// the first sample's last state: what a user's program does with find_package(physynth).
#include <cstdio>
#include <iostream>

#include "physynth/core/diagnostics.h"
#include "physynth/engine/run.h"
#include "physynth/engine/scenario.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  physynth::core::Diagnostics diagnostics;
  auto scenario = physynth::engine::load_scenario(argv[1], {"sampling.samples=3"}, diagnostics);
  if (!scenario) {
    std::cerr << diagnostics.report();
    return 2;
  }
  physynth::engine::ShardGenerator generator(*scenario, 1);
  const auto shard = generator.shard(0);
  const std::size_t T = shard.times.size(), n = shard.num_states();
  std::printf("physynth %s: %s, %zu samples, %s(t=%g) = %.10g\n", physynth::engine::physynth_version(),
              scenario->name.c_str(), shard.samples, shard.state_names[n - 1].c_str(), shard.times.back(),
              shard.states[(T - 1) * n + n - 1]);
  return 0;
}
