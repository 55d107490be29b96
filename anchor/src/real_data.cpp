#include "physynth/anchor/real_data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "physynth/core/config.h"
#include "physynth/core/diagnostics.h"
#include "physynth/core/text.h"

namespace physynth::anchor {

namespace {

// 1-based character column where each comma-separated field of `line` starts.
std::vector<int> field_columns(const std::string& line) {
  std::vector<int> columns{1};
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"') quoted = !quoted;
    if (line[i] == ',' && !quoted) columns.push_back(static_cast<int>(i) + 2);
  }
  return columns;
}

// 1-based column of a quote that the line never closes (split_fields would read the rest of the
// line as one field, commas and all), 0 if every quote is closed.
int unclosed_quote(const std::string& line) {
  int open = 0;
  for (std::size_t i = 0; i < line.size(); ++i)
    if (line[i] == '"') open = open ? 0 : static_cast<int>(i) + 1;
  return open;
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
  return v;
}

}  // namespace

std::size_t RealData::readings() const {
  std::size_t n = 0;
  for (const auto& u : units)
    for (const auto& s : u.series) n += s.readings.size();
  return n;
}

std::vector<std::string> RealData::observables() const {
  std::vector<std::string> names;
  for (const auto& u : units)
    for (const auto& s : u.series)
      if (std::find(names.begin(), names.end(), s.observable) == names.end()) names.push_back(s.observable);
  return names;
}

