// Daily weather: records read from files (CABO and PCSE CSV formats),
// validated record by record, and the physics bounds they are checked against.
//
// Every problem becomes a diagnostic naming the file, line, column and value
// and what would be valid. One documented repair exists: when TMIN > TMAX on
// *every* day of a file, its two columns were swapped (a known defect of the
// FAO grassland files PCSE ships); they are swapped back and a warning says
// so. A partial inversion is an error: no silent wrong season.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"

namespace physynth::domains::crop {

struct DailyWeather {
  int year = 0;
  int day_of_year = 0;            // 1..366
  double irradiation_j_m2 = 0.0;  // global radiation, J/m2/d
  double tmin_c = 0.0;
  double tmax_c = 0.0;
  double vapour_pressure_hpa = 0.0;
  double wind_m_s = 0.0;
  double rain_mm = 0.0;  // mm/d
};

struct WeatherRecord {
  std::string source;  // the file
  double latitude_deg = 0.0;
  double longitude_deg = 0.0;
  double elevation_m = 0.0;
  std::vector<DailyWeather> days;  // consecutive days
};

struct WeatherReadOptions {
  // Swap TMIN and TMAX when every day of the file has TMIN > TMAX (warned). Off: an error.
  bool repair_swapped_temperatures = true;
};

// CABO format (e.g. NL1.997): '*' comment lines, a header "lon lat elev A B",
// then "station year day irradiation(kJ/m2/d) tmin tmax vap(kPa) wind(m/s) rain(mm/d)";
// -99 marks a missing value.
std::optional<WeatherRecord> read_cabo_weather(const std::string& path, core::Diagnostics& diagnostics,
                                               const WeatherReadOptions& options = {});

// PCSE CSV (e.g. the FAO grassland files): DAY (YYYY-MM-DD), IRRAD (J/m2/d), TMIN, TMAX (degC),
// VAP (hPa), WIND (m/s), RAIN (cm/d), ... LAT, LON, ELEV.
std::optional<WeatherRecord> read_pcse_csv_weather(const std::string& path, core::Diagnostics& diagnostics,
                                                   const WeatherReadOptions& options = {});

// Daily extraterrestrial (top-of-atmosphere) radiation, J/m2/d: FAO-56 eq. 21
// (Allen et al. 1998). Global radiation at the ground cannot exceed it.
double extraterrestrial_radiation_j_m2(double latitude_deg, int day_of_year);

// Saturated vapour pressure, hPa, at temperature T (FAO-56 eq. 11, Tetens).
double saturated_vapour_pressure_hpa(double temperature_c);

// Days in a year, and (month 1..12, day of month) of a day of the year.
int days_in_year(int year);
int month_of(int year, int day_of_year);

}  // namespace physynth::domains::crop
