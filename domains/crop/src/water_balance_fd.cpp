#include "physynth/domains/crop/water_balance_fd.h"

#include <algorithm>
#include <cmath>

#include "physynth/domains/crop/evapotranspiration.h"
#include "physynth/domains/crop/phenology.h"

namespace physynth::domains::crop {

void WaterBalanceFDParameters::read(const CropParameters& p, const char* model, core::Diagnostics& d) {
  auto n = [&](const char* name) { return p.number(name, model, d); };
  SM0 = n("SM0"), SMW = n("SMW"), SMFCF = n("SMFCF"), SOPE = n("SOPE"), KSUB = n("KSUB"), IFUNRN = n("IFUNRN");
  SSMAX = n("SSMAX"), SSI = n("SSI"), WAV = n("WAV"), NOTINF = n("NOTINF"), SMLIM = n("SMLIM"), RDMSOL = n("RDMSOL");
}

WaterBalanceFD::WaterBalanceFD(const WaterBalanceFDParameters& p) : p_(p) {
  const double smlim = limit(p_.SMW, p_.SM0, p_.SMLIM);
  const double rd = kDefaultRootDepth;
  RDM_ = std::max(rd, p_.RDMSOL);
  RDold_ = rd;
  SS = p_.SSI;
  SM = limit(p_.SMW, smlim, p_.SMW + p_.WAV / rd);
  W = SM * rd;
  WLOW = limit(0.0, p_.SM0 * (RDM_ - rd), p_.WAV + RDM_ * p_.SMW - W);
  WWLOW = W + WLOW;
  DSLR_ = SM >= p_.SMW + 0.5 * (p_.SMFCF - p_.SMW) ? 1.0 : 5.0;
}

void WaterBalanceFD::calc_rates(const DailyWeather& w, const CropWaterDemand& crop, double rd) {
  const double rain = w.rain_mm / 10.0;
  double evwmx = w.e0_mm / 10.0, evsmx = w.es0_mm / 10.0, wtra = 0.0;
  if (crop.crop_present) wtra = crop.TRA, evwmx = crop.EVWMX, evsmx = crop.EVSMX;
  EVW = EVS = 0.0;
  if (SS > 1.0) {
    EVW = evwmx;
  } else if (RINold_ >= 1.0) {
    EVS = evsmx;
    DSLR_ = 1.0;
  } else {
    DSLR_ += 1.0;
    EVS = evaporation_after_wetting(evsmx, DSLR_, RINold_);
  }
  const double notinf = p_.IFUNRN == 0.0 ? p_.NOTINF : p_.NOTINF * limit(0.0, 1.0, (rain - 0.5));
  double rinpre = (1.0 - notinf) * rain + SS;
  if (SS > 0.1) rinpre = std::min(p_.SOPE, rinpre - EVW);
  const double perc1 = limit(0.0, p_.SOPE, (W - p_.SMFCF * rd) - wtra - EVS);
  const double welow = p_.SMFCF * (RDM_ - rd);
  const double loss = limit(0.0, p_.KSUB, WLOW - welow + perc1);
  const double perc2 = ((RDM_ - rd) * p_.SM0 - WLOW) + loss;
  const double perc = std::min(perc1, perc2);
  const double rin = std::min(rinpre, (p_.SM0 - SM) * rd + wtra + EVS + perc);
  RINold_ = rin;
  DW_ = rin - wtra - EVS - perc;
  DWLOW_ = perc - loss;
  if (W + DW_ < 0.0) {
    EVS += W + DW_;
    DW_ = -W;
  }
  DSS_ = std::min(rain - EVW - rin, p_.SSMAX - SS);
}

void WaterBalanceFD::integrate(double rd) {
  SS += DSS_;
  W += DW_;
  WLOW += DWLOW_;
  WWLOW = W + WLOW;
  // Water follows the root front into the subsoil, or back.
  const double change = rd - RDold_;
  const double wdr = change > 0.001 ? std::min(WLOW, WLOW * change / (p_.RDMSOL - RDold_)) : W * change / RDold_;
  if (std::abs(wdr) > 0.0) WLOW -= wdr, W += wdr;
  SM = W / rd;
  RDold_ = rd;
}

}  // namespace physynth::domains::crop
