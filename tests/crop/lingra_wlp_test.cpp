// Water-limited LINGRA (PCSE's LINGRA_WLP_FD: LINGRA with the free-draining water balance)
// against PCSE's own reference runs: every day of every variable within the Precision that
// PCSE's YAML tests apply. The shipped cases are four of PCSE's twenty 1986 sites, chosen for
// drought (Lodi and La Coruna dry out to wilting point); set PHYSYNTH_PCSE_LINGRA_WLP to a
// folder of PCSE's test_LINGRA_*_WLP.yaml files to check them all.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>

#include "physynth/domains/crop/lingra.h"
#include "physynth/domains/crop/pcse_inputs.h"

using namespace physynth;
using namespace physynth::domains::crop;

namespace {

struct Score {
  int days = 0, failures = 0;
  std::size_t simulated = 0, reference = 0;
  std::map<std::string, double> worst;  // largest |difference| / precision
  double min_rftra = 1.0;
};

Score score(const std::string& path, CropScheme scheme = CropScheme::kEuler) {
  core::Diagnostics diags;
  auto in = read_pcse_yaml_inputs(path, diags);
  INFO(diags.report());
  REQUIRE(in);
  LingraOptions options;
  options.water = WaterSupply::kWaterLimited;
  options.scheme = scheme;
  const auto r = run_lingra(in->parameters, in->agromanagement, in->weather, options, diags);
  INFO(diags.report());
  REQUIRE(r);
  const std::map<std::string, const std::vector<double>*> mine = {
      {"LAI", &r->lai},           {"TillerNumber", &r->tillers},  {"WeightLVgreen", &r->weight_lv_green},
      {"WeightRE", &r->weight_re}, {"WeightRT", &r->weight_rt},    {"WeightHARV", &r->weight_harv},
      {"WeightABG", &r->weight_abg}, {"TRA", &r->tra},             {"LeafLength", &r->leaf_length},
      {"SM", &r->sm},             {"EVS", &r->evs},               {"RFTRA", &r->rftra}};
  const YAML::Node& ref = in->root["ModelResults"];
  const YAML::Node& precision = in->root["Precision"];
  Score s;
  s.simulated = r->lai.size();
  s.reference = ref.size();
  for (std::size_t d = 0; d < std::min(s.simulated, s.reference); ++d) {
    ++s.days;
    s.min_rftra = std::min(s.min_rftra, r->rftra[d]);
    for (const auto& kv : precision) {
      const std::string var = kv.first.Scalar();
      const auto it = mine.find(var);
      REQUIRE(it != mine.end());
      const double tol = kv.second.as<double>();
      const double e = std::abs((*it->second)[d] - ref[d][var].as<double>());
      if (!(e < tol)) ++s.failures;
      s.worst[var] = std::max(s.worst[var], e / tol);
    }
  }
  return s;
}

void report(const std::string& name, const Score& s) {
  std::cout << name << ": " << s.days << " days, lowest RFTRA " << s.min_rftra << ", worst |diff|/precision";
  for (const auto& [var, w] : s.worst) std::cout << " " << var << " " << w;
  std::cout << "\n";
}

}  // namespace

TEST_CASE("Water-limited LINGRA reproduces PCSE's LINGRA_WLP_FD reference runs within their Precision") {
  const std::string dir = std::string(PHYSYNTH_SOURCE_DIR) + "/data/crop/lingra_wlp/";
  const char* cases[] = {"Italy-Lodi", "Spain-La_Coruna", "Germany-Braunschweig", "Norway-Saerheim"};
  for (const char* c : cases) {
    const std::string name = std::string("test_LINGRA_") + c + "-1986_WLP.yaml";
    INFO(name);
    const Score s = score(dir + name);
    report(c, s);
    CHECK(s.simulated == s.reference);
    CHECK(s.failures == 0);
  }
  if (const char* all = std::getenv("PHYSYNTH_PCSE_LINGRA_WLP")) {
    int files = 0, passed = 0;
    for (const auto& e : std::filesystem::directory_iterator(all)) {
      if (e.path().extension() != ".yaml") continue;
      INFO(e.path().string());
      const Score s = score(e.path().string());
      report(e.path().filename().string(), s);
      ++files;
      if (s.failures == 0 && s.simulated == s.reference) ++passed;
    }
    std::cout << passed << " of " << files << " PCSE LINGRA_WLP_FD cases within Precision on every day\n";
    CHECK(passed == files);
  }
}

TEST_CASE("Water-limited LINGRA: drought lowers growth, and CVODE stays near PCSE's Euler step") {
  const std::string path = std::string(PHYSYNTH_SOURCE_DIR) + "/data/crop/lingra_wlp/test_LINGRA_Italy-Lodi-1986_WLP.yaml";
  core::Diagnostics diags;
  auto in = read_pcse_yaml_inputs(path, diags);
  REQUIRE(in);
  LingraOptions wet, dry, dry_cvode;
  dry.water = dry_cvode.water = WaterSupply::kWaterLimited;
  dry_cvode.scheme = CropScheme::kCvode;
  const auto a = run_lingra(in->parameters, in->agromanagement, in->weather, wet, diags);
  const auto b = run_lingra(in->parameters, in->agromanagement, in->weather, dry, diags);
  const auto c = run_lingra(in->parameters, in->agromanagement, in->weather, dry_cvode, diags);
  INFO(diags.report());
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  // Potential production keeps the soil at field capacity and never limits transpiration here.
  for (double sm : a->sm) CHECK(sm == in->parameters.number("SMFCF", "test", diags));
  CHECK(b->weight_abg.back() < 0.9 * a->weight_abg.back());
  const double rel = c->weight_abg.back() / b->weight_abg.back() - 1.0;
  std::cout << "Lodi 1986: potential " << a->weight_abg.back() << ", water-limited " << b->weight_abg.back()
            << " kg/ha (CVODE " << c->weight_abg.back() << ", " << 100 * rel << " %)\n";
  CHECK(std::abs(rel) < 0.05);
}
