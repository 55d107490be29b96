// WOFOST 7.2: potential and water-limited crop production, with a daily
// Euler step, reproducing PCSE's Wofost72 crop with its classic free-draining
// water balance (WaterbalanceFD) or, for potential production, a soil kept at
// a fixed moisture (WaterbalancePP).
//
// Per day: phenology (phenology.h); gross assimilation by three-point Gaussian
// integration over the canopy depth and the day (Goudriaan 1986; Spitters
// 1986) from AMAXTB, EFFTB and KDIFTB, reduced by the 7-day mean minimum
// temperature (TMNFTB); maintenance respiration with Q10; conversion to dry
// matter and partitioning over roots, leaves, stems and storage organs by
// development stage; leaves as daily age classes that die at age SPAN
// (physiological days above TBASE), from water stress (PERDL) and self-shading
// above LAI 3.2/KDIF; transpiration and soil evaporation from Penman's ET0,
// E0 and ES0 with the Feddes-type reduction of van Diepen (SWEAF, DEPNR).
// Units: masses kg DM/ha, LAI m2/m2, RD cm, TRA and EVS cm/d, W and WLOW cm.
//
// Why Euler only: leaf age classes are a cohort structure that grows by one
// class per day; WOFOST is defined as this discrete-time model (van Diepen et
// al. 1989, Supit et al. 1994), so there is no continuous-time twin to hand
// to CVODE. LINTUL3 and LINGRA, which are ODEs, offer both schemes.
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"
#include "physynth/domains/crop/calendar.h"
#include "physynth/domains/crop/parameters.h"
#include "physynth/domains/crop/scheme.h"
#include "physynth/domains/crop/weather.h"

namespace physynth::domains::crop {

struct Wofost72Options {
  WaterSupply water = WaterSupply::kWaterLimited;
  // Soil moisture of potential production, m3/m3; NaN means field capacity (SMFCF).
  double potential_soil_moisture = std::numeric_limits<double>::quiet_NaN();
};

// The state of one day after its rates are computed (what PCSE reports daily).
struct Wofost72Day {
  int year = 0, day = 0;
  double DVS = 0, LAI = 0, RD = 0, TAGP = 0, TRA = 0, TWLV = 0, TWRT = 0, TWSO = 0, TWST = 0;
  double SM = 0, EVS = 0, W = 0, WLOW = 0, WWLOW = 0;
  static const std::vector<std::string>& names();  // "DVS", "LAI", ... in the order above
  double value(std::size_t i) const;
};

struct Wofost72Result {
  std::vector<Wofost72Day> days;  // start to the end of the crop
  std::string finish;             // "maturity", "harvest" or "max_duration"
};

// Runs one crop season. The weather record must cover the season and carry E0, ES0 and
// ET0. Missing parameters and an uncovered season are errors in `diags`.
std::optional<Wofost72Result> run_wofost72(const CropParameters& params, const CropCalendar& calendar,
                                           const WeatherRecord& weather, const Wofost72Options& options,
                                           core::Diagnostics& diags);

}  // namespace physynth::domains::crop
