#include "physynth/domains/crop/astro.h"
#include "physynth/core/constants.h"

#include <algorithm>
#include <cmath>

namespace physynth::domains::crop {
namespace {
constexpr double kRad = kPi / 180.0;

double declination(int doy) { return -std::asin(std::sin(23.45 * kRad) * std::cos(2.0 * kPi * (doy + 10.0) / 365.0)); }

double clamp(double lo, double hi, double v) { return v < lo ? lo : (v < hi ? v : hi); }
}  // namespace

double day_length(int doy, double latitude_deg, double angle_deg) {
  const double dec = declination(doy);
  const double sinld = std::sin(kRad * latitude_deg) * std::sin(dec);
  const double cosld = std::cos(kRad * latitude_deg) * std::cos(dec);
  const double aob = (-std::sin(angle_deg * kRad) + sinld) / cosld;
  if (std::abs(aob) <= 1.0) return 12.0 * (1.0 + 2.0 * std::asin(aob) / kPi);
  return aob > 1.0 ? 24.0 : 0.0;
}

Astro astro(int doy, double latitude_deg, double irradiation) {
  Astro a;
  const double dec = declination(doy);
  const double sc = 1370.0 * (1.0 + 0.033 * std::cos(2.0 * kPi * doy / 365.0));
  a.sinld = std::sin(kRad * latitude_deg) * std::sin(dec);
  a.cosld = std::cos(kRad * latitude_deg) * std::cos(dec);
  const double aob = a.sinld / a.cosld;
  double dsinb;
  if (std::abs(aob) <= 1.0) {
    a.day_length_h = 12.0 * (1.0 + 2.0 * std::asin(aob) / kPi);
    const double root = std::sqrt(1.0 - aob * aob);
    dsinb = 3600.0 * (a.day_length_h * a.sinld + 24.0 * a.cosld * root / kPi);
    a.dsinbe = 3600.0 * (a.day_length_h * (a.sinld + 0.4 * (a.sinld * a.sinld + a.cosld * a.cosld * 0.5)) +
                         12.0 * a.cosld * (2.0 + 3.0 * 0.4 * a.sinld) * root / kPi);
  } else {
    a.day_length_h = aob > 1.0 ? 24.0 : 0.0;
    dsinb = 3600.0 * a.day_length_h * a.sinld;
    a.dsinbe = 3600.0 * a.day_length_h * (a.sinld + 0.4 * (a.sinld * a.sinld + a.cosld * a.cosld * 0.5));
  }
  a.photoperiod_h = day_length(doy, latitude_deg, -4.0);
  a.top_of_atmosphere = sc * dsinb;
  a.transmission = a.day_length_h > 0.0 ? irradiation / a.top_of_atmosphere : 0.0;
  const double t = a.transmission;
  double frdif;
  if (t > 0.75)
    frdif = 0.23;
  else if (t > 0.35)
    frdif = 1.33 - 1.46 * t;
  else if (t > 0.07)
    frdif = 1.0 - 2.3 * (t - 0.07) * (t - 0.07);
  else
    frdif = 1.0;
  a.diffuse_pp = frdif * t * 0.5 * sc;
  return a;
}

ReferenceEvaporation penman(int doy, double latitude_deg, double elevation_m, double tmin, double tmax,
                            double irradiation, double vap, double wind, double angstrom_a, double angstrom_b) {
  constexpr double kPsychrometric = 0.67;  // hPa/K
  constexpr double kAlbedoWater = 0.05, kAlbedoSoil = 0.15, kAlbedoCrop = 0.25;
  constexpr double kLatentHeat = 2.45e6;                    // J/kg
  constexpr double kStefanBoltzmann = 5.670373e-8 * 86400;  // J/m2/d/K4
  const double tmean = 0.5 * (tmin + tmax);
  const double tdif = tmax - tmin;
  const double bu = 0.54 + 0.35 * clamp(0.0, 1.0, (tdif - 12.0) / 4.0);
  const double pbar = 1013.0 * std::exp(-0.034 * elevation_m / (tmean + 273.0));
  const double gamma = kPsychrometric * pbar / 1013.0;
  const double svap = 6.10588 * std::exp(17.32491 * tmean / (tmean + 238.102));
  const double delta = 238.102 * 17.32491 * svap / ((tmean + 238.102) * (tmean + 238.102));
  vap = std::min(vap, svap);
  const Astro a = astro(doy, latitude_deg, irradiation);
  const double relssd = clamp(0.0, 1.0, (a.transmission - std::abs(angstrom_a)) / std::abs(angstrom_b));
  const double rb =
      kStefanBoltzmann * std::pow(tmean + 273.0, 4) * (0.56 - 0.079 * std::sqrt(vap)) * (0.1 + 0.9 * relssd);
  const double rnw = (irradiation * (1.0 - kAlbedoWater) - rb) / kLatentHeat;
  const double rns = (irradiation * (1.0 - kAlbedoSoil) - rb) / kLatentHeat;
  const double rnc = (irradiation * (1.0 - kAlbedoCrop) - rb) / kLatentHeat;
  const double ea = 0.26 * std::max(0.0, svap - vap) * (0.5 + bu * wind);
  const double eac = 0.26 * std::max(0.0, svap - vap) * (1.0 + bu * wind);
  ReferenceEvaporation e;
  e.e0_mm = std::max(0.0, (delta * rnw + gamma * ea) / (delta + gamma));
  e.es0_mm = std::max(0.0, (delta * rns + gamma * ea) / (delta + gamma));
  e.et0_mm = std::max(0.0, (delta * rnc + gamma * eac) / (delta + gamma));
  return e;
}

}  // namespace physynth::domains::crop
