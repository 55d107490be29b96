// Crop transpiration and the evaporation left for soil and water under a
// canopy, as in WOFOST (and PCSE's Evapotranspiration): maximum rates from
// Penman's ET0, E0 and ES0 and the canopy's light interception (0.75 KDIF),
// transpiration reduced linearly below the critical soil moisture that the
// crop group DEPNR and the evaporative demand set (van Diepen et al. 1988,
// SWEAF). Used by WOFOST 7.2 and LINGRA. Units cm/d.
#pragma once

#include "physynth/domains/crop/afgen.h"

namespace physynth::domains::crop {

struct EvapotranspirationParameters {
  double CFET = 1, DEPNR = 3, SMW = 0, SMFCF = 0;
  Afgen KDIFTB;
};

struct Evapotranspiration {
  double EVWMX = 0, EVSMX = 0, TRAMX = 0, TRA = 0, RFTRA = 1;
};

// e0, es0, et0 in cm/d; sm the root-zone soil moisture, m3/m3.
Evapotranspiration evapotranspiration(const EvapotranspirationParameters& p, double dvs, double lai, double sm,
                                      double e0, double es0, double et0);

}  // namespace physynth::domains::crop
