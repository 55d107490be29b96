// WOFOST 7.2 against PCSE's own reference cases: every daily value of every
// variable within the Precision that PCSE's tests/run_tests.py applies.
#include <catch2/catch.hpp>

#include <cmath>
#include <iostream>
#include <map>

#include "physynth/domains/crop/pcse_inputs.h"
#include "physynth/domains/crop/wofost72.h"

using namespace physynth;
using namespace physynth::domains::crop;

namespace {

struct CaseScore {
  std::map<std::string, int> failures;  // per variable
  std::map<std::string, double> worst;  // largest |difference| / precision
  int days = 0;
  std::size_t simulated = 0, reference = 0;
};

CaseScore score_case(const std::string& name) {
  const std::string path = std::string(PHYSYNTH_SOURCE_DIR) + "/data/crop/wofost72/" + name + ".yaml";
  core::Diagnostics diags;
  auto in = read_pcse_yaml_inputs(path, diags);
  INFO(diags.report());
  REQUIRE(in);
  Wofost72Options options;
  options.water = in->forced_soil_moisture ? WaterSupply::kPotential : WaterSupply::kWaterLimited;
  if (in->forced_soil_moisture) options.potential_soil_moisture = *in->forced_soil_moisture;
  auto result = run_wofost72(in->parameters, in->agromanagement.calendar, in->weather, options, diags);
  INFO(diags.report());
  REQUIRE(result);
  CaseScore s;
  const YAML::Node& ref = in->root["ModelResults"];
  const YAML::Node& precision = in->root["Precision"];
  s.simulated = result->days.size();
  s.reference = ref.size();
  const auto& names = Wofost72Day::names();
  for (std::size_t d = 0; d < std::min(s.simulated, s.reference); ++d) {
    ++s.days;
    for (const auto& kv : precision) {
      const std::string var = kv.first.Scalar();
      const double tol = kv.second.as<double>();
      const auto it = std::find(names.begin(), names.end(), var);
      REQUIRE(it != names.end());
      const double mine = result->days[d].value(static_cast<std::size_t>(it - names.begin()));
      const double theirs = ref[d][var].as<double>();
      const double e = std::abs(mine - theirs);
      if (!(e < tol)) ++s.failures[var];
      s.worst[var] = std::max(s.worst[var], e / tol);
    }
  }
  return s;
}

}  // namespace

TEST_CASE("WOFOST 7.2 reproduces PCSE's 14 reference cases within their Precision") {
  const char* cases[] = {
      "potentialproduction_wofost72_01",    "potentialproduction_wofost72_06",    "potentialproduction_wofost72_10",
      "potentialproduction_wofost72_17",    "potentialproduction_wofost72_27",    "potentialproduction_wofost72_30",
      "potentialproduction_wofost72_40",    "waterlimitedproduction_wofost72_01", "waterlimitedproduction_wofost72_06",
      "waterlimitedproduction_wofost72_10", "waterlimitedproduction_wofost72_17", "waterlimitedproduction_wofost72_27",
      "waterlimitedproduction_wofost72_30", "waterlimitedproduction_wofost72_40"};
  for (const char* c : cases) {
    const CaseScore s = score_case(std::string("test_") + c);
    std::cout << c << ": " << s.days << " days";
    for (const auto& [var, w] : s.worst) std::cout << " " << var << " " << w;
    std::cout << "\n";
    INFO(c);
    CHECK(s.simulated == s.reference);
    for (const auto& [var, n] : s.failures) {
      INFO(var << " fails on " << n << " of " << s.days << " days, worst " << s.worst.at(var) << " x precision");
      CHECK(n == 0);
    }
  }
}
