// Daily weather: records read from files (CABO and PCSE CSV formats),
// validated record by record, and the physics bounds they are checked against.
//
// Every problem becomes a diagnostic naming the file, line, column and value
// and what would be valid. One documented repair exists: when TMIN > TMAX on
// *every* day of a file, its two columns were swapped (a known defect of the
// FAO grassland files PCSE ships); they are swapped back and a warning says
// so. A partial inversion is an error: no silent wrong season.
#pragma once

#include <limits>
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
  // Penman reference evaporation of open water, bare soil and a crop, mm/d: from the file
  // where it has them (PCSE CSV), else computed (complete_reference_evaporation).
  double e0_mm = std::numeric_limits<double>::quiet_NaN();
  double es0_mm = std::numeric_limits<double>::quiet_NaN();
  double et0_mm = std::numeric_limits<double>::quiet_NaN();
};

struct WeatherRecord {
  std::string source;  // the file
  double latitude_deg = 0.0;
  double longitude_deg = 0.0;
  double elevation_m = 0.0;
  // Angstrom coefficients of the site (relative sunshine from transmission), for Penman.
  double angstrom_a = 0.18, angstrom_b = 0.55;
  std::vector<DailyWeather> days;  // consecutive days

  // Index of (year, day of year) in `days`, or -1 when the record does not cover it.
  long index_of(int year, int day_of_year) const;
};

// Continuous forcing for CVODE: the weather at time t, in days since day index `first` of the
// record (day k spans [k, k + 1)), interpolated linearly between the middles of consecutive
// days (indices clamped to the record). Year and day of year are those of day floor(t).
DailyWeather interpolated_weather(const WeatherRecord& record, long first, double t);

// Fills every missing E0, ES0 and ET0 with Penman's (astro.h), as PCSE does for CABO files.
void complete_reference_evaporation(WeatherRecord& record);

// Day of year of a calendar date, and a "YYYY-MM-DD" date as (year, day of year); false if malformed.
int day_of_year(int year, int month, int day);
bool parse_date(const std::string& text, int* year, int* day_of_year);
// Days from (y0, d0) to (y1, d1).
long days_between(int y0, int d0, int y1, int d1);
// "YYYY-MM-DD" of (year, day of year).
std::string format_date(int year, int day_of_year);

struct WeatherReadOptions {
  // Swap TMIN and TMAX when every day of the file has TMIN > TMAX (warned). Off: an error.
  bool repair_swapped_temperatures = true;
};

// The checks and the documented repair every reader applies, for records built elsewhere (e.g.
// PCSE's YAML files): `lines[i]` is the line of days[i] in `path`.
std::optional<WeatherRecord> validate_weather(WeatherRecord record, const std::vector<int>& lines,
                                              const std::string& path, core::Diagnostics& diagnostics,
                                              const WeatherReadOptions& options = {});

// CABO format (e.g. NL1.997): '*' comment lines, a header "lon lat elev A B",
// then "station year day irradiation(kJ/m2/d) tmin tmax vap(kPa) wind(m/s) rain(mm/d)";
// -99 marks a missing value. E0, ES0 and ET0 are computed by Penman with the header's
// Angstrom coefficients (PCSE's ETmodel 'P').
std::optional<WeatherRecord> read_cabo_weather(const std::string& path, core::Diagnostics& diagnostics,
                                               const WeatherReadOptions& options = {});

// PCSE CSV (e.g. the FAO grassland files): DAY (YYYY-MM-DD), IRRAD (J/m2/d), TMIN, TMAX (degC),
// VAP (hPa), WIND (m/s), RAIN (cm/d), ... LAT, LON, ELEV; E0, ES0 and ET0 (cm/d) when present,
// else computed by Penman.
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
