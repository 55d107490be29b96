#include "physynth/domains/crop/yaml_binding.h"
#include "physynth/core/constants.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "physynth/core/model.h"
#include "physynth/domains/crop/lingra.h"
#include "physynth/domains/crop/lintul3.h"
#include "physynth/domains/crop/pcse_inputs.h"
#include "physynth/domains/crop/weather_generator.h"
#include "physynth/domains/crop/wofost72.h"

namespace physynth::domains::crop {
namespace {

namespace fs = std::filesystem;

enum class CropModel { kLintul3, kLingra, kWofost72 };

const char* model_name(CropModel m) {
  return m == CropModel::kLintul3 ? "lintul3" : m == CropModel::kLingra ? "lingra" : "wofost72";
}

// The daily outputs each model reports, with their units.
std::vector<core::VariableInfo> outputs(CropModel m) {
  if (m == CropModel::kLintul3)
    return {{"DVS", "", "development stage (0 emergence, 1 anthesis, 2 maturity)"},
            {"LAI", "m2/m2", "leaf area index"},
            {"NUPTT", "g N/m2", "total nitrogen uptake"},
            {"TAGBM", "g DM/m2", "total above-ground biomass"},
            {"TGROWTH", "g DM/m2", "total growth"},
            {"TIRRIG", "mm", "total irrigation"},
            {"TNSOIL", "g N/m2", "soil mineral nitrogen"},
            {"TRAIN", "mm", "total rain"},
            {"TRAN", "mm/d", "actual transpiration"},
            {"TRANRF", "", "transpiration reduction factor"},
            {"TRUNOF", "mm", "total runoff"},
            {"TTRAN", "mm", "total transpiration"},
            {"WC", "m3/m3", "soil water content of the root zone"},
            {"WLVD", "g DM/m2", "dead leaves"},
            {"WLVG", "g DM/m2", "green leaves"},
            {"WRT", "g DM/m2", "roots"},
            {"WSO", "g DM/m2", "storage organs (grain)"},
            {"WST", "g DM/m2", "stems"}};
  if (m == CropModel::kLingra)
    return {{"WeightABG", "kg DM/ha", "accumulated above-ground biomass (harvested + standing green leaves)"},
            {"WeightLVgreen", "kg DM/ha", "standing green leaves"},
            {"LAI", "m2/m2", "leaf area index"},
            {"TillerNumber", "1/m2", "tillers"},
            {"SM", "m3/m3", "soil moisture of the root zone (field capacity under potential production)"},
            {"TRA", "cm/d", "transpiration"},
            {"RFTRA", "", "transpiration reduction factor (1 without drought)"}};
  return {{"DVS", "", "development stage (0 emergence, 1 anthesis, 2 maturity)"},
          {"LAI", "m2/m2", "leaf area index"},
          {"RD", "cm", "rooting depth"},
          {"TAGP", "kg DM/ha", "total above-ground production"},
          {"TRA", "cm/d", "transpiration"},
          {"TWLV", "kg DM/ha", "leaves, living and dead"},
          {"TWRT", "kg DM/ha", "roots"},
          {"TWSO", "kg DM/ha", "storage organs"},
          {"TWST", "kg DM/ha", "stems"},
          {"SM", "m3/m3", "soil moisture of the root zone"},
          {"EVS", "cm/d", "soil evaporation"},
          {"W", "cm", "water in the root zone"},
          {"WLOW", "cm", "water in the lower zone"},
          {"WWLOW", "cm", "water in the root and lower zones"}};
}

// Where a sample's weather comes from: one record, or seasons of a fitted generator.
struct WeatherSource {
  std::shared_ptr<const WeatherRecord> record;
  std::shared_ptr<const WeatherGenerator> generator;
  bool season_per_sample = true;
  std::uint64_t season = 0;
  int year = 0, days = 0;  // span of a generated season: `days` days from `year`-01-01

