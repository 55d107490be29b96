// LINGRA: grassland growth (Schapendonk et al. 1998, Eur. J. Agron. 9:87-100;
// Bouman et al. 1996, the FAO-network calibration), as in PCSE's LINGRA.
//
// Growth is the lesser of a source (light-use efficiency LUEmax x intercepted
// PAR, reduced by soil temperature, high radiation and drought) and a sink
// (leaf elongation of the tillers, from temperature); a reserve pool buffers
// the difference. Tillers form and die with leaf area and time since the last
// cut; leaves die with age, shading and drought. Mowing is a discrete event:
// on a mowing date the green leaf mass above `biomass_remaining` is harvested
// (added to WeightHARV), leaf area falls with it, and leaf length and the
// days-after-harvest counter restart. Masses kg DM/ha.
//
// The rates are written once (lingra.cpp, a template over the scalar) and
// integrated by PCSE's daily Euler step or by CVODE within each day with the
// weather interpolated between the middles of days (LingraOptions::scheme);
// a mowing day is the discrete event, the same one-day cut in both schemes,
// and the days-since-cut counter stays daily. Potential production keeps the
// soil at field capacity (PCSE's LINGRA_PP); water-limited production couples
// PCSE's free-draining soil water balance (LINGRA_WLP_FD, water_balance_fd.h):
// the soil moisture at the day's start sets the transpiration reduction RFTRA,
// which cuts light-use efficiency, shifts partitioning to the roots and adds
// drought leaf death. The water balance is a daily step in both schemes (under
// CVODE it takes the day's transpiration at the day's start).
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

struct LingraOptions {
  CropScheme scheme = CropScheme::kEuler;
  WaterSupply water = WaterSupply::kPotential;
  double rtol = 1e-6, atol = 1e-6;  // CVODE tolerances (masses in kg/ha)
};

struct LingraResult {
  std::vector<int> year, day;
  // Per day: accumulated above-ground biomass (harvested + standing green), standing green
  // leaves, LAI, tiller number.
  std::vector<double> weight_abg, weight_lv_green, lai, tillers;
  // Per day: harvested, reserve and root mass (kg/ha), leaf length (cm).
  std::vector<double> weight_harv, weight_re, weight_rt, leaf_length;
  // Per day: root-zone soil moisture (m3/m3; field capacity under potential production), the
  // day's transpiration and soil evaporation (cm/d; evaporation 0 under potential production,
  // where no soil balance runs) and the transpiration reduction factor.
  std::vector<double> sm, tra, evs, rftra;
  long solver_steps = 0;  // CVODE steps over the season (0 for Euler)
};

// From the crop's start to its end date (crop_end_type harvest or earliest), inclusive; the
// grass is cut on run.mowings.
std::optional<LingraResult> run_lingra(const CropParameters& params, const Agromanagement& run,
                                       const WeatherRecord& weather, const LingraOptions& options,
                                       core::Diagnostics& diags);

}  // namespace physynth::domains::crop
