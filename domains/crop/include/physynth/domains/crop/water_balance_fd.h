// PCSE's classic one-layer free-draining soil water balance (WaterbalanceFD, van Keulen and
// Wolf 1986; Supit et al. 1994, WOFOST 6.0 system description): a root zone that deepens with
// the roots, a lower zone down to the maximum rooting depth, surface storage, infiltration
// capped by the soil's percolation rate SOPE, percolation to the lower zone and losses from it
// (KSUB), soil evaporation declining with the days since the last wetting. Used by the
// water-limited WOFOST 7.2 and LINGRA (PCSE's LINGRA_WLP_FD). Units cm and cm/d.
#pragma once

#include "physynth/core/diagnostics.h"
#include "physynth/domains/crop/parameters.h"
#include "physynth/domains/crop/weather.h"

namespace physynth::domains::crop {

struct WaterBalanceFDParameters {
  double SM0 = 0, SMW = 0, SMFCF = 0, SOPE = 0, KSUB = 0, IFUNRN = 0, SSMAX = 0, SSI = 0, WAV = 0, NOTINF = 0,
         SMLIM = 0, RDMSOL = 0;
  // Reads the twelve parameters; each missing one is an error naming `model`.
  void read(const CropParameters& p, const char* model, core::Diagnostics& d);
};

// What the crop asks of the soil on a day: its transpiration and the maximum evaporation left
// for open water and soil under its canopy. Without a crop (before it computes rates) the soil
// evaporates at the weather's E0 and ES0.
struct CropWaterDemand {
  bool crop_present = false;
  double TRA = 0, EVWMX = 0, EVSMX = 0;  // cm/d
};

class WaterBalanceFD {
 public:
  explicit WaterBalanceFD(const WaterBalanceFDParameters& p);
  // The day's rates from its weather, the crop's demand and the current rooting depth (cm).
  void calc_rates(const DailyWeather& w, const CropWaterDemand& crop, double rooting_depth);
  // Applies the rates; the root zone then follows the roots to `rooting_depth` (cm).
  void integrate(double rooting_depth);

  // States: root-zone moisture (m3/m3), surface storage, water in the root zone, the lower zone
  // and both (cm).
  double SM = 0, SS = 0, W = 0, WLOW = 0, WWLOW = 0;
  // The day's soil and open-water evaporation (cm/d).
  double EVS = 0, EVW = 0;

 private:
  static constexpr double kDefaultRootDepth = 10.0;
  WaterBalanceFDParameters p_;
  double RDM_ = 0, RDold_ = 0, DSLR_ = 1, RINold_ = 0;
  double DW_ = 0, DWLOW_ = 0, DSS_ = 0;
};

}  // namespace physynth::domains::crop
