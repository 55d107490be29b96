#include "physynth/domains/crop/weather.h"

#include "physynth/core/config.h"
#include "physynth/domains/crop/astro.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace physynth::domains::crop {

int days_in_year(int year) { return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 366 : 365; }

int month_of(int year, int day_of_year) {
  static const int starts[2][13] = {{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365},
                                    {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366}};
  const int leap = days_in_year(year) == 366 ? 1 : 0;
  for (int m = 1; m <= 12; ++m)
    if (day_of_year <= starts[leap][m]) return m;
  return 12;
}

double extraterrestrial_radiation_j_m2(double latitude_deg, int day_of_year) {
  const double gsc = 0.0820e6 * 1440.0 / M_PI;  // J/m2/d: G_sc 0.0820 MJ/m2/min times 24*60/pi
  const double phi = latitude_deg * M_PI / 180.0;
  const double dr = 1.0 + 0.033 * std::cos(2.0 * M_PI * day_of_year / 365.0);
  const double delta = 0.409 * std::sin(2.0 * M_PI * day_of_year / 365.0 - 1.39);
  const double x = std::clamp(-std::tan(phi) * std::tan(delta), -1.0, 1.0);
  const double ws = std::acos(x);
  return gsc * dr * (ws * std::sin(phi) * std::sin(delta) + std::cos(phi) * std::cos(delta) * std::sin(ws));
}

double saturated_vapour_pressure_hpa(double t) { return 6.108 * std::exp(17.27 * t / (t + 237.3)); }

namespace {}  // namespace

int day_of_year(int year, int month, int day) {
  static const int starts[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  return starts[month - 1] + day + (month > 2 && days_in_year(year) == 366 ? 1 : 0);
}

bool parse_date(const std::string& text, int* year, int* doy) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1) return false;
  static const int lengths[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d > lengths[m - 1] + (m == 2 && days_in_year(y) == 366 ? 1 : 0)) return false;
  *year = y;
  *doy = day_of_year(y, m, d);
  return true;
}

long days_between(int y0, int d0, int y1, int d1) {
  long n = d1 - d0;
  for (int y = y0; y < y1; ++y) n += days_in_year(y);
  for (int y = y1; y < y0; ++y) n -= days_in_year(y);
  return n;
}

std::string format_date(int year, int doy) {
  static const int starts[13] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
  const int leap = days_in_year(year) == 366 ? 1 : 0;
  int m = 0;
  while (m < 11 && doy > starts[m + 1] + (m + 1 >= 2 ? leap : 0)) ++m;
  const int d = doy - starts[m] - (m >= 2 ? leap : 0);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, m + 1, d);
  return buf;
}

long WeatherRecord::index_of(int year, int doy) const {
  if (days.empty()) return -1;
  const long i = days_between(days.front().year, days.front().day_of_year, year, doy);
  return i >= 0 && i < static_cast<long>(days.size()) ? i : -1;
}

DailyWeather interpolated_weather(const WeatherRecord& record, long first, double t) {
  const long last = static_cast<long>(record.days.size()) - 1;
  auto day = [&](long k) -> const DailyWeather& {
    return record.days[static_cast<std::size_t>(std::clamp(first + k, 0L, last))];
  };
  const double s = t - 0.5;
  const long a = static_cast<long>(std::floor(s));
  const double u = s - static_cast<double>(a);
  const DailyWeather &wa = day(a), &wb = day(a + 1);
  auto lerp = [u](double x, double y) { return x + u * (y - x); };
  DailyWeather w = day(static_cast<long>(std::floor(t)));
  w.irradiation_j_m2 = lerp(wa.irradiation_j_m2, wb.irradiation_j_m2);
  w.tmin_c = lerp(wa.tmin_c, wb.tmin_c);
  w.tmax_c = lerp(wa.tmax_c, wb.tmax_c);
  w.vapour_pressure_hpa = lerp(wa.vapour_pressure_hpa, wb.vapour_pressure_hpa);
  w.wind_m_s = lerp(wa.wind_m_s, wb.wind_m_s);
  w.rain_mm = lerp(wa.rain_mm, wb.rain_mm);
  w.e0_mm = lerp(wa.e0_mm, wb.e0_mm);
  w.es0_mm = lerp(wa.es0_mm, wb.es0_mm);
  w.et0_mm = lerp(wa.et0_mm, wb.et0_mm);
  return w;
}

