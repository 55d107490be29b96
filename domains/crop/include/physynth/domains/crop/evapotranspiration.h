// Crop transpiration and the evaporation left for soil and water under a
// canopy, as in WOFOST (and PCSE's Evapotranspiration): maximum rates from
// Penman's ET0, E0 and ES0 and the canopy's light interception (0.75 KDIF),
// transpiration reduced linearly below the critical soil moisture that the
// crop group DEPNR and the evaporative demand set (van Diepen et al. 1988,
// SWEAF). Used by WOFOST 7.2 and LINGRA. Units cm/d.
#pragma once

#include <cmath>

#include "physynth/domains/crop/afgen.h"

namespace physynth::domains::crop {

struct EvapotranspirationParameters {
  double CFET = 1, DEPNR = 3, SMW = 0, SMFCF = 0;
  Afgen KDIFTB;
};

struct Evapotranspiration {
  double EVWMX = 0, EVSMX = 0, TRAMX = 0, TRA = 0, RFTRA = 1;
};

// Evaporation from a drying bare soil (Ritchie 1972): the maximum rate on the day the soil was
// wetted, then falling with the square root of time, so the n-th dry day (n >= 1) gives
// maximum x (sqrt(n) - sqrt(n - 1)), plus what water reached the soil, never above the maximum.
// Used by the water balances of WOFOST (both) and LINTUL3, each with its own wetting rule.
template <class T>
T evaporation_after_wetting(const T& maximum, double dry_days, double water_added) {
  const T e = maximum * (std::sqrt(dry_days) - std::sqrt(dry_days - 1.0)) + water_added;
  return e < maximum ? e : maximum;
}

// e0, es0, et0 in cm/d; sm the root-zone soil moisture, m3/m3.
Evapotranspiration evapotranspiration(const EvapotranspirationParameters& p, double dvs, double lai, double sm,
                                      double e0, double es0, double et0);

}  // namespace physynth::domains::crop
