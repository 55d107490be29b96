// Rare events: the rare-event samplers (active/rare_event.h) against brute-force sampling of the
// same scenario, side by side in one run.
//
//   rare_event_bench SCENARIO CONDITION [--brute N] [--seeds K] [--set key=value ...]
//
// Brute force: N samples of the scenario's prior (random design, the engine's workers, no files),
// the event counted by the same condition. Each method: K seeds of sampling.condition (the
// written samples' first solve counted, not their writing). Prints a JSON line per method and
// the simulations brute force would need for the method's coefficient of variation over seeds,
// (1 - p) / (p cv^2).
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/active/rare_event.h"
#include "physynth/core/diagnostics.h"
#include "physynth/engine/condition.h"
#include "physynth/engine/run.h"

using namespace physynth;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

engine::Scenario load(const std::string& path, std::vector<std::string> overrides) {
  core::Diagnostics d;
  auto s = engine::load_scenario(path, overrides, d);
  if (!s) {
    std::cerr << d.report();
    std::exit(2);
  }
  return std::move(*s);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: rare_event_bench SCENARIO CONDITION [--brute N] [--seeds K] [--set key=value ...]\n";
    return 2;
  }
  const std::string path = argv[1], condition = argv[2];
  std::uint64_t brute = 0;
  int seeds = 10;
  std::vector<std::string> sets = {"sampling.design=random", "sampling.condition=" + condition};
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--brute") brute = std::stoull(argv[i + 1]);
    if (a == "--seeds") seeds = std::stoi(argv[i + 1]);
    if (a == "--set") sets.push_back(argv[i + 1]);
  }
  if (brute > 0) {
    // The prior as an ordinary run draws it: the same scenario without the condition.
    const engine::Scenario conditioned = load(path, sets);
    std::vector<std::string> plain(sets.begin(), sets.end());
    plain.erase(plain.begin() + 1);
    plain.push_back("sampling.samples=" + std::to_string(brute));
    const engine::Scenario prior = load(path, plain);
    engine::ShardGenerator generator(prior);
    engine::ConditionResponse response(conditioned);
    const auto start = Clock::now();
    std::uint64_t hits = 0;
    for (std::uint64_t first = 0; first < brute; first += 20000) {
      const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(20000, brute - first));
      for (double r : response(generator.samples(first, count))) hits += response.in_event(r) ? 1 : 0;
    }
    const double p = static_cast<double>(hits) / static_cast<double>(brute);
    std::cout << nlohmann::json{{"method", "brute force"},
                                {"condition", condition},
                                {"simulations", brute},
                                {"events", hits},
                                {"probability", p},
                                {"cv", hits > 0 ? std::sqrt((1.0 - p) / (static_cast<double>(brute) * p)) : 0.0},
                                {"seconds", seconds_since(start)}}
                     .dump()
              << std::endl;
  }
  for (const std::string method : {"importance", "splitting"}) {
    std::vector<double> p, cv, sims, secs;
    int reached = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
      std::vector<std::string> o = sets;
      o.push_back("sampling.method=" + method);
      o.push_back("sampling.seed=" + std::to_string(seed));
      const engine::Scenario s = load(path, o);
      const auto start = Clock::now();
      const auto r = active::sample_rare_event(s, 0);
      secs.push_back(seconds_since(start));
      reached += r.estimate.reached ? 1 : 0;
      p.push_back(r.estimate.probability);
      cv.push_back(r.estimate.cv);
      sims.push_back(static_cast<double>(r.estimate.simulations));
    }
    const auto mean = [](const std::vector<double>& v) {
      double m = 0.0;
      for (double x : v) m += x;
      return m / static_cast<double>(v.size());
    };
    const double pm = mean(p);
    double var = 0.0;
    for (double x : p) var += (x - pm) * (x - pm);
    const double cv_seeds = std::sqrt(var / static_cast<double>(p.size() - 1)) / pm;
    const double brute_equal = (1.0 - pm) / (pm * cv_seeds * cv_seeds);
    std::cout << nlohmann::json{{"method", method},
                                {"condition", condition},
                                {"seeds", seeds},
                                {"reached", reached},
                                {"probability_mean", pm},
                                {"cv_over_seeds", cv_seeds},
                                {"cv_estimated_mean", mean(cv)},
                                {"simulations_mean", mean(sims)},
                                {"seconds_mean", mean(secs)},
                                {"brute_force_simulations_for_this_cv", brute_equal},
                                {"fewer_than_brute_force", brute_equal / mean(sims)}}
                     .dump()
              << std::endl;
  }
  return 0;
}
