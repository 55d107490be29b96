// Loading example scenarios in engine tests: the scenario must load (its
// diagnostics are shown if not), or must not (and then its report is returned).
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "physynth/engine/scenario.h"

namespace physynth::testing {

inline engine::Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides) {
  core::Diagnostics d;
  auto s = engine::load_scenario(path, overrides, d);
  INFO(d.report());
  REQUIRE(s);
  return std::move(*s);
}

inline std::string scenario_errors(const std::string& path, const std::vector<std::string>& overrides) {
  core::Diagnostics d;
  CHECK_FALSE(engine::load_scenario(path, overrides, d));
  return d.report();
}

}  // namespace physynth::testing
