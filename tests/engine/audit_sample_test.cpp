// A sample's audit (engine/src/audit.h) keeps running maxima and minima over even and odd rows
// apart, for speed; checked here against one pass in row order, bit for bit, on random
// trajectories with NaN rows (a failed or unreached part) and zeros of both signs, where the
// first of equal minima must win as it does in one pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../../engine/src/audit.h"

using namespace physynth;

namespace {

engine::SampleAudit one_pass(const std::vector<core::LinearInvariant>& invariants, std::size_t n, const double* states,
                             std::size_t rows) {
  engine::SampleAudit a;
  for (const auto& inv : invariants) {
    double initial = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      initial += inv.weights[i] * states[i], scale += std::fabs(inv.weights[i] * states[i]);
    scale = std::max({std::fabs(initial), scale, std::numeric_limits<double>::min()});
    double worst = 0.0;
    for (std::size_t r = 1; r < rows; ++r) {
      double value = 0.0;
      for (std::size_t i = 0; i < n; ++i) value += inv.weights[i] * states[r * n + i];
      worst = std::max(worst, std::fabs(value - initial));
    }
    a.invariant_abs.push_back(worst);
    a.invariant_rel.push_back(worst / scale);
  }
  for (std::size_t i = 0; i < n; ++i) {
    double lowest = std::numeric_limits<double>::infinity(), largest = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
      lowest = std::min(lowest, states[r * n + i]);
      largest = std::max(largest, std::fabs(states[r * n + i]));
    }
    a.min_state.push_back(lowest);
    a.max_abs_state.push_back(largest);
  }
  return a;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  // (memcmp may not be given the null data() of an empty vector, even for 0 bytes)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

}  // namespace

TEST_CASE("audit: a sample's maxima and minima are those of one pass in row order, bit for bit") {
  std::mt19937_64 rng(11);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  int signed_zero_cases = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const std::size_t n = 1 + rng() % 4, rows = 1 + rng() % 9;
    std::vector<core::LinearInvariant> invariants(rng() % 3);
    for (auto& inv : invariants)
      for (std::size_t i = 0; i < n; ++i) inv.weights.push_back(static_cast<double>(rng() % 3));
    std::vector<double> states(rows * n);
    for (double& x : states) {
      const auto kind = rng() % 6;
      x = kind == 0                     ? 0.0
          : kind == 1                   ? -0.0
          : kind == 2 && trial % 3 == 0 ? nan
                                        : std::ldexp(static_cast<double>(rng() % 2001) - 1000.0, -3);
    }
    const auto got = engine::audit_sample(invariants, n, states.data(), rows, nullptr);
    const auto want = one_pass(invariants, n, states.data(), rows);
    INFO("trial " << trial);
    CHECK(same_bits(got.invariant_abs, want.invariant_abs));
    CHECK(same_bits(got.invariant_rel, want.invariant_rel));
    CHECK(same_bits(got.min_state, want.min_state));
    CHECK(same_bits(got.max_abs_state, want.max_abs_state));
    for (double m : want.min_state) signed_zero_cases += m == 0.0;
  }
  CHECK(signed_zero_cases > 100);
}