  std::shared_ptr<const WeatherRecord> for_sample(std::uint64_t seed, std::uint64_t sample) const {
    if (record) return record;
    auto w =
        std::make_shared<WeatherRecord>(generator->generate(year, days, seed, season_per_sample ? sample : season));
    complete_reference_evaporation(*w);
    return w;
  }
};

struct CropOptions {
  CropScheme scheme = CropScheme::kEuler;
  WaterSupply water = WaterSupply::kWaterLimited;
  bool pcse_2018_rules = false;
};

// One model's season: rows of its outputs, one per day from (year, day).
struct Season {
  int year = 0, day = 0;
  std::vector<std::vector<double>> rows;
  long steps = 0;
};

std::optional<Season> run_season(CropModel model, const CropParameters& params, const Agromanagement& agro,
                                 const WeatherRecord& weather, const CropOptions& o, core::Diagnostics& diags) {
  Season s;
  if (model == CropModel::kLintul3) {
    Lintul3Options lo;
    lo.scheme = o.scheme;
    lo.mineralisation_in_uptake_window = o.pcse_2018_rules;
    lo.compare_water_stress_with_nni = o.pcse_2018_rules;
    auto r = run_lintul3(params, agro, weather, lo, diags);
    if (!r) return std::nullopt;
    s.year = agro.start_year, s.day = agro.start_day;
    s.rows = std::move(r->rows);
    s.steps = o.scheme == CropScheme::kCvode ? r->solver_steps : static_cast<long>(s.rows.size());
  } else if (model == CropModel::kLingra) {
    LingraOptions lo;
    lo.scheme = o.scheme;
    lo.water = o.water;
    auto r = run_lingra(params, agro, weather, lo, diags);
    if (!r) return std::nullopt;
    s.year = agro.calendar.start_year, s.day = agro.calendar.start_day;
    for (std::size_t i = 0; i < r->weight_abg.size(); ++i)
      s.rows.push_back(
          {r->weight_abg[i], r->weight_lv_green[i], r->lai[i], r->tillers[i], r->sm[i], r->tra[i], r->rftra[i]});
    s.steps = o.scheme == CropScheme::kCvode ? r->solver_steps : static_cast<long>(s.rows.size());
  } else {
    Wofost72Options wo;
    wo.water = o.water;
    auto r = run_wofost72(params, agro.calendar, weather, wo, diags);
    if (!r) return std::nullopt;
    if (!r->days.empty()) s.year = r->days.front().year, s.day = r->days.front().day;
    for (const auto& d : r->days) {
      std::vector<double> row(Wofost72Day::names().size());
      for (std::size_t k = 0; k < row.size(); ++k) row[k] = d.value(k);
      s.rows.push_back(std::move(row));
    }
    s.steps = static_cast<long>(s.rows.size());
  }
  return s;
}

// `base` with the numbers `names` replaced by p (keeping where each was read, for messages).
CropParameters with_numbers(const CropParameters& base, const std::vector<std::string>& names, const double* p) {
  CropParameters out = base;
  for (std::size_t k = 0; k < names.size(); ++k) {
    ParameterValue v = base.values().at(names[k]);
    v.values[0] = p[k];
    out.set(names[k], v);
  }
  return out;
}

class CropSeasonModel final : public core::SteppedModel {
 public:
  CropSeasonModel(CropModel model, CropParameters base, const std::vector<std::string>& exposed, Agromanagement agro,
                  WeatherSource weather, CropOptions options)
      : model_(model),
        name_(model_name(model)),
        states_(outputs(model)),
        names_(exposed),
        base_(std::move(base)),
        agro_(std::move(agro)),
        weather_(std::move(weather)),
        options_(options) {
    for (const auto& n : exposed) {
      const auto& v = base_.values().at(n);
      parameters_.push_back({n, "", "from " + v.where.file + ":" + std::to_string(v.where.line)});
    }
  }

  const std::string& name() const override { return name_; }
  const std::vector<core::VariableInfo>& states() const override { return states_; }
  const std::vector<core::VariableInfo>& parameters() const override { return parameters_; }
  double time_step() const override { return 1.0; }
  // Masses, areas, depths, water and nitrogen amounts; DVS starts below zero at sowing.
  bool state_is_nonnegative(std::size_t i) const override { return states_[i].name != "DVS"; }