void complete_reference_evaporation(WeatherRecord& record) {
  for (DailyWeather& w : record.days) {
    if (!std::isnan(w.e0_mm) && !std::isnan(w.es0_mm) && !std::isnan(w.et0_mm)) continue;
    const ReferenceEvaporation e =
        penman(w.day_of_year, record.latitude_deg, record.elevation_m, w.tmin_c, w.tmax_c, w.irradiation_j_m2,
               w.vapour_pressure_hpa, w.wind_m_s, record.angstrom_a, record.angstrom_b);
    if (std::isnan(w.e0_mm)) w.e0_mm = e.e0_mm;
    if (std::isnan(w.es0_mm)) w.es0_mm = e.es0_mm;
    if (std::isnan(w.et0_mm)) w.et0_mm = e.et0_mm;
  }
}

namespace {

// One parsed row with the line it came from, before validation.
struct Row {
  int line = 0;
  DailyWeather w;
};

// Checks every row and the sequence of days; applies the documented temperature repair.
std::optional<WeatherRecord> validate(WeatherRecord record, std::vector<Row>& rows, const std::string& path,
                                      core::Diagnostics& diags, const WeatherReadOptions& options) {
  const std::size_t errors_before = diags.error_count();
  if (rows.empty()) {
    diags.error({path, 0, 0}, "no weather records");
    return std::nullopt;
  }
  // Swapped columns: TMIN > TMAX on some days and TMIN < TMAX on none (equal days fit either order).
  std::size_t inverted = 0, ordered = 0;
  for (const auto& r : rows) {
    inverted += r.w.tmin_c > r.w.tmax_c;
    ordered += r.w.tmin_c < r.w.tmax_c;
  }
  const bool columns_swapped = inverted > 0 && ordered == 0;
  const bool swap = columns_swapped && options.repair_swapped_temperatures;
  if (swap)
    diags.warning({path, rows.front().line, 0},
                  "TMIN > TMAX on " + std::to_string(inverted) + " of " + std::to_string(rows.size()) +
                      " days and below it on none: the two columns are swapped (a known defect of some PCSE weather "
                      "files); swapped them back");
  std::size_t reported = 0;
  auto error = [&](const Row& r, const std::string& message) {
    if (++reported <= 20) diags.error({path, r.line, 0}, message);
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Row& r = rows[i];
    DailyWeather& w = r.w;
    if (swap) std::swap(w.tmin_c, w.tmax_c);
    const std::string day = std::to_string(w.year) + " day " + std::to_string(w.day_of_year);
    if (w.tmin_c > w.tmax_c)
      error(r, "TMIN (" + core::format_number(w.tmin_c) + ") > TMAX (" + core::format_number(w.tmax_c) + ") on " + day +
                   (columns_swapped ? "; no day has TMIN < TMAX: the columns look swapped (repair_swapped_temperatures "
                                      "is off)"
                                    : "; " + std::to_string(ordered) +
                                          " other days have TMIN < TMAX, so this is not a "
                                          "swapped-column file"));
    if (w.tmin_c < -90.0 || w.tmax_c > 60.0)
      error(r, "temperature outside [-90, 60] degC on " + day + ": TMIN " + core::format_number(w.tmin_c) + ", TMAX " +
                   core::format_number(w.tmax_c));
    if (w.irradiation_j_m2 < 0.0)
      error(r, "negative radiation (" + core::format_number(w.irradiation_j_m2) + " J/m2/d) on " + day);
    const double top = extraterrestrial_radiation_j_m2(record.latitude_deg, w.day_of_year);
    if (w.irradiation_j_m2 > top)
      error(r, "radiation " + core::format_number(w.irradiation_j_m2) + " J/m2/d on " + day +
                   " exceeds the top-of-atmosphere radiation at latitude " + core::format_number(record.latitude_deg) +
                   " (" + core::format_number(std::round(top)) + " J/m2/d); check the units (J, kJ or MJ)");
    if (w.rain_mm < 0.0) error(r, "negative rain (" + core::format_number(w.rain_mm) + " mm) on " + day);
    if (w.wind_m_s < 0.0) error(r, "negative wind speed (" + core::format_number(w.wind_m_s) + " m/s) on " + day);
    if (w.e0_mm < 0.0 || w.es0_mm < 0.0 || w.et0_mm < 0.0)
      error(r, "negative reference evaporation (E0 " + core::format_number(w.e0_mm) + ", ES0 " +
                   core::format_number(w.es0_mm) + ", ET0 " + core::format_number(w.et0_mm) + " mm) on " + day);
    if (w.vapour_pressure_hpa < 0.0)
      error(r, "negative vapour pressure (" + core::format_number(w.vapour_pressure_hpa) + " hPa) on " + day);
    if (i > 0) {
      const DailyWeather& p = rows[i - 1].w;
      const bool next = (w.year == p.year && w.day_of_year == p.day_of_year + 1) ||
                        (w.year == p.year + 1 && w.day_of_year == 1 && p.day_of_year == days_in_year(p.year));
      if (!next)
        error(r, "day " + std::to_string(w.year) + "-" + std::to_string(w.day_of_year) + " follows " +
                     std::to_string(p.year) + "-" + std::to_string(p.day_of_year) +
                     ": days must be consecutive (a gap, a repeat or a wrong order)");
    }
    record.days.push_back(w);
  }
  if (reported > 20)
    diags.error({path, 0, 0}, "... and " + std::to_string(reported - 20) + " more problems in this file");
  if (diags.error_count() > errors_before) return std::nullopt;
  return record;
}

double number(const std::string& text, const std::string& path, int line, const std::string& column,
              core::Diagnostics& diags, bool* ok) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
    diags.error({path, line, 0}, "column " + column + " must be a number, got '" + text + "'");
    *ok = false;
    return 0.0;
  }
  return v;
}

}  // namespace

