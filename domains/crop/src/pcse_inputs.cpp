#include "physynth/domains/crop/pcse_inputs.h"

#include <cmath>

namespace physynth::domains::crop {
namespace {

core::SourceLocation at(const std::string& file, const YAML::Node& n) {
  return {file, n.Mark().line + 1, n.Mark().column + 1};
}

bool date_of(const YAML::Node& n, const std::string& file, const std::string& key, int* y, int* d,
             core::Diagnostics& diags) {
  if (!n || !n.IsScalar() || !parse_date(n.Scalar(), y, d)) {
    diags.error(at(file, n), key + " must be a date YYYY-MM-DD" +
                                 (n && n.IsScalar() ? ", got '" + n.Scalar() + "'" : std::string()));
    return false;
  }
  return true;
}

}  // namespace

std::optional<CropCalendar> crop_calendar_from_yaml(const YAML::Node& cc, const std::string& file,
                                                    core::Diagnostics& diags) {
  const std::size_t errors_before = diags.error_count();
  CropCalendar c;
  date_of(cc["crop_start_date"], file, "crop_start_date", &c.start_year, &c.start_day, diags);
  const std::string start = cc["crop_start_type"] ? cc["crop_start_type"].Scalar() : "";
  if (start != "sowing" && start != "emergence")
    diags.error(at(file, cc), "crop_start_type must be 'sowing' or 'emergence', got '" + start + "'");
  c.start_at_emergence = start == "emergence";
  const std::string end = cc["crop_end_type"] ? cc["crop_end_type"].Scalar() : "";
  if (end == "maturity")
    c.end = CropEnd::kMaturity;
  else if (end == "harvest")
    c.end = CropEnd::kHarvest;
  else if (end == "earliest")
    c.end = CropEnd::kEarliest;
  else
    diags.error(at(file, cc), "crop_end_type must be 'maturity', 'harvest' or 'earliest', got '" + end + "'");
  if (c.end != CropEnd::kMaturity) date_of(cc["crop_end_date"], file, "crop_end_date", &c.end_year, &c.end_day, diags);
  if (cc["max_duration"]) c.max_duration = cc["max_duration"].as<int>();
  if (diags.error_count() > errors_before) return std::nullopt;
  return c;
}

std::optional<PcseInputs> read_pcse_yaml_inputs(const std::string& path, core::Diagnostics& diags) {
  PcseInputs in;
  try {
    in.root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    diags.error({path, e.mark.line + 1, e.mark.column + 1}, std::string("not valid YAML: ") + e.msg);
    return std::nullopt;
  }
  const std::size_t errors_before = diags.error_count();
  const YAML::Node& params = in.root["ModelParameters"];
  if (!params) {
    diags.error({path, 0, 0}, "no ModelParameters section");
  } else if (auto p = parameters_from_yaml(params, path, diags)) {
    in.parameters = *p;
  }
  const YAML::Node& agro = in.root["AgroManagement"];
  // One campaign, optionally followed by the end-of-campaigns marker ({date: null}).
  const bool one_campaign = agro && agro.IsSequence() && agro.size() >= 1 && agro[0].IsMap() &&
                            (agro.size() == 1 || (agro.size() == 2 && agro[1].begin()->second.IsNull()));
  if (!one_campaign) {
    diags.error({path, 0, 0}, "AgroManagement must be a list with one campaign");
  } else {
    const YAML::Node campaign = agro[0].begin()->second;
    if (auto c = crop_calendar_from_yaml(campaign["CropCalendar"], path, diags)) in.calendar = *c;
  }
  if (const YAML::Node& wv = in.root["WeatherVariables"]; wv && wv.IsSequence() && wv.size() > 0) {
    in.weather.source = path;
    std::vector<int> lines;
    in.weather.latitude_deg = wv[0]["LAT"].as<double>();
    in.weather.longitude_deg = wv[0]["LON"].as<double>();
    in.weather.elevation_m = wv[0]["ELEV"].as<double>();
    for (const auto& row : wv) {
      DailyWeather w;
      if (!date_of(row["DAY"], path, "DAY", &w.year, &w.day_of_year, diags)) break;
      auto num = [&](const char* key, double scale) {
        const YAML::Node v = row[key];
        if (!v) {
          diags.error(at(path, row), std::string("weather day ") + row["DAY"].Scalar() + " lacks " + key);
          return 0.0;
        }
        return v.as<double>() * scale;
      };
      w.irradiation_j_m2 = num("IRRAD", 1.0);
      w.tmin_c = num("TMIN", 1.0), w.tmax_c = num("TMAX", 1.0);
      w.vapour_pressure_hpa = num("VAP", 1.0), w.wind_m_s = num("WIND", 1.0);
      w.rain_mm = num("RAIN", 10.0);  // cm/d -> mm/d
      w.e0_mm = num("E0", 10.0), w.es0_mm = num("ES0", 10.0), w.et0_mm = num("ET0", 10.0);
      in.weather.days.push_back(w);
      lines.push_back(row.Mark().line + 1);
    }
    if (auto checked = validate_weather(in.weather, lines, path, diags)) in.weather = *checked;
  }
  if (const YAML::Node& ext = in.root["ExternalStates"]; ext && ext.IsSequence() && ext.size() > 0) {
    const double sm = ext[0]["SM"].as<double>();
    for (const auto& row : ext)
      if (!row["SM"] || row["SM"].as<double>() != sm) {
        diags.error(at(path, row), "ExternalStates: only a constant forced SM is supported");
        break;
      }
    in.forced_soil_moisture = sm;
  }
  if (diags.error_count() > errors_before) return std::nullopt;
  return in;
}

}  // namespace physynth::domains::crop