  Result simulate(const double* p, std::uint64_t seed, std::uint64_t sample, const std::vector<double>& times,
                  double* states) const override {
    Result result;
    const CropParameters params = with_numbers(base_, names_, p);
    core::Diagnostics diags;
    const auto weather = weather_.for_sample(seed, sample);
    const auto season = run_season(model_, params, agro_, *weather, options_, diags);
    if (!season) {
      result.failed = true;
      result.flag = "MODEL_INPUT";
      result.message = diags.report();
      return result;
    }
    result.steps = season->steps;
    const long offset = days_between(agro_.start_year, agro_.start_day, season->year, season->day);
    const long last_day = offset + static_cast<long>(season->rows.size()) - 1;
    const std::size_t n = states_.size();
    auto row_of = [&](long day) -> const std::vector<double>* {
      const long r = day - offset;
      return r >= 0 && r < static_cast<long>(season->rows.size()) ? &season->rows[static_cast<std::size_t>(r)]
                                                                  : nullptr;
    };
    for (std::size_t j = 0; j < times.size(); ++j) {
      const long day = std::lround(times[j]);
      if (day > last_day) break;
      const auto* row = row_of(day);
      for (std::size_t i = 0; i < n; ++i) states[j * n + i] = row ? (*row)[i] : kNaN;
      result.rows_written = j + 1;
    }
    const long end_day = std::min(last_day, std::lround(times.back()));
    result.t_reached = static_cast<double>(end_day);
    const auto* final_row = row_of(end_day);
    result.final_state = final_row ? *final_row : std::vector<double>(n, kNaN);
    return result;
  }