std::optional<WeatherRecord> validate_weather(WeatherRecord record, const std::vector<int>& lines,
                                              const std::string& path, core::Diagnostics& diags,
                                              const WeatherReadOptions& options) {
  std::vector<Row> rows;
  for (std::size_t i = 0; i < record.days.size(); ++i)
    rows.push_back({i < lines.size() ? lines[i] : 0, record.days[i]});
  record.days.clear();
  return validate(record, rows, path, diags, options);
}

std::optional<WeatherRecord> read_cabo_weather(const std::string& path, core::Diagnostics& diags,
                                               const WeatherReadOptions& options) {
  if (!core::check_input_file(path, "weather file", core::kMaxInputFileBytes, diags)) return std::nullopt;
  std::ifstream in(path);
  if (!in) {
    diags.error({path, 0, 0}, "cannot open the weather file");
    return std::nullopt;
  }
  WeatherRecord record;
  record.source = path;
  std::vector<Row> rows;
  bool header = false, ok = true;
  std::string line;
  static const char* names[] = {"station",         "year", "day", "irradiation", "tmin", "tmax",
                                "vapour pressure", "wind", "rain"};
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '*') continue;
    std::istringstream ss(line);
    std::vector<std::string> f;
    std::string token;
    while (ss >> token) f.push_back(token);
    if (f.empty()) continue;
    if (!header) {
      if (f.size() != 5) {
        diags.error({path, n, 0}, "the CABO header line needs 5 values (longitude latitude elevation A B), got " +
                                      std::to_string(f.size()));
        return std::nullopt;
      }
      record.longitude_deg = number(f[0], path, n, "longitude", diags, &ok);
      record.latitude_deg = number(f[1], path, n, "latitude", diags, &ok);
      record.elevation_m = number(f[2], path, n, "elevation", diags, &ok);
      // Negative A and B mark column 4 as global radiation (not sunshine hours); Penman uses |A|, |B|.
      record.angstrom_a = std::abs(number(f[3], path, n, "Angstrom A", diags, &ok));
      record.angstrom_b = std::abs(number(f[4], path, n, "Angstrom B", diags, &ok));
      header = true;
      continue;
    }
    if (f.size() != 9) {
      diags.error({path, n, 0},
                  "a CABO weather line has 9 columns (station year day irradiation tmin tmax vap wind "
                  "rain), got " +
                      std::to_string(f.size()));
      ok = false;
      continue;
    }
    double v[9];
    for (int c = 0; c < 9; ++c) v[c] = number(f[static_cast<std::size_t>(c)], path, n, names[c], diags, &ok);
    bool missing = false;
    for (int c = 3; c < 9; ++c)
      if (v[c] == -99.0) {
        diags.error({path, n, 0}, std::string("missing value (-99) in column ") + names[c] + " on " + f[1] + " day " +
                                      f[2] + "; fill it from a neighbouring station before use");
        missing = true;
      }
    if (missing) {
      ok = false;
      continue;
    }
    // Whole numbers in range before they become ints (found by fuzzing: a year of 2e88).
    auto whole_in = [](double x, double lo, double hi) { return x >= lo && x <= hi && x == std::floor(x); };
    if (!whole_in(v[1], 1, 9999) || !whole_in(v[2], 1, 366)) {
      diags.error({path, n, 0}, "year '" + f[1] + "' and day '" + f[2] +
                                    "' must be whole numbers, the year from 1 to 9999 and the day from 1 to 366");
      ok = false;
      continue;
    }
    Row r;
    r.line = n;
    r.w.year = static_cast<int>(v[1]);
    r.w.day_of_year = static_cast<int>(v[2]);
    r.w.irradiation_j_m2 = v[3] * 1000.0;  // kJ -> J
    r.w.tmin_c = v[4];
    r.w.tmax_c = v[5];
    r.w.vapour_pressure_hpa = v[6] * 10.0;  // kPa -> hPa
    r.w.wind_m_s = v[7];
    r.w.rain_mm = v[8];
    rows.push_back(r);
  }
  if (!header) {
    diags.error({path, 0, 0}, "no CABO header line (longitude latitude elevation A B)");
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  auto result = validate(record, rows, path, diags, options);
  if (result) complete_reference_evaporation(*result);
  return result;
}

