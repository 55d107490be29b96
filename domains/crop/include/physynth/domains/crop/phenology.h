// Phenological development as in WOFOST (DVS_Phenology and Vernalisation of
// PCSE): development stage DVS runs from -0.1 at sowing through 0 at
// emergence and 1 at anthesis to DVSEND at maturity, driven by the daily
// effective temperature (AFGEN table DTSMTB over the daily mean), slowed before
// anthesis by day length (IDSL >= 1, between DLC and DLO hours of photoperiod
// with the sun above -4 degrees) and by unfulfilled vernalisation (IDSL >= 2).
// Stage changes happen at day boundaries, where DVS is clamped to 0, 1 or
// DVSEND, as in PCSE. References: van Diepen et al. (1989) WOFOST: a
// simulation model of crop production; Boons-Prins et al. (1993); de Wit et
// al. (2019) Agric. Syst. 168:154-167 (WOFOST 25 years).
#pragma once

#include <type_traits>

#include "physynth/domains/crop/afgen.h"
#include "physynth/domains/crop/astro.h"
#include "physynth/domains/crop/parameters.h"

namespace physynth::domains::crop {

enum class CropStage { kEmerging, kVegetative, kReproductive, kMature };

struct Phenology {
  // Parameters.
  double TSUMEM = 0, TBASEM = 0, TEFFMX = 0, TSUM1 = 0, TSUM2 = 0, IDSL = 0, DLO = 0, DLC = 0, DVSI = 0, DVSEND = 2;
  Afgen DTSMTB;
  double VERNSAT = 0, VERNBASE = 0, VERNDVS = 0;
  Afgen VERNRTB;

  // States.
  double DVS = 0, TSUM = 0, TSUME = 0, VERN = 0;
  CropStage stage = CropStage::kEmerging;
  bool vernalised = false, force_vernalisation = false;
  // Rates of the current day.
  double DTSUME = 0, DTSUM = 0, DVR = 0, VERNR = 0, VERNFAC = 1;

  // Reads the parameters (vernalisation ones only when IDSL >= 2).
  void read(const CropParameters& params, const std::string& model, core::Diagnostics& diags);
  // Starts at sowing (DVS -0.1) or at emergence (DVS = DVSI).
  void start(bool at_emergence);
  struct Rates {
    double DTSUME = 0, DTSUM = 0, DVR = 0, VERNR = 0, VERNFAC = 1;
    bool force_vernalisation = false;  // the critical stage passed unvernalised
  };
  // Rates at mean temperature `temp` (degC) on day of year `doy` at `latitude`, for the
  // current stage and states; changes nothing.
  Rates rates(int doy, double latitude_deg, double temp) const;
  // rates(), stored as the rates of the current day (what integrate() applies).
  void calc_rates(int doy, double latitude_deg, double temp);
  // Euler step of one day; returns true when the crop reaches maturity on this step.
  bool integrate();
  // The stage change at a day boundary once DVS has been advanced (by Euler or by an ODE
  // solver): moves to the next stage when DVS passes its threshold and clamps DVS to it.
  // Returns true when the crop reaches maturity.
  bool advance_stage();
};

// Clamps v into [lo, hi] (PCSE's limit()); for doubles and Ceres jets alike.
template <class T>
T limit(double lo, double hi, const T& v) {
  return v < lo ? T(lo) : (v < hi ? v : T(hi));
}

// max and min of two values of one scalar type (a Jet keeps the derivative of the one chosen).
template <class T>
T tmax(const T& a, const T& b) {
  return a < b ? b : a;
}
template <class T>
T tmin(const T& a, const T& b) {
  return b < a ? b : a;
}

// The value of a double or of a Ceres jet.
template <class T>
double value_of(const T& v) {
  if constexpr (std::is_same_v<T, double>)
    return v;
  else
    return v.a;
}

}  // namespace physynth::domains::crop