 private:
  CropModel model_;
  std::string name_;
  std::vector<core::VariableInfo> states_, parameters_;
  std::vector<std::string> names_;  // of the parameters
  CropParameters base_;
  Agromanagement agro_;
  WeatherSource weather_;
  CropOptions options_;
};

std::string resolve(const core::ConfigNode& node, const std::string& path) {
  const fs::path p(path);
  if (p.is_absolute()) return path;
  return (fs::path(node.file()).parent_path() / p).lexically_normal().string();
}

bool is_yaml(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

// A path-valued key: a string naming a file that exists, resolved against the scenario's folder.
std::optional<std::string> file_at(const core::ConfigNode& node) {
  auto text = node.as_string();
  if (!text) return std::nullopt;
  const std::string path = resolve(node, *text);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    node.error(node.path() + ": no such file '" + *text + "' (looked for " + path + ")");
    return std::nullopt;
  }
  return path;
}

std::optional<WeatherRecord> read_weather_file(const std::string& path, core::Diagnostics& diags) {
  if (fs::path(path).extension() == ".csv") return read_pcse_csv_weather(path, diags);
  if (is_yaml(path)) {
    auto in = read_pcse_yaml_inputs(path, diags);
    if (!in) return std::nullopt;
    if (in->weather.days.empty()) {
      diags.error({path, 0, 0}, "has no WeatherVariables");
      return std::nullopt;
    }
    return in->weather;
  }
  return read_cabo_weather(path, diags);
}

std::optional<CropParameters> read_parameter_file(const std::string& path, core::Diagnostics& diags) {
  return is_yaml(path) ? read_pcse_yaml_parameters(path, diags) : read_pcse_parameter_file(path, diags);
}

std::optional<WeatherSource> read_weather(const core::ConfigNode& node, const Agromanagement& agro) {
  if (!node.expect_map()) return std::nullopt;
  node.check_keys({"file", "generate", "season"});
  auto& diags = node.diagnostics();
  WeatherSource source;
  if (node.has("file") == node.has("generate")) {
    node.error(node.path() + " needs exactly one of 'file' (a weather record) or 'generate' (seasons of a generator)");
    return std::nullopt;
  }
  if (node.has("file")) {
    if (node.has("season")) node["season"].error(node["season"].path() + " applies only to generated weather");
    const auto path = file_at(node["file"]);
    if (!path) return std::nullopt;
    auto w = read_weather_file(*path, diags);
    if (!w) return std::nullopt;
    complete_reference_evaporation(*w);
    source.record = std::make_shared<const WeatherRecord>(std::move(*w));
    return source;
  }
  const core::ConfigNode gen = node["generate"];
  if (!gen.expect_map()) return std::nullopt;
  gen.check_keys({"fit"});
  if (!gen.require("fit") || !gen["fit"].expect_sequence()) return std::nullopt;
  std::vector<WeatherRecord> records;
  std::size_t days = 0;
  for (std::size_t i = 0; i < gen["fit"].size(); ++i) {
    const auto path = file_at(gen["fit"][i]);
    if (!path) continue;
    if (auto w = read_weather_file(*path, diags)) {
      days += w->days.size();
      records.push_back(std::move(*w));
    }
  }
  if (records.size() != gen["fit"].size()) return std::nullopt;
  if (records.empty() || records.front().days.size() < 365) {
    gen["fit"].error(gen["fit"].path() + ": the generator is fitted to at least one whole year of daily weather; got " +
                     std::to_string(days) + " days");
    return std::nullopt;
  }
  source.generator = std::make_shared<const WeatherGenerator>(WeatherGenerator::fit(records));
  if (node.has("season")) {
    const core::ConfigNode s = node["season"];
    if (s.is_scalar() && s.scalar() == "sample") {
      source.season_per_sample = true;
    } else if (auto k = s.as_integer()) {
      if (*k < 0)
        s.error(s.path() + " must be 'sample' (season i for sample i) or a season index >= 0, got " + s.scalar());
      source.season_per_sample = false;
      source.season = static_cast<std::uint64_t>(std::max(0LL, *k));
    }
  }
  // Generated from January 1 of the campaign's year to the last day the crop may run: its
  // max_duration, or its end date when that comes first.
  const CropCalendar& c = agro.calendar;
  long end = days_between(agro.start_year, 1, c.start_year, c.start_day) + c.max_duration + 1;
  if (c.end != CropEnd::kMaturity) end = std::min(end, days_between(agro.start_year, 1, c.end_year, c.end_day) + 1);
  source.year = agro.start_year;
  source.days = static_cast<int>(std::min<long>(end + 1, 4 * 366));
  return source;
}

}  // namespace

std::optional<core::BuiltModel> build_from_yaml(const core::ConfigNode& node) {
  auto& diags = node.diagnostics();
  const std::size_t errors_before = diags.error_count();
  if (!node.expect_map() || !node.require("type")) return std::nullopt;
  const auto type = node["type"].as_enum({"lintul3", "lingra", "wofost72"});
  if (!type) return std::nullopt;
  const CropModel model = *type == "lintul3"  ? CropModel::kLintul3
                          : *type == "lingra" ? CropModel::kLingra
                                              : CropModel::kWofost72;

  CropOptions options;
  options.scheme = model == CropModel::kWofost72 ? CropScheme::kEuler : CropScheme::kCvode;
  if (model == CropModel::kLingra) options.water = WaterSupply::kPotential;  // unless its PCSE setup says rainfed
  if (node.has("scheme"))
    if (auto s = node["scheme"].as_enum({"euler", "cvode"})) {
      options.scheme = *s == "euler" ? CropScheme::kEuler : CropScheme::kCvode;
      if (options.scheme == CropScheme::kCvode && model == CropModel::kWofost72)
        node["scheme"].error(node["scheme"].path() + ": " + *type +
                             " integrates with PCSE's daily Euler step only (the domain README says why); use "
                             "'euler' or leave it out");
    }
  std::optional<WaterSupply> water_given;
  if (node.has("water")) {
    if (model == CropModel::kLintul3)
      node["water"].error(node["water"].path() + " applies to wofost72 and lingra (lintul3 always runs its water balance)");
    if (auto w = node["water"].as_enum({"water_limited", "potential"}))
      options.water = *(water_given = *w == "potential" ? WaterSupply::kPotential : WaterSupply::kWaterLimited);
  }
  if (node.has("pcse_2018_rules")) {
    if (model != CropModel::kLintul3)
      node["pcse_2018_rules"].error(node["pcse_2018_rules"].path() + " applies only to lintul3");
    if (auto b = node["pcse_2018_rules"].as_bool()) options.pcse_2018_rules = *b;
  }

  // Parameters, merged in file order.
  CropParameters params;
  std::vector<std::pair<std::size_t, std::string>> parameter_paths;  // index in the list, resolved path
  if (node.require("parameter_files") && node["parameter_files"].expect_sequence()) {
    const core::ConfigNode list = node["parameter_files"];
    std::vector<std::string> files;
    for (std::size_t i = 0; i < list.size(); ++i)
      if (const auto path = file_at(list[i])) {
        if (auto p = read_parameter_file(*path, diags)) params.merge(*p);
        files.push_back(*path);
        parameter_paths.emplace_back(i, *path);
      }
    if (list.size() == 0) list.error(list.path() + " must list at least one file");
    params.description.clear();
    for (const auto& f : files) params.description += (params.description.empty() ? "" : ", ") + f;
  }
  std::optional<Agromanagement> agro;
  if (node.require("agromanagement"))
    if (const auto path = file_at(node["agromanagement"])) agro = read_pcse_agromanagement(*path, diags);
  std::optional<WeatherSource> weather;
  if (node.require("weather") && agro) weather = read_weather(node["weather"], *agro);
  if (model == CropModel::kLintul3 && agro && !agro->mowings.empty())
    node["agromanagement"].error(node["agromanagement"].path() + ": lintul3 has no mowing events");
  // LINGRA runs as its PCSE setup says (LINGRA_PP irrigated, LINGRA_WLP_FD rainfed) unless
  // `water` says otherwise; nitrogen-limited LINGRA (LINGRA_NWLP_FD) does not exist here.
  if (model == CropModel::kLingra) {
    std::vector<std::pair<core::ConfigNode, std::string>> setups;  // where, PCSE model named there
    if (agro && !agro->pcse_model.empty()) setups.emplace_back(node["agromanagement"], agro->pcse_model);
    for (const auto& [i, path] : parameter_paths)
      if (is_yaml(path))
        if (std::string m = pcse_model_of(path); !m.empty()) setups.emplace_back(node["parameter_files"][i], m);
    if (!setups.empty()) {
      const auto& [where, pcse_model] = setups.front();
      if (pcse_model == "LINGRA_WLP_FD" && !water_given) options.water = WaterSupply::kWaterLimited;
      if (pcse_model != "LINGRA_PP" && pcse_model != "LINGRA_WLP_FD")
        where.error(where.path() + ": the file is set up for PCSE's " + pcse_model +
                    "; physynth's LINGRA runs LINGRA_PP (potential) and LINGRA_WLP_FD (water-limited), not "
                    "nitrogen-limited LINGRA, so the file is refused");
      else if (water_given && (*water_given == WaterSupply::kWaterLimited) != (pcse_model == "LINGRA_WLP_FD"))
        node["water"].warning(node["water"].path() + ": the file named by " + where.path() + " is set up for PCSE's " +
                              pcse_model + "; the season runs " +
                              (*water_given == WaterSupply::kPotential ? "as potential production (irrigated)"
                                                                       : "with the water balance (rainfed)") +
                              " because `water` says so");
    }
  }
  if (model == CropModel::kLingra && agro && !agro->nitrogen.empty())
    node["agromanagement"].warning(node["agromanagement"].path() + ": its " + std::to_string(agro->nitrogen.size()) +
                                   " apply_n events are ignored, as PCSE's LINGRA_PP and LINGRA_WLP_FD ignore them (no nitrogen)");
  else if (model != CropModel::kLintul3 && agro && !agro->nitrogen.empty())
    node["agromanagement"].error(node["agromanagement"].path() + ": " + *type +
                                 " simulates no nitrogen; remove the apply_n events");

  // Every single number of the files is a parameter (not those named like an output, or t).
  const auto outs = outputs(model);
  std::vector<std::string> exposed;
  for (const auto& entry : params.values()) {
    const std::string& name = entry.first;
    const auto& value = entry.second;
    const bool output = std::any_of(outs.begin(), outs.end(), [&](const auto& v) { return v.name == name; });
    if (!value.is_list && value.values.size() == 1 && core::is_identifier(name) && name != "t" && !output)
      exposed.push_back(name);
  }
  std::vector<std::string> allowed = {"type",    "scheme", "parameter_files", "agromanagement",
                                      "weather", "water",  "pcse_2018_rules"};
  allowed.insert(allowed.end(), exposed.begin(), exposed.end());
  node.check_keys(allowed);
  if (diags.error_count() > errors_before || !agro || !weather) return std::nullopt;

  // Each parameter's value as written: the file's, or the model section's number.
  core::BuiltModel built;
  std::vector<double> written;
  built.parameters.resize(exposed.size());
  for (std::size_t k = 0; k < exposed.size(); ++k) {
    core::ModelParameterRef& ref = built.parameters[k];
    ref.literal = params.values().at(exposed[k]).values[0];
    ref.overridable = true;
    ref.referenced_at = node.location();
    ref.referenced_by = node.path() + "." + exposed[k];
    if (node.has(exposed[k])) {
      const core::ConfigNode v = node[exposed[k]];
      ref.referenced_at = v.location();
      if (auto x = v.as_number()) ref.literal = *x;
    }
    written.push_back(*ref.literal);
  }
  if (diags.error_count() > errors_before) return std::nullopt;

  // One season with the values as written, at load time: a missing parameter, weather that does
  // not cover the season or a calendar the model cannot run is reported here, with its file and
  // line. Euler: the same inputs, checked quickly; generated weather: season 0 of seed 0.
  CropOptions check = options;
  check.scheme = CropScheme::kEuler;
  const auto first_weather = weather->for_sample(0, 0);
  if (!run_season(model, with_numbers(params, exposed, written.data()), *agro, *first_weather, check, diags))
    return std::nullopt;
  built.model = std::make_shared<CropSeasonModel>(model, params, exposed, *agro, *weather, options);
  return built;
}

}  // namespace physynth::domains::crop