std::optional<RealData> read_real_data(const std::string& path, core::Diagnostics& diagnostics) {
  const std::size_t errors_before = diagnostics.error_count();
  if (!core::check_input_file(path, "real-data file", core::kMaxInputFileBytes, diagnostics)) return std::nullopt;
  std::ifstream in(path);
  if (!in) {
    diagnostics.error({path, 0, 0}, "cannot open the real-data file");
    return std::nullopt;
  }
  RealData data;
  data.file = path;
  std::string line;
  int line_number = 0;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    ++line_number;
    // A UTF-8 byte-order mark (Excel writes one) is not part of the first column's name.
    if (line_number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    header = core::split_fields(line, ',');
    break;
  }
  if (header.empty()) {
    diagnostics.error({path, line_number, 0},
                      "the file is empty; expected a header 'unit,time,observable,value' (optional: sd, units, "
                      "covariate columns)");
    return std::nullopt;
  }
  const int header_line = line_number;
  if (const int q = unclosed_quote(line)) {
    diagnostics.error({path, header_line, q},
                      "the header's quote is never closed (a quoted name must end with a quote before the next "
                      "comma); got " + line.substr(static_cast<std::size_t>(q - 1), 40));
    return std::nullopt;
  }
  const std::vector<int> header_columns = field_columns(line);
  int c_unit = -1, c_time = -1, c_observable = -1, c_value = -1, c_sd = -1, c_units = -1;
  std::vector<int> c_covariates;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string& h = header[i];
    const core::SourceLocation where{path, header_line, header_columns[i]};
    if (h.empty()) {
      diagnostics.error(where, "empty column name in the header");
      continue;
    }
    if (!seen.insert(h).second) {
      diagnostics.error(where, "column '" + h + "' appears twice in the header");
      continue;
    }
    const int c = static_cast<int>(i);
    if (h == "unit")
      c_unit = c;
    else if (h == "time")
      c_time = c;
    else if (h == "observable")
      c_observable = c;
    else if (h == "value")
      c_value = c;
    else if (h == "sd")
      c_sd = c;
    else if (h == "units")
      c_units = c;
    else {
      c_covariates.push_back(c);
      data.covariate_columns.push_back(h);
    }
  }
  for (const auto& [name, c] : std::vector<std::pair<std::string, int>>{
           {"unit", c_unit}, {"time", c_time}, {"observable", c_observable}, {"value", c_value}})
    if (c < 0)
      diagnostics.error({path, header_line, 1}, "missing column '" + name +
                                                    "'; the header must name unit, time, "
                                                    "observable and value (optional: sd, "
                                                    "units, covariate columns)");
  if (diagnostics.error_count() > errors_before) return std::nullopt;

  // Where each (unit, observable) series lives, and the last time read in it.
  std::map<std::string, std::size_t> unit_index;
  std::map<std::pair<std::size_t, std::string>, std::size_t> series_index;
  // Each row's fields as read, with its line: a row given twice would count one reading twice.
  std::map<std::vector<std::string>, int> rows_seen;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (const int q = unclosed_quote(line)) {
      diagnostics.error({path, line_number, q},
                        "this quote is never closed (a quoted field must end with a quote before the next comma)");
      continue;
    }
    const std::vector<std::string> f = core::split_fields(line, ',');
    const std::vector<int> columns = field_columns(line);
    if (f.size() != header.size()) {
      diagnostics.error({path, line_number, 1},
                        "row has " + std::to_string(f.size()) + " fields, the header " + std::to_string(header.size()));
      continue;
    }
    const auto at = [&](int c) {
      return core::SourceLocation{path, line_number, columns[static_cast<std::size_t>(c)]};
    };
    {
      const auto [seen, fresh] = rows_seen.emplace(f, line_number);
      if (!fresh) {
        diagnostics.error({path, line_number, 1}, "this row repeats line " + std::to_string(seen->second) +
                                                      " exactly; a reading is given once (replicates differ in "
                                                      "unit or value): remove one of them");
        continue;
      }
    }
    bool ok = true;
    const auto number = [&](int c, const std::string& what) -> double {
      const auto v = parse_number(f[static_cast<std::size_t>(c)]);
      if (!v || !std::isfinite(*v)) {
        diagnostics.error(at(c), what + " must be a finite number, got '" + f[static_cast<std::size_t>(c)] + "'");
        ok = false;
        return 0.0;
      }
      return *v;
    };
    const std::string& unit = f[static_cast<std::size_t>(c_unit)];
    const std::string& observable = f[static_cast<std::size_t>(c_observable)];
    if (unit.empty()) {
      diagnostics.error(at(c_unit), "unit is empty");
      ok = false;
    }
    if (observable.empty()) {
      diagnostics.error(at(c_observable), "observable is empty");
      ok = false;
    }
    Reading r;
    r.line = line_number;
    r.time = number(c_time, "time");
    r.value = number(c_value, "value");
    if (c_sd >= 0 && !f[static_cast<std::size_t>(c_sd)].empty()) {
      r.sd = number(c_sd, "sd");
      if (ok && !(r.sd > 0.0)) {
        diagnostics.error(at(c_sd), "sd must be > 0 (or empty for the noise model's), got '" +
                                        f[static_cast<std::size_t>(c_sd)] + "'");
        ok = false;
      }
    }
    std::vector<double> covariates;
    for (const int c : c_covariates)
      covariates.push_back(number(c, "covariate '" + header[static_cast<std::size_t>(c)] + "'"));
    if (!ok) continue;

    auto [it, inserted] = unit_index.emplace(unit, data.units.size());
    if (inserted) {
      RealUnit u;
      u.id = unit;
      u.line = line_number;
      for (std::size_t k = 0; k < c_covariates.size(); ++k) u.covariates[data.covariate_columns[k]] = covariates[k];
      data.units.push_back(std::move(u));
    }
    RealUnit& u = data.units[it->second];
    for (std::size_t k = 0; k < c_covariates.size(); ++k) {
      const double first = u.covariates[data.covariate_columns[k]];
      if (covariates[k] != first)
        diagnostics.error(at(c_covariates[k]), "covariate '" + data.covariate_columns[k] + "' of unit '" + unit +
                                                   "' is " + core::format_number(covariates[k]) + " here but " +
                                                   core::format_number(first) + " on line " + std::to_string(u.line) +
                                                   "; a covariate is constant within a unit");
    }
    auto [s_it, s_inserted] = series_index.emplace(std::make_pair(it->second, observable), u.series.size());
    if (s_inserted) {
      RealSeries s;
      s.observable = observable;
      if (c_units >= 0) s.units = f[static_cast<std::size_t>(c_units)];
      u.series.push_back(std::move(s));
    }
    RealSeries& s = u.series[s_it->second];
    if (c_units >= 0 && f[static_cast<std::size_t>(c_units)] != s.units)
      diagnostics.error(at(c_units), "units '" + f[static_cast<std::size_t>(c_units)] + "' of observable '" +
                                         observable + "' differ from '" + s.units + "' on line " +
                                         std::to_string(s.readings.front().line));
    if (!s.readings.empty() && r.time < s.readings.back().time)
      diagnostics.error(at(c_time), "time " + core::format_number(r.time) + " is earlier than " +
                                        core::format_number(s.readings.back().time) + " on line " +
                                        std::to_string(s.readings.back().line) + " for unit '" + unit +
                                        "', observable '" + observable +
                                        "'; each unit's readings of an observable must be in non-decreasing time");
    s.readings.push_back(r);
  }
  if (data.units.empty() && diagnostics.error_count() == errors_before)
    diagnostics.error({path, header_line, 0}, "no readings after the header");
  if (diagnostics.error_count() > errors_before) return std::nullopt;
  return data;
}

