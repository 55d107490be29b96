#include "physynth/domains/crop/weather_generator.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/LU>
#include <algorithm>
#include <boost/math/distributions/gamma.hpp>
#include <cmath>
#include <stdexcept>

#include "physynth/core/random.h"

namespace physynth::domains::crop {

namespace {

struct Moments {
  double n = 0, sum = 0, sq = 0;
  void add(double x) {
    n += 1;
    sum += x;
    sq += x * x;
  }
  double mean() const { return n > 0 ? sum / n : 0.0; }
  double var() const { return n > 1 ? (sq - sum * sum / n) / (n - 1) : 0.0; }
};

bool wet(const DailyWeather& d) { return d.rain_mm >= WeatherGenerator::kWetDayMm; }

double dew_point_c(double vapour_pressure_hpa) {  // inverse of the Tetens formula
  const double l = std::log(std::max(vapour_pressure_hpa, 1e-3) / 6.108);
  return 237.3 * l / (17.27 - l);
}

}  // namespace

WeatherGenerator WeatherGenerator::fit(const std::vector<WeatherRecord>& records) {
  if (records.empty() || records.front().days.size() < 365)
    throw std::invalid_argument("WeatherGenerator::fit needs at least one year of daily weather");
  WeatherGenerator g;
  g.latitude_deg = records.front().latitude_deg;
  g.longitude_deg = records.front().longitude_deg;
  g.elevation_m = records.front().elevation_m;

  std::array<double, 12> dd{}, dw{}, wd{}, ww{};  // transition counts (from dry/wet to dry/wet) by month
  std::array<Moments, 12> amount, log_amount, depression, log_wind;
  std::array<std::array<Moments, 2>, 12> tmax, tmin, rad;
  Moments all_amount, all_log_amount;
  for (const auto& r : records)
    for (std::size_t i = 0; i < r.days.size(); ++i) {
      const DailyWeather& d = r.days[i];
      const int m = month_of(d.year, d.day_of_year) - 1;
      const int w = wet(d) ? 1 : 0;
      if (i > 0) {
        const bool was_wet = wet(r.days[i - 1]);
        (was_wet ? (w ? ww : wd) : (w ? dw : dd))[static_cast<std::size_t>(m)] += 1;
      }
      if (w) {
        amount[m].add(d.rain_mm);
        log_amount[m].add(std::log(d.rain_mm));
        all_amount.add(d.rain_mm);
        all_log_amount.add(std::log(d.rain_mm));
      }
      tmax[m][w].add(d.tmax_c);
      tmin[m][w].add(d.tmin_c);
      rad[m][w].add(d.irradiation_j_m2);
      depression[m].add(d.tmin_c - dew_point_c(d.vapour_pressure_hpa));
      log_wind[m].add(std::log(std::max(d.wind_m_s, 0.1)));
    }
  auto gamma_fit = [](double mean, double mean_log, double* shape, double* scale) {
    // Thom's maximum-likelihood approximation.
    const double a = std::max(std::log(mean) - mean_log, 1e-6);
    *shape = (1.0 + std::sqrt(1.0 + 4.0 * a / 3.0)) / (4.0 * a);
    *scale = mean / *shape;
  };
  for (std::size_t m = 0; m < 12; ++m) {
    g.p_wet_after_dry[m] = (dw[m] + 0.5) / (dd[m] + dw[m] + 1.0);  // +1/2: months without a wet day keep a small chance
    g.p_wet_after_wet[m] = (ww[m] + 0.5) / (wd[m] + ww[m] + 1.0);
    if (amount[m].n >= 3)
      gamma_fit(amount[m].mean(), log_amount[m].mean(), &g.rain_shape[m], &g.rain_scale[m]);
    else
      gamma_fit(all_amount.mean(), all_log_amount.mean(), &g.rain_shape[m], &g.rain_scale[m]);
    for (int w = 0; w < 2; ++w) {
      // A state with too few days borrows the other's moments.
      const int src = tmax[m][w].n >= 5 ? w : 1 - w;
      g.tmax_mean[m][w] = tmax[m][src].mean();
      g.tmax_sd[m][w] = std::sqrt(std::max(tmax[m][src].var(), 1e-6));
      g.tmin_mean[m][w] = tmin[m][src].mean();
      g.tmin_sd[m][w] = std::sqrt(std::max(tmin[m][src].var(), 1e-6));
      g.rad_mean[m][w] = rad[m][src].mean();
      g.rad_sd[m][w] = std::sqrt(std::max(rad[m][src].var(), 1.0));
    }
    g.dew_point_depression_c[m] = depression[m].mean();
    g.log_wind_mean[m] = log_wind[m].mean();
    g.log_wind_sd[m] = std::sqrt(std::max(log_wind[m].var(), 1e-6));
  }

  // Correlations of the standardised residuals: lag 0 and lag 1.
  Eigen::Matrix3d M0 = Eigen::Matrix3d::Zero(), M1 = Eigen::Matrix3d::Zero();
  double n0 = 0, n1 = 0;
  for (const auto& r : records) {
    Eigen::Vector3d previous;
    for (std::size_t i = 0; i < r.days.size(); ++i) {
      const DailyWeather& d = r.days[i];
      const auto m = static_cast<std::size_t>(month_of(d.year, d.day_of_year) - 1);
      const int w = wet(d) ? 1 : 0;
      const Eigen::Vector3d z((d.tmax_c - g.tmax_mean[m][w]) / g.tmax_sd[m][w],
                              (d.tmin_c - g.tmin_mean[m][w]) / g.tmin_sd[m][w],
                              (d.irradiation_j_m2 - g.rad_mean[m][w]) / g.rad_sd[m][w]);
      M0 += z * z.transpose();
      n0 += 1;
      if (i > 0) {
        M1 += z * previous.transpose();
        n1 += 1;
      }
      previous = z;
    }
  }
  M0 /= n0;
  M1 /= n1;
  g.A = M1 * M0.inverse();
  Eigen::Matrix3d BBt = M0 - g.A * M1.transpose();
  // Keep B B' positive definite (Matalas 1967): clamp small eigenvalues.
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(0.5 * (BBt + BBt.transpose()));
  const Eigen::Vector3d lambda = eig.eigenvalues().cwiseMax(1e-6);
  BBt = eig.eigenvectors() * lambda.asDiagonal() * eig.eigenvectors().transpose();
  g.B = BBt.llt().matrixL();
  return g;
}

WeatherRecord WeatherGenerator::generate(int year, int days, std::uint64_t seed, std::uint64_t index) const {
  WeatherRecord out;
  out.source = "weather generator";
  out.latitude_deg = latitude_deg;
  out.longitude_deg = longitude_deg;
  out.elevation_m = elevation_m;
  namespace st = core::stream;
  core::CounterRng occurrence(seed, index, st::kWeatherBase + 0), amounts(seed, index, st::kWeatherBase + 1),
      residuals(seed, index, st::kWeatherBase + 2), wind(seed, index, st::kWeatherBase + 3);
  Eigen::Vector3d z = Eigen::Vector3d::Zero();
  bool was_wet = false;
  int y = year, doy = 1;
  for (int k = 0; k < days; ++k) {
    DailyWeather d;
    d.year = y;
    d.day_of_year = doy;
    const auto m = static_cast<std::size_t>(month_of(y, doy) - 1);
    const double p = was_wet ? p_wet_after_wet[m] : p_wet_after_dry[m];
    const bool is_wet = occurrence.uniform() < p;
    const double u = amounts.uniform();
    d.rain_mm = is_wet ? std::max(kWetDayMm, boost::math::quantile(
                                                 boost::math::gamma_distribution<>(rain_shape[m], rain_scale[m]), u))
                       : 0.0;
    const Eigen::Vector3d e(residuals.normal(), residuals.normal(), residuals.normal());
    z = A * z + B * e;
    const int w = is_wet ? 1 : 0;
    d.tmax_c = tmax_mean[m][w] + tmax_sd[m][w] * z[0];
    d.tmin_c = tmin_mean[m][w] + tmin_sd[m][w] * z[1];
    if (d.tmin_c > d.tmax_c) std::swap(d.tmin_c, d.tmax_c);  // rare draws in the tails
    const double top = extraterrestrial_radiation_j_m2(latitude_deg, doy);
    d.irradiation_j_m2 = std::clamp(rad_mean[m][w] + rad_sd[m][w] * z[2], 0.03 * top, 0.8 * top);
    d.vapour_pressure_hpa = saturated_vapour_pressure_hpa(d.tmin_c - dew_point_depression_c[m]);
    d.wind_m_s = std::exp(log_wind_mean[m] + log_wind_sd[m] * wind.normal());
    out.days.push_back(d);
    was_wet = is_wet;
    if (++doy > days_in_year(y)) {
      doy = 1;
      ++y;
    }
  }
  return out;
}

WeatherStatistics weather_statistics(const std::vector<WeatherRecord>& records) {
  WeatherStatistics s;
  std::array<Moments, 12> tmax, tmin, rad, rain, wet_days;
  Moments wet_spell, dry_spell;
  for (const auto& r : records) {
    int run = 0;
    bool run_wet = false;
    for (std::size_t i = 0; i < r.days.size(); ++i) {
      const DailyWeather& d = r.days[i];
      const auto m = static_cast<std::size_t>(month_of(d.year, d.day_of_year) - 1);
      tmax[m].add(d.tmax_c);
      tmin[m].add(d.tmin_c);
      rad[m].add(d.irradiation_j_m2);
      rain[m].add(d.rain_mm);
      wet_days[m].add(wet(d) ? 1.0 : 0.0);
      if (i > 0 && wet(d) != run_wet) {
        (run_wet ? wet_spell : dry_spell).add(run);
        run = 0;
      }
      run_wet = wet(d);
      ++run;
    }
  }
  for (std::size_t m = 0; m < 12; ++m) {
    s.tmax_mean[m] = tmax[m].mean();
    s.tmax_var[m] = tmax[m].var();
    s.tmin_mean[m] = tmin[m].mean();
    s.tmin_var[m] = tmin[m].var();
    s.rad_mean[m] = rad[m].mean();
    s.rad_var[m] = rad[m].var();
    s.rain_mean[m] = rain[m].mean();
    s.wet_fraction[m] = wet_days[m].mean();
  }
  s.wet_spell_mean = wet_spell.mean();
  s.dry_spell_mean = dry_spell.mean();
  return s;
}

}  // namespace physynth::domains::crop