std::optional<WeatherRecord> read_pcse_csv_weather(const std::string& path, core::Diagnostics& diags,
                                                   const WeatherReadOptions& options) {
  if (!core::check_input_file(path, "weather file", core::kMaxInputFileBytes, diags)) return std::nullopt;
  std::ifstream in(path);
  if (!in) {
    diags.error({path, 0, 0}, "cannot open the weather file");
    return std::nullopt;
  }
  std::string line;
  std::getline(in, line);
  auto strip_cr = [](std::string& l) {
    if (!l.empty() && l.back() == '\r') l.pop_back();  // files written on Windows
  };
  strip_cr(line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) header.push_back(f);
  }
  std::vector<std::size_t> col;
  for (const char* name : {"DAY", "IRRAD", "TMIN", "TMAX", "VAP", "WIND", "RAIN", "LAT", "LON", "ELEV"}) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      diags.error({path, 1, 0}, std::string("missing column ") + name +
                                    "; a PCSE weather CSV has DAY, IRRAD, TMIN, TMAX, "
                                    "VAP, WIND, RAIN, LAT, LON, ELEV");
      return std::nullopt;
    }
    col.push_back(static_cast<std::size_t>(it - header.begin()));
  }
  // Optional reference evaporation columns (cm/d); all three or none.
  std::vector<std::size_t> evaporation;
  for (const char* name : {"E0", "ES0", "ET0"}) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it != header.end()) evaporation.push_back(static_cast<std::size_t>(it - header.begin()));
  }
  if (!evaporation.empty() && evaporation.size() != 3) {
    diags.error({path, 1, 0},
                "columns E0, ES0 and ET0 come together: give all three or none (then Penman computes them)");
    return std::nullopt;
  }
  WeatherRecord record;
  record.source = path;
  std::vector<Row> rows;
  bool ok = true;
  for (int n = 2; std::getline(in, line); ++n) {
    strip_cr(line);
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string v;
    while (std::getline(ss, v, ',')) f.push_back(v);
    if (f.size() < header.size()) f.resize(header.size());
    int y = 0, m = 0, d = 0;
    if (std::sscanf(f[col[0]].c_str(), "%d-%d-%d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31) {
      diags.error({path, n, 0}, "column DAY must be a date YYYY-MM-DD, got '" + f[col[0]] + "'");
      ok = false;
      continue;
    }
    Row r;
    r.line = n;
    r.w.year = y;
    r.w.day_of_year = day_of_year(y, m, d);
    r.w.irradiation_j_m2 = number(f[col[1]], path, n, "IRRAD", diags, &ok);
    r.w.tmin_c = number(f[col[2]], path, n, "TMIN", diags, &ok);
    r.w.tmax_c = number(f[col[3]], path, n, "TMAX", diags, &ok);
    r.w.vapour_pressure_hpa = number(f[col[4]], path, n, "VAP", diags, &ok);
    r.w.wind_m_s = number(f[col[5]], path, n, "WIND", diags, &ok);
    r.w.rain_mm = number(f[col[6]], path, n, "RAIN", diags, &ok) * 10.0;  // cm -> mm
    if (!evaporation.empty()) {
      r.w.e0_mm = number(f[evaporation[0]], path, n, "E0", diags, &ok) * 10.0;
      r.w.es0_mm = number(f[evaporation[1]], path, n, "ES0", diags, &ok) * 10.0;
      r.w.et0_mm = number(f[evaporation[2]], path, n, "ET0", diags, &ok) * 10.0;
    }
    if (rows.empty()) {
      record.latitude_deg = number(f[col[7]], path, n, "LAT", diags, &ok);
      record.longitude_deg = number(f[col[8]], path, n, "LON", diags, &ok);
      record.elevation_m = number(f[col[9]], path, n, "ELEV", diags, &ok);
    }
    rows.push_back(r);
  }
  if (!ok) return std::nullopt;
  auto result = validate(record, rows, path, diags, options);
  if (result) complete_reference_evaporation(*result);
  return result;
}

}  // namespace physynth::domains::crop
