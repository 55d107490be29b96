#include "physynth/domains/crop/pcse_inputs.h"

#include <cmath>

#include "physynth/core/config.h"

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
  if (const YAML::Node md = cc["max_duration"]) {
    int days = 0;
    if (!YAML::convert<int>::decode(md, days) || days < 1)
      diags.error(at(file, md), "max_duration must be a whole number of days >= 1, got '" +
                                    (md.IsScalar() ? md.Scalar() : std::string("a collection")) + "'");
    else
      c.max_duration = days;
  }
  if (const YAML::Node v = cc["crop_name"]; v && v.IsScalar()) c.crop_name = v.Scalar();
  if (const YAML::Node v = cc["variety_name"]; v && v.IsScalar()) c.variety_name = v.Scalar();
  if (diags.error_count() > errors_before) return std::nullopt;
  return c;
}

// The number `key` of an event's mapping, or an error naming the event.
double event_number(const YAML::Node& event, const char* key, const std::string& file, core::Diagnostics& diags) {
  const YAML::Node v = event.begin()->second[key];
  try {
    if (v && v.IsScalar()) return v.as<double>();
  } catch (const YAML::Exception&) {
  }
  diags.error(at(file, event), "event " + event.begin()->first.Scalar() + " needs a number '" + key + "'" +
                                   (v && v.IsScalar() ? ", got '" + v.Scalar() + "'" : std::string()));
  return 0.0;
}

std::optional<YAML::Node> load(const std::string& path, core::Diagnostics& diags) {
  return core::load_yaml_file(path, diags);  // strict: regular file, size, duplicate keys
}

YAML::Node agromanagement_node(const YAML::Node& root) {
  return root["AgroManagement"] ? root["AgroManagement"] : root["Agromanagement"];
}

}  // namespace

std::optional<Agromanagement> agromanagement_from_yaml(const YAML::Node& agro, const std::string& file,
                                                       core::Diagnostics& diags) {
  const std::size_t errors_before = diags.error_count();
  const bool one_campaign = agro && agro.IsSequence() && agro.size() >= 1 && agro[0].IsMap() &&
                            (agro.size() == 1 || (agro.size() == 2 && agro[1].begin()->second.IsNull()));
  if (!one_campaign) {
    diags.error(agro ? at(file, agro) : core::SourceLocation{file, 0, 0},
                "AgroManagement must be a list with one campaign (optionally followed by its end date: null)");
    return std::nullopt;
  }
  Agromanagement a;
  date_of(agro[0].begin()->first, file, "the campaign's start", &a.start_year, &a.start_day, diags);
  const YAML::Node campaign = agro[0].begin()->second;
  if (!campaign || !campaign.IsMap() || !campaign["CropCalendar"]) {
    diags.error(at(file, agro[0]), "the campaign needs a CropCalendar");
    return std::nullopt;
  }
  if (auto c = crop_calendar_from_yaml(campaign["CropCalendar"], file, diags)) a.calendar = *c;
  if (const YAML::Node te = campaign["TimedEvents"]; te && te.IsSequence())
    for (const auto& group : te) {
      const std::string signal = group["event_signal"] ? group["event_signal"].Scalar() : "";
      if (signal != "apply_n" && signal != "mowing") {
        diags.error(at(file, group), "TimedEvents: event_signal must be 'apply_n' or 'mowing', got '" + signal + "'");
        continue;
      }
      for (const auto& ev : group["events_table"]) {
        int y = 0, d = 0;
        if (!ev.IsMap() || !date_of(ev.begin()->first, file, "an event's date", &y, &d, diags)) continue;
        if (signal == "apply_n") {
          // LINTUL3's files give amount (g N/m2) and recovery; newer PCSE files N_amount (kg N/ha)
          // and N_recovery.
          const bool per_ha = static_cast<bool>(ev.begin()->second["N_amount"]);
          NitrogenApplication n{
              y, d, per_ha ? event_number(ev, "N_amount", file, diags) / 10.0 : event_number(ev, "amount", file, diags),
              event_number(ev, per_ha ? "N_recovery" : "recovery", file, diags)};
          a.nitrogen.push_back(n);
        } else {
          a.mowings.push_back({y, d, event_number(ev, "biomass_remaining", file, diags)});
        }
      }
    }
  if (days_between(a.start_year, a.start_day, a.calendar.start_year, a.calendar.start_day) < 0)
    diags.error(at(file, campaign["CropCalendar"]),
                "the crop starts (" + format_date(a.calendar.start_year, a.calendar.start_day) +
                    ") before its campaign (" + format_date(a.start_year, a.start_day) + ")");
  if (diags.error_count() > errors_before) return std::nullopt;
  return a;
}

namespace {
std::string model_name(const YAML::Node& root) {
  const YAML::Node model = root.IsMap() ? root["Model"] : YAML::Node();
  return model && model.IsMap() && model["model"] && model["model"].IsScalar() ? model["model"].Scalar() : "";
}
}  // namespace

std::optional<Agromanagement> read_pcse_agromanagement(const std::string& path, core::Diagnostics& diags) {
  const auto root = load(path, diags);
  if (!root) return std::nullopt;
  auto agro = agromanagement_from_yaml(agromanagement_node(*root), path, diags);
  if (agro) agro->pcse_model = model_name(*root);
  return agro;
}

std::string pcse_model_of(const std::string& path) {
  core::Diagnostics quiet;
  const auto root = load(path, quiet);
  return root ? model_name(*root) : "";
}

std::optional<CropParameters> read_pcse_yaml_parameters(const std::string& path, core::Diagnostics& diags) {
  const auto root = load(path, diags);
  if (!root) return std::nullopt;
  if (!(*root)["ModelParameters"]) {
    diags.error({path, 0, 0}, "has no ModelParameters section (PCSE YAML files keep the parameters there)");
    return std::nullopt;
  }
  return parameters_from_yaml((*root)["ModelParameters"], path, diags);
}

std::optional<PcseInputs> read_pcse_yaml_inputs(const std::string& path, core::Diagnostics& diags) {
  PcseInputs in;
  if (auto root = load(path, diags))
    in.root = *root;
  else
    return std::nullopt;
  const std::size_t errors_before = diags.error_count();
  const YAML::Node& params = in.root["ModelParameters"];
  if (!params) {
    diags.error({path, 0, 0}, "no ModelParameters section");
  } else if (auto p = parameters_from_yaml(params, path, diags)) {
    in.parameters = *p;
  }
  if (auto a = agromanagement_from_yaml(agromanagement_node(in.root), path, diags)) in.agromanagement = *a;
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
