#include "physynth/domains/crop/evapotranspiration.h"

#include <algorithm>
#include <cmath>

#include "physynth/domains/crop/phenology.h"

namespace physynth::domains::crop {
namespace {
// Fraction of easily available soil water by crop group DEPNR (van Diepen et al. 1988).
double sweaf(double et0, double depnr) {
  const double a = 0.76, b = 1.5;
  double s = 1.0 / (a + b * et0) - (5.0 - depnr) * 0.10;
  if (depnr < 3.0) s += (et0 - 0.6) / (depnr * (depnr + 3.0));
  return limit(0.10, 0.95, s);
}
}  // namespace

Evapotranspiration evapotranspiration(const EvapotranspirationParameters& p, double dvs, double lai, double sm,
                                      double e0, double es0, double et0) {
  Evapotranspiration r;
  const double kglob = 0.75 * p.KDIFTB(dvs);
  const double et0_crop = std::max(0.0, p.CFET * et0);
  const double ekl = std::exp(-kglob * lai);
  r.EVWMX = e0 * ekl;
  r.EVSMX = std::max(0.0, es0 * ekl);
  r.TRAMX = et0_crop * (1.0 - ekl);
  const double smcr = (1.0 - sweaf(et0_crop, p.DEPNR)) * (p.SMFCF - p.SMW) + p.SMW;
  // Oxygen shortage (IOX = 1) is not modelled; callers refuse IOX = 1.
  r.RFTRA = limit(0.0, 1.0, (sm - p.SMW) / (smcr - p.SMW));
  r.TRA = r.TRAMX * r.RFTRA;
  return r;
}

}  // namespace physynth::domains::crop
