// A stochastic daily weather generator of the Richardson (WGEN) type, fitted
// to a real record, for many plausible seasons at one site.
//
//   rain occurrence   first-order Markov chain, P(wet | dry) and P(wet | wet) per month
//   rain amount       gamma distribution per month, maximum likelihood (Thom 1958)
//   Tmax, Tmin, Rad   standardised residuals about monthly means and standard deviations
//                     conditioned on wet or dry days, following the multivariate AR(1)
//                     z_t = A z_{t-1} + B e_t, with A = M1 M0^-1 and B B' = M0 - A M1'
//                     (M0, M1 the lag-0 and lag-1 correlation matrices of the record)
//   vapour pressure   saturated at Tmin plus the month's mean dew-point depression
//   wind              log-normal per month
//
// Richardson, Water Resour. Res. 17 (1981) 182-190; Richardson & Wright, USDA
// ARS-8 (1984). Monthly step values stand in for WGEN's Fourier harmonics.
// Every draw comes from the counter-based generator keyed on (seed, season),
// so season k is the same whichever others are generated.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <vector>

#include "physynth/domains/crop/weather.h"

namespace physynth::domains::crop {

struct WeatherGenerator {
  static constexpr double kWetDayMm = 0.1;  // a day with at least this much rain is wet

  double latitude_deg = 0.0, longitude_deg = 0.0, elevation_m = 0.0;
  std::array<double, 12> p_wet_after_dry{}, p_wet_after_wet{};
  std::array<double, 12> rain_shape{}, rain_scale{};  // gamma, mm
  // [month][0 dry, 1 wet]
  std::array<std::array<double, 2>, 12> tmax_mean{}, tmax_sd{}, tmin_mean{}, tmin_sd{}, rad_mean{}, rad_sd{};
  std::array<double, 12> dew_point_depression_c{};  // Tmin - dew point
  std::array<double, 12> log_wind_mean{}, log_wind_sd{};
  Eigen::Matrix3d A = Eigen::Matrix3d::Zero(), B = Eigen::Matrix3d::Identity();

  // Fits to one or more records of the same site (the years of a station). Needs at least
  // a year; months without any wet day get a small wet probability and the overall amounts.
  static WeatherGenerator fit(const std::vector<WeatherRecord>& records);

  // A season of `days` days from `year`-01-01 (day 1); index k selects an independent season.
  WeatherRecord generate(int year, int days, std::uint64_t seed, std::uint64_t index) const;
};

// Statistics a weather record is judged by: per month, the mean and variance of Tmax, Tmin and
// radiation, mean rain, wet-day frequency; overall mean wet and dry spell lengths.
struct WeatherStatistics {
  std::array<double, 12> tmax_mean{}, tmax_var{}, tmin_mean{}, tmin_var{}, rad_mean{}, rad_var{};
  std::array<double, 12> rain_mean{}, wet_fraction{};
  double wet_spell_mean = 0.0, dry_spell_mean = 0.0;
};
WeatherStatistics weather_statistics(const std::vector<WeatherRecord>& records);

}  // namespace physynth::domains::crop
