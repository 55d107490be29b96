// The collapse experiment on Puromycin: the strategies train on what they
// should (replace: the last draw; accumulate: everything so far; anchor: the
// last draw and the real wells), the result does not depend on the thread
// count, and the noise σ does what the theory says: refitted by maximum
// likelihood on its own draws only, σ̂² shrinks by about (n - k)/n a
// generation (Shumailov et al. 2024's variance collapse); with the real wells
// kept in the training data it stays near the real data's.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "physynth/engine/collapse.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

anchor::RealData treated() {
  core::Diagnostics d;
  auto data = anchor::read_real_data(testing::repository_path("data/kinetics/puromycin/treated.csv"), d);
  INFO(d.report());
  REQUIRE(data);
  return *data;
}

}  // namespace

TEST_CASE("collapse: replace loses the noise, accumulate and anchor keep it, the same for any thread count") {
  const auto s = testing::load_scenario(testing::repository_path("scenarios/kinetics/puromycin.yaml"), {});
  const auto real = treated();
  engine::CollapseOptions opt;
  opt.generations = 12;
  opt.permutations = 50;
  opt.threads = 1;
  const std::string dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/collapse_puromycin";
  std::filesystem::remove_all(dir);
  const auto r = engine::run_collapse(s, real, opt, dir);
  const auto& rep = r.report;
  const auto sigma = [&](const std::string& strategy, int g) {
    return rep["strategies"][strategy][static_cast<std::size_t>(g)]["sigma"]["sigma_rate"].get<double>();
  };
  const auto trained_on = [&](const std::string& strategy, int g) {
    return rep["strategies"][strategy][static_cast<std::size_t>(g)]["training"]["units"].get<std::size_t>();
  };
  for (int g = 1; g <= 12; ++g) {
    CHECK(trained_on("replace", g) == 12);
    CHECK(trained_on("accumulate", g) == 12u * static_cast<std::size_t>(g + 1));
    CHECK(trained_on("anchor", g) == 24);
  }
  const double s0 = sigma("replace", 0);
  WARN("sigma_rate at generation 12: replace " << sigma("replace", 12) << ", accumulate " << sigma("accumulate", 12)
                                               << ", anchor " << sigma("anchor", 12) << " (generation 0: " << s0
                                               << ")");
  // (10/12)^12 = 0.11 in expectation for σ²: σ to about a third.
  CHECK(sigma("replace", 12) < 0.6 * s0);
  CHECK(sigma("accumulate", 12) > 0.75 * s0);
  CHECK(sigma("anchor", 12) > 0.75 * s0);
  // Vm stays tied to the real wells under anchor (Bates & Watts: 212.7 ± 6.9).
  CHECK(rep["strategies"]["anchor"][12]["shared"]["Vm"].get<double>() == Approx(212.7).margin(3 * 6.95));
  for (const auto& f : {"collapse.json", "collapse.csv", "collapse.md", "gen-0/calibrated.yaml", "gen-0/synthetic.csv",
                        "replace/gen-12/training.csv", "anchor/gen-3/fidelity_audit.json"})
    CHECK(std::filesystem::is_regular_file(std::filesystem::path(dir) / f));

  opt.threads = 2;
  opt.generations = 3;
  opt.strategies = {engine::CollapseStrategy::kAnchor};
  const std::string one = dir + "_1", two = dir + "_2";
  std::filesystem::remove_all(one);
  std::filesystem::remove_all(two);
  engine::run_collapse(s, real, opt, two);
  opt.threads = 1;
  engine::run_collapse(s, real, opt, one);
  CHECK(slurp(one + "/collapse.csv") == slurp(two + "/collapse.csv"));
  CHECK(slurp(one + "/anchor/gen-3/training.csv") == slurp(two + "/anchor/gen-3/training.csv"));
}
