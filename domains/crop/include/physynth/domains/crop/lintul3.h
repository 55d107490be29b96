// LINTUL3: light-use-efficiency crop growth with water and nitrogen
// limitation (Shibu et al. 2010, Agric. Syst. 103:55-69, "LINTUL3, a
// simulation model for nitrogen-limited situations: application to rice";
// spring-wheat parameters from the FST version distributed with PCSE), with
// its one-layer soil water balance (irrigation to field capacity, drainage,
// runoff, Ritchie-type soil evaporation) and soil mineral nitrogen.
//
// Growth = LUE x intercepted PAR x min(water factor, nitrogen factor); the
// nitrogen nutrition index NNI from the N concentration of leaves and stems
// between residual and optimal; partitioning over roots, leaves, stems and
// storage organs by development stage, modified by the more limiting stress;
// leaf area by exponential growth while young and by SLA later; death by age,
// shading and N stress; N uptake from demand and soil supply, translocation to
// grain after DVSNT. Development is WOFOST's (phenology.h). Units: masses g
// DM/m2, N g N/m2, water mm, ROOTD m.
//
// The right-hand side is written once (lintul3.cpp, a template over the
// scalar). Two schemes integrate it (Lintul3Options::scheme):
//   - kEuler: one step per day with that day's weather, exactly as PCSE does;
//   - kCvode: CVODE (BDF, exact Jacobians from the same template) within each
//     day, with the weather interpolated linearly between the middles of
//     consecutive days (continuous forcing). Discrete events stay at day
//     boundaries: stage changes with their DVS clamps, the days-since-rain
//     counter of soil evaporation, crop start.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"
#include "physynth/domains/crop/calendar.h"
#include "physynth/domains/crop/parameters.h"
#include "physynth/domains/crop/scheme.h"
#include "physynth/domains/crop/weather.h"

namespace physynth::domains::crop {

struct Lintul3Options {
  CropScheme scheme = CropScheme::kEuler;
  double rtol = 1e-6, atol = 1e-8;  // CVODE tolerances
  // Soil mineralisation only while the crop can take up N (DVS < DVSNLT and WC >= WCWP), as
  // in the FST LINTUL3 and PCSE until 2019 (RTMIN = 0.10 x NLIMIT); false: RNMIN every day
  // (PCSE since 2019).
  bool mineralisation_in_uptake_window = false;
  // How water and nitrogen stress are compared: PCSE since 2023 compares TRANRF with the
  // nitrogen growth factor exp(-NLUE (1 - NNI)); PCSE before (and the 2018 reference run)
  // compared TRANRF with NNI itself.
  bool compare_water_stress_with_nni = false;
};

struct Lintul3Result {
  static const std::vector<std::string>& names();  // output variables, PCSE's names
  std::vector<int> year, day;
  std::vector<std::vector<double>> rows;  // one per day, NaN for crop variables before the crop
  std::string finish;
  long solver_steps = 0;  // CVODE steps over the season (0 for Euler)
};

// From run.start (soil only until the crop starts) to the crop's end; run.nitrogen applied.
std::optional<Lintul3Result> run_lintul3(const CropParameters& params, const Agromanagement& run,
                                         const WeatherRecord& weather, const Lintul3Options& options,
                                         core::Diagnostics& diags);

}  // namespace physynth::domains::crop