void check_reading_times(const RealData& data, double t0, double t_end, core::Diagnostics& diagnostics) {
  for (const auto& u : data.units)
    for (const auto& se : u.series)
      for (const auto& r : se.readings)
        if (r.time < t0 || r.time > t_end)
          diagnostics.error({data.file, r.line, 0}, "time " + core::format_number(r.time) +
                                                        " is outside the scenario's time span [" +
                                                        core::format_number(t0) + ", " + core::format_number(t_end) +
                                                        "]");
}

void check_covariate_signs(const RealData& data, const std::map<std::string, std::string>& positive,
                           core::Diagnostics& diagnostics) {
  for (const auto& u : data.units)
    for (const auto& [name, value] : u.covariates) {
      const auto it = positive.find(name);
      if (it == positive.end() || value > 0.0) continue;
      diagnostics.error({data.file, u.line, 0}, "covariate '" + name + "' of unit '" + u.id + "' is " +
                                                    core::format_number(value) + ", but the scenario's " + name +
                                                    " is " + it->second + ": a log-scale quantity is > 0");
    }
}

std::string format_real_data(const RealData& data) {
  bool sd = false, units = false;
  for (const auto& u : data.units)
    for (const auto& se : u.series) {
      units = units || !se.units.empty();
      for (const auto& r : se.readings) sd = sd || r.sd > 0.0;
    }
  const auto number = [](double x) { return core::format_number(x); };
  // A name with a comma in it was read from quotes (which the reader drops): quoted again.
  const auto text = [](const std::string& t) { return t.find(',') == std::string::npos ? t : '"' + t + '"'; };
  std::string out = "unit,time,observable,value";
  if (sd) out += ",sd";
  if (units) out += ",units";
  for (const auto& c : data.covariate_columns) out += "," + text(c);
  out += "\n";
  for (const auto& u : data.units)
    for (const auto& se : u.series)
      for (const auto& r : se.readings) {
        out += text(u.id) + "," + number(r.time) + "," + text(se.observable) + "," + number(r.value);
        if (sd) out += "," + (r.sd > 0.0 ? number(r.sd) : std::string());
        if (units) out += "," + text(se.units);
        for (const auto& c : data.covariate_columns) {
          const auto it = u.covariates.find(c);
          out += "," + (it != u.covariates.end() ? number(it->second) : std::string());
        }
        out += "\n";
      }
  return out;
}

}  // namespace physynth::anchor
