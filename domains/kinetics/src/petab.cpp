#include "physynth/domains/kinetics/petab.h"

#include "petab_terms.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>
#include <Eigen/Dense>

#include "physynth/core/config.h"
#include "physynth/core/text.h"
#include "physynth/solvers/steady_state.h"

namespace physynth::domains::kinetics {

namespace {

// A species' condition value given in the other kind than the SBML file's initial value (PEtab
// means a concentration unless the species has only substance units): multiplied by its
// compartment's size (concentration -> amount) or divided by it. The size is the condition's own
// number for the compartment, else the parameter table's nominal value, else the SBML file's;
// a size that is estimated, a parameter name in the condition, or a value that is itself a
// parameter cannot be converted once here, and is refused with the reason.
void convert_species_value(const SbmlModel& model, const std::vector<PetabParameter>& parameters,
                           const std::string& species, const std::string& compartment, bool to_amount,
                           const core::SourceLocation& at, PetabCondition& c, std::size_t override_at,
                           core::Diagnostics& diags) {
  const std::string what = "condition column '" + species + "': PEtab gives the species' initial " +
                           (to_amount ? "concentration" : "amount") + " but the SBML file writes its initial " +
                           (to_amount ? "amount" : "concentration") + ", ";
  const int size_index = model.parameter_index(compartment);
  PetabValue& value = c.overrides[override_at].second;
  if (size_index < 0) {
    diags.error(at, what + "and the size of its compartment '" + compartment + "' is not a parameter to convert by");
    return;
  }
  if (value.parameter >= 0) {
    diags.error(at, what + "and the value is the parameter '" +
                        parameters[static_cast<std::size_t>(value.parameter)].id +
                        "': write a number, or the species' initial value as the SBML file does");
    return;
  }
  double size = model.default_parameters()[static_cast<std::size_t>(size_index)];
  for (const PetabParameter& q : parameters)
    if (q.id == compartment) {
      if (q.estimate) {
        diags.error(at, what + "and the size of its compartment '" + compartment +
                            "' is estimated: the conversion would change with it");
        return;
      }
      size = q.nominal;
    }
  for (const auto& [index, v] : c.overrides)
    if (index == size_index) {
      if (v.parameter >= 0) {
        diags.error(at, what + "and the condition sets the size of its compartment '" + compartment +
                            "' to a parameter: the conversion would change with it");
        return;
      }
      size = v.number;
    }
  if (!(size > 0.0) || !std::isfinite(size)) {
    diags.error(at, what + "and the size of its compartment '" + compartment + "' is " + core::format_number(size) +
                        ", which cannot convert it");
    return;
  }
  value.number = to_amount ? value.number * size : value.number / size;
}

// A tab-separated table with a header row; cells by column name.
struct Table {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;

  int column(const std::string& name) const {
    for (std::size_t c = 0; c < header.size(); ++c)
      if (header[c] == name) return static_cast<int>(c);
    return -1;
  }
  std::string cell(std::size_t row, const std::string& name) const {
    const int c = column(name);
    if (c < 0 || static_cast<std::size_t>(c) >= rows[row].size()) return "";
    return rows[row][static_cast<std::size_t>(c)];
  }
};

bool read_table(const std::string& path, const std::vector<std::string>& required, Table& t, core::Diagnostics& diags) {
  t.path = path;
  if (!core::check_input_file(path, "PEtab table", core::kMaxInputFileBytes, diags)) return false;
  std::ifstream in(path);
  if (!in) {
    diags.error({path, 0, 0}, "cannot open the PEtab table");
    return false;
  }
  std::string line;
  if (!std::getline(in, line)) {
    diags.error({path, 1, 0}, "the table is empty (a header row is required)");
    return false;
  }
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte-order mark (Giordano's tables)
  t.header = core::split_fields(line, '\t');
  bool ok = true;
  for (const auto& name : required)
    if (t.column(name) < 0) {
      diags.error({path, 1, 0}, "missing column '" + name + "' (columns: " + core::join(t.header) + ")");
      ok = false;
    }
  int number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line == "\r") continue;
    t.rows.push_back(core::split_fields(line, '\t'));
    t.lines.push_back(number);
  }
  return ok;
}

bool parse_number(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

int column_number(const Table& t, const std::string& name) { return t.column(name) + 1; }

// Several files of one kind (PEtab allows lists): each keeps its own header, path and lines.
bool read_tables(const std::vector<std::string>& paths, const std::vector<std::string>& required,
                 std::vector<Table>& tables, core::Diagnostics& diags) {
  bool ok = true;
  for (const auto& path : paths) {
    Table t;
    ok = read_table(path, required, t, diags) && ok;
    tables.push_back(std::move(t));
  }
  return ok;
}

}  // namespace

std::unique_ptr<PetabProblem> PetabProblem::read(const std::string& problem_yaml, core::Diagnostics& diags,
                                                 const SbmlOptions& sbml) {
  const std::size_t errors_before = diags.error_count();
  const auto loaded =
      core::load_yaml_file(problem_yaml, diags, "PEtab problem file");  // strict: regular file, size, duplicate keys
  if (!loaded) return nullptr;
  YAML::Node root = *loaded;
  const std::filesystem::path base = std::filesystem::path(problem_yaml).parent_path();
  // A file list: a sequence of names or one name (PEtab v1 allows either for parameter_file).
  auto file_list = [&](const YAML::Node& node) {
    std::vector<std::string> files;
    if (node && node.IsSequence())
      for (const auto& f : node) files.push_back((base / f.as<std::string>()).string());
    else if (node && node.IsScalar())
      files.push_back((base / node.as<std::string>()).string());
    return files;
  };
  // Every name of a list must be a file name (a scalar); yaml-cpp throws on anything else.
  auto names_ok = [&](const YAML::Node& node, const std::string& key) {
    if (!node || node.IsScalar()) return true;
    if (node.IsSequence()) {
      bool ok = true;
      for (const auto& f : node)
        if (!f.IsScalar()) {
          diags.error({problem_yaml, f.Mark().line + 1, f.Mark().column + 1},
                      key + " must list file names, got a " + (f.IsMap() ? "mapping" : "list") + " here");
          ok = false;
        }
      return ok;
    }
    diags.error({problem_yaml, node.Mark().line + 1, node.Mark().column + 1},
                key + " must be a file name or a list of file names");
    return false;
  };
  if (!root["format_version"] || root["format_version"].as<std::string>() != "1") {
    diags.error({problem_yaml, 1, 0}, "format_version must be 1 (PEtab version 1)");
    return nullptr;
  }
  if (!root["problems"] || !root["problems"].IsSequence() || root["problems"].size() != 1) {
    diags.error({problem_yaml, 1, 0}, "problems must list exactly one problem");
    return nullptr;
  }
  const YAML::Node problem = root["problems"][0];
  bool names = names_ok(root["parameter_file"], "parameter_file");
  for (const char* key : {"sbml_files", "condition_files", "measurement_files", "observable_files"})
    names = names_ok(problem[key], key) && names;
  if (!names) return nullptr;
  const auto sbml_files = file_list(problem["sbml_files"]);
  const auto condition_files = file_list(problem["condition_files"]);
  const auto measurement_files = file_list(problem["measurement_files"]);
  const auto observable_files = file_list(problem["observable_files"]);
  const auto parameter_files = file_list(root["parameter_file"]);
  if (sbml_files.size() != 1) {
    diags.error({problem_yaml, 0, 0}, "sbml_files must list exactly one file (got " +
                                          std::to_string(sbml_files.size()) + "; several models are not supported)");
    return nullptr;
  }
  for (const auto& [key, files] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{{"condition_files", condition_files},
                                                                     {"measurement_files", measurement_files},
                                                                     {"observable_files", observable_files},
                                                                     {"parameter_file", parameter_files}})
    if (files.empty()) {
      diags.error({problem_yaml, 0, 0}, key + " must name at least one file");
      return nullptr;
    }

  auto problem_ptr = std::unique_ptr<PetabProblem>(new PetabProblem);
  PetabProblem& p = *problem_ptr;
  p.model_ = SbmlModel::read_file(sbml_files[0], diags, sbml);
  if (!p.model_) return nullptr;
  const SbmlModel& model = *p.model_;
  p.files_ = {{"sbml_files", sbml_files},
              {"condition_files", condition_files},
              {"measurement_files", measurement_files},
              {"observable_files", observable_files},
              {"parameter_file", parameter_files}};

  // Parameters.
  std::vector<Table> parameter_tables;
  if (!read_tables(parameter_files,
                   {"parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue", "estimate"},
                   parameter_tables, diags))
    return nullptr;
  std::map<std::string, int> parameter_by_id;
  for (const Table& params : parameter_tables)
    for (std::size_t r = 0; r < params.rows.size(); ++r) {
      PetabParameter q;
      q.id = params.cell(r, "parameterId");
      if (parameter_by_id.count(q.id)) {
        diags.error({params.path, params.lines[r], column_number(params, "parameterId")},
                    "parameter '" + q.id + "' is listed twice in the parameter table(s)");
        continue;
      }
      q.scale = params.cell(r, "parameterScale");
      if (q.scale != "lin" && q.scale != "log" && q.scale != "log10")
        diags.error({params.path, params.lines[r], column_number(params, "parameterScale")},
                    "parameterScale of '" + q.id + "' must be lin, log or log10, got '" + q.scale + "'");
      const std::string estimate = params.cell(r, "estimate");
      if (estimate != "0" && estimate != "1")
        diags.error({params.path, params.lines[r], column_number(params, "estimate")},
                    "estimate of '" + q.id + "' must be 0 or 1, got '" + estimate + "'");
      q.estimate = estimate == "1";
      // Bounds matter only for estimated parameters: PEtab lets a fixed one leave them empty.
      for (const auto& [name, target] : std::vector<std::pair<std::string, double*>>{
               {"lowerBound", &q.lower}, {"upperBound", &q.upper}, {"nominalValue", &q.nominal}})
        if (!parse_number(params.cell(r, name), target)) {
          if (!q.estimate && name != "nominalValue" && params.cell(r, name).empty()) {
            *target = std::numeric_limits<double>::quiet_NaN();
            continue;
          }
          diags.error({params.path, params.lines[r], column_number(params, name)},
                      name + " of '" + q.id + "' must be a number" +
                          (name == "nominalValue" ? "" : " (it may be empty only where estimate is 0)") + ", got '" +
                          params.cell(r, name) + "'");
        }
      // An objective prior: its type and its two parameters ("a;b").
      if (const std::string type = params.cell(r, "objectivePriorType"); !type.empty()) {
        static const std::set<std::string> kTypes = {"normal",
                                                     "laplace",
                                                     "uniform",
                                                     "logNormal",
                                                     "logLaplace",
                                                     "parameterScaleNormal",
                                                     "parameterScaleLaplace",
                                                     "parameterScaleUniform"};
        const std::string text = params.cell(r, "objectivePriorParameters");
        const auto fields = core::split_fields(text, ';');
        if (!kTypes.count(type))
          diags.error({params.path, params.lines[r], column_number(params, "objectivePriorType")},
                      "objectivePriorType of '" + q.id +
                          "' must be one of normal, laplace, uniform, logNormal, "
                          "logLaplace, parameterScaleNormal, parameterScaleLaplace, parameterScaleUniform; got '" +
                          type + "'");
        else {
          q.prior.type = type;
          if (fields.size() != 2 || !parse_number(fields[0], &q.prior.a) || !parse_number(fields[1], &q.prior.b) ||
              (q.prior.uniform() ? !(q.prior.a < q.prior.b) : !(q.prior.b > 0.0))) {
            diags.error({params.path, params.lines[r], column_number(params, "objectivePriorParameters")},
                        "objectivePriorParameters of '" + q.id + "' must be two numbers 'a;b' (" +
                            (q.prior.uniform() ? "a < b, the range" : "b > 0, the spread") + "), got '" + text + "'");
            q.prior.type.clear();
          }
        }
      }
      parameter_by_id[q.id] = static_cast<int>(p.parameters_.size());
      p.model_index_.push_back(model.parameter_index(q.id));
      if (p.model_index_.back() < 0) p.extra_.push_back(q.id);
      p.parameters_.push_back(q);
    }
  auto value_of = [&](const std::string& text, const std::string& path, int line, int column, const std::string& what,
                      PetabValue* out) {
    if (parse_number(text, &out->number)) return true;
    auto it = parameter_by_id.find(text);
    if (it == parameter_by_id.end()) {
      diags.error({path, line, column},
                  what + " '" + text + "' is neither a number nor a parameter of the parameter table");
      return false;
    }
    out->parameter = it->second;
    return true;
  };

  // Conditions.
  std::vector<Table> condition_tables;
  if (!read_tables(condition_files, {"conditionId"}, condition_tables, diags)) return nullptr;
  std::map<std::string, int> condition_by_id;
  std::set<int> species_columns;  // model parameters that are species' initial values
  // A species value of the other kind than the SBML file's initial value (a concentration for a
  // species whose initialAmount the file writes, or the reverse): converted by its compartment's
  // size once the row is read, where that size is a known number in the condition.
  struct Conversion {
    std::size_t override_at;  // in c.overrides
    std::string species, compartment;
    bool to_amount;  // concentration -> amount: times the size; else divided by it
    int column;
  };
  for (const Table& conditions : condition_tables)
    for (std::size_t r = 0; r < conditions.rows.size(); ++r) {
      PetabCondition c;
      std::vector<Conversion> conversions;
      c.id = conditions.cell(r, "conditionId");
      for (std::size_t col = 0; col < conditions.header.size(); ++col) {
        const std::string& name = conditions.header[col];
        if (name == "conditionId" || name == "conditionName") continue;
        int index = model.parameter_index(name);
        std::optional<Conversion> pending;
        // A species column sets its initial value (PEtab v1): the parameter <species>_0, where
        // the file writes the initial value in the kind PEtab means (amount with
        // hasOnlySubstanceUnits, else concentration).
        const auto& sp = model.species();
        const auto species = std::find_if(sp.begin(), sp.end(), [&](const auto& x) { return x.id == name; });
        if (index < 0 && species != sp.end()) {
          if (!species->has_initial_parameter)
            diags.error({conditions.path, 1, static_cast<int>(col) + 1},
                        "condition column '" + name +
                            "': the species' initial value is set by an assignment in the "
                            "SBML file, which a condition cannot override here");
          else
            index = model.parameter_index(name + "_0");
          if (index >= 0 && species->initial_parameter_is_concentration == species->has_only_substance_units)
            pending = Conversion{0, name, species->compartment, !species->has_only_substance_units,
                                 static_cast<int>(col) + 1};
          if (index < 0) continue;
          species_columns.insert(index);
        }
        if (index < 0) {
          diags.error({conditions.path, 1, static_cast<int>(col) + 1},
                      "condition column '" + name + "' is neither a parameter nor a species of the model");
          continue;
        }
        PetabValue v;
        const std::string text = col < conditions.rows[r].size() ? conditions.rows[r][col] : "";
        // An empty or NaN species value keeps the model's own initial value.
        if (species_columns.count(index) && (text.empty() || text == "nan" || text == "NaN" || text == "NAN")) continue;
        if (value_of(text, conditions.path, conditions.lines[r], static_cast<int>(col) + 1, "condition value", &v)) {
          if (pending) {
            pending->override_at = c.overrides.size();
            conversions.push_back(*pending);
          }
          c.overrides.emplace_back(index, v);
        }
      }
      for (const Conversion& cv : conversions)
        convert_species_value(model, p.parameters_, cv.species, cv.compartment, cv.to_amount,
                              {conditions.path, conditions.lines[r], cv.column}, c, cv.override_at, diags);
      condition_by_id[c.id] = static_cast<int>(p.conditions_.size());
      p.conditions_.push_back(std::move(c));
    }

  // Measurements: read first, to know how many placeholders each observable has.
  std::vector<Table> measurement_tables;
  if (!read_tables(measurement_files, {"observableId", "simulationConditionId", "measurement", "time"},
                   measurement_tables, diags))
    return nullptr;
  std::vector<Table> observable_tables;
  if (!read_tables(observable_files, {"observableId", "observableFormula", "noiseFormula"}, observable_tables, diags))
    return nullptr;
  std::map<std::string, int> observable_by_id;
  std::vector<std::string> observable_ids;
  for (const Table& observables : observable_tables)
    for (std::size_t r = 0; r < observables.rows.size(); ++r) {
      const std::string id = observables.cell(r, "observableId");
      if (observable_by_id.count(id))
        diags.error({observables.path, observables.lines[r], column_number(observables, "observableId")},
                    "observable '" + id + "' is defined twice");
      observable_by_id[id] = static_cast<int>(observable_ids.size());
      observable_ids.push_back(id);
    }
  std::vector<std::size_t> observable_count(observable_ids.size(), 0), noise_count(observable_ids.size(), 0);
  auto list = [](const std::string& text) {
    std::vector<std::string> items;
    if (text.empty()) return items;
    for (auto& s : core::split_fields(text, ';')) items.push_back(s);
    return items;
  };
  for (const Table& measurements : measurement_tables)
    for (std::size_t r = 0; r < measurements.rows.size(); ++r) {
      PetabMeasurement m;
      m.file = measurements.path;
      m.line = measurements.lines[r];
      const std::string obs = measurements.cell(r, "observableId");
      const std::string cond = measurements.cell(r, "simulationConditionId");
      if (const std::string pre = measurements.cell(r, "preequilibrationConditionId"); !pre.empty()) {
        if (auto it = condition_by_id.find(pre); it != condition_by_id.end())
          m.preequilibration = it->second;
        else
          diags.error({measurements.path, m.line, column_number(measurements, "preequilibrationConditionId")},
                      "unknown preequilibration condition '" + pre + "'");
      }
      if (auto it = observable_by_id.find(obs); it != observable_by_id.end())
        m.observable = it->second;
      else
        diags.error({measurements.path, m.line, column_number(measurements, "observableId")},
                    "unknown observable '" + obs + "'");
      if (auto it = condition_by_id.find(cond); it != condition_by_id.end()) {
        m.condition = it->second;
        for (const auto& [index, value] : p.conditions_[static_cast<std::size_t>(m.condition)].overrides)
          if (m.preequilibration >= 0 && species_columns.count(index)) {
            diags.error({measurements.path, m.line, column_number(measurements, "simulationConditionId")},
                        "condition '" + cond +
                            "' sets a species' initial value after preequilibration, which is not supported yet");
            break;
          }
      } else
        diags.error({measurements.path, m.line, column_number(measurements, "simulationConditionId")},
                    "unknown condition '" + cond + "'");
      if (!parse_number(measurements.cell(r, "measurement"), &m.value) || !std::isfinite(m.value))
        diags.error({measurements.path, m.line, column_number(measurements, "measurement")},
                    "measurement must be a finite number, got '" + measurements.cell(r, "measurement") + "'");
      // time: a number, or inf for a measurement at steady state.
      if (const std::string t = measurements.cell(r, "time"); t == "inf" || t == "Inf" || t == "INF")
        m.time = std::numeric_limits<double>::infinity();
      else if (!parse_number(t, &m.time) || !std::isfinite(m.time))
        diags.error({measurements.path, m.line, column_number(measurements, "time")},
                    "time must be a finite number or inf (at steady state), got '" + t + "'");
      if (m.time < 0)
        diags.error({measurements.path, m.line, column_number(measurements, "time")}, "time must be >= 0");
      for (const auto& [name, target] : std::vector<std::pair<std::string, std::vector<PetabValue>*>>{
               {"observableParameters", &m.observable_parameters}, {"noiseParameters", &m.noise_parameters}})
        for (const auto& item : list(measurements.cell(r, name))) {
          PetabValue v;
          if (value_of(item, measurements.path, m.line, column_number(measurements, name), name + " entry", &v))
            target->push_back(v);
        }
      if (m.observable >= 0) {
        auto o = static_cast<std::size_t>(m.observable);
        observable_count[o] = std::max(observable_count[o], m.observable_parameters.size());
        noise_count[o] = std::max(noise_count[o], m.noise_parameters.size());
      }
      p.measurements_.push_back(std::move(m));
    }
  // Placeholders: observableParameterK_<id>, noiseParameterK_<id>, after the PEtab-only parameters.
  std::size_t placeholders = 0;
  for (std::size_t o = 0; o < observable_ids.size(); ++o)
    placeholders = std::max({placeholders, observable_count[o], noise_count[o]});
  for (std::size_t o = 0; o < observable_ids.size(); ++o) {
    const std::string& id = observable_ids[o];
    for (std::size_t k = 0; k < placeholders; ++k)
      p.extra_.push_back("observableParameter" + std::to_string(k + 1) + "_" + id);
    for (std::size_t k = 0; k < placeholders; ++k)
      p.extra_.push_back("noiseParameter" + std::to_string(k + 1) + "_" + id);
  }
  p.placeholders_ = placeholders;
  for (const Table& observables : observable_tables)
    for (std::size_t r = 0; r < observables.rows.size(); ++r) {
      PetabObservable o;
      o.id = observables.cell(r, "observableId");
      o.formula_text = observables.cell(r, "observableFormula");
      o.noise_text = observables.cell(r, "noiseFormula");
      o.file = observables.path;
      o.line = observables.lines[r];
      const std::string transformation = observables.cell(r, "observableTransformation");
      const std::string distribution = observables.cell(r, "noiseDistribution");
      if (!transformation.empty()) o.transformation = transformation;
      if (!distribution.empty()) o.distribution = distribution;
      if (o.transformation != "lin" && o.transformation != "log" && o.transformation != "log10")
        diags.error({observables.path, observables.lines[r], column_number(observables, "observableTransformation")},
                    "observableTransformation must be lin, log or log10, got '" + o.transformation + "'");
      if (o.distribution != "normal" && o.distribution != "laplace")
        diags.error({observables.path, observables.lines[r], column_number(observables, "noiseDistribution")},
                    "noiseDistribution must be normal or laplace, got '" + o.distribution + "'");
      std::string error;
      o.formula = model.compile_formula(observables.cell(r, "observableFormula"), p.extra_, &error);
      if (!o.formula)
        diags.error({observables.path, observables.lines[r], column_number(observables, "observableFormula")}, error);
      o.noise = model.compile_formula(observables.cell(r, "noiseFormula"), p.extra_, &error);
      if (!o.noise)
        diags.error({observables.path, observables.lines[r], column_number(observables, "noiseFormula")}, error);
      p.observables_.push_back(std::move(o));
    }
  if (diags.error_count() > errors_before) return nullptr;
  return problem_ptr;
}

std::vector<double> PetabProblem::nominal_values() const {
  std::vector<double> v;
  for (const auto& q : parameters_) v.push_back(q.nominal);
  return v;
}

namespace {
// The scale a prior's variable lives on: the parameter's for the parameterScale kinds, ln for the
// log kinds, else linear.
std::string prior_scale(const PetabPrior& prior, const std::string& scale) {
  if (prior.type.rfind("parameterScale", 0) == 0) return scale;
  return prior.of_log() ? "log" : "lin";
}
}  // namespace

double PetabPrior::variable(double value, const std::string& scale) const {
  const std::string on = prior_scale(*this, scale);
  return on == "log" ? std::log(value) : on == "log10" ? std::log10(value) : value;
}

double PetabPrior::variable_derivative(double value, const std::string& scale) const {
  const std::string on = prior_scale(*this, scale);
  return on == "log" ? 1.0 / value : on == "log10" ? 1.0 / (value * std::log(10.0)) : 1.0;
}

double PetabPrior::value_at(double v, const std::string& scale) const {
  const std::string on = prior_scale(*this, scale);
  return on == "log" ? std::exp(v) : on == "log10" ? std::pow(10.0, v) : v;
}

double PetabPrior::log_density(double value, const std::string& scale) const {
  if (type.empty()) return 0.0;
  const double v = variable(value, scale);
  if (uniform()) return v >= a && v <= b ? -std::log(b - a) : -std::numeric_limits<double>::infinity();
  const double density = laplace() ? -std::log(2.0 * b) - std::fabs(v - a) / b
                                   : -0.5 * std::log(2.0 * M_PI * b * b) - 0.5 * (v - a) * (v - a) / (b * b);
  return of_log() ? density - std::log(value) : density;  // the density of the value: 1/value from ln
}

double PetabProblem::log_prior(const std::vector<double>& values) const {
  double sum = 0.0;
  for (std::size_t q = 0; q < parameters_.size(); ++q)
    if (parameters_[q].estimate) sum += parameters_[q].prior.log_density(values[q], parameters_[q].scale);
  return sum;
}

bool PetabProblem::has_priors() const {
  return std::any_of(parameters_.begin(), parameters_.end(),
                     [](const PetabParameter& p) { return p.estimate && !p.prior.type.empty(); });
}

bool PetabProblem::steady_state(const std::vector<double>& p, const solvers::OdeOptions& options,
                                solvers::OdeSolver& solver, std::vector<double>& y, std::string* why,
                                std::vector<double>* sens) const {
  const SbmlModel& model = *model_;
  const std::size_t n = model.num_states(), K = options.sensitivity_parameters.size();
  if (newton_ && K == 0 && model.is_autonomous()) {
    std::vector<double> y_newton = y;
    if (solvers::newton_steady_state(model, p.data(), options, y_newton).found) {
      y = y_newton;
      ++newton_found_;
      return true;
    }
  }
  std::vector<double> times, states, f(n), y0 = y, s_all;
  for (int e = -2; e <= 10; ++e) times.push_back(std::pow(10.0, e));
  states.assign(times.size() * n, 0.0);
  if (K > 0) s_all.assign(times.size() * K * n, 0.0);
  const std::vector<double> s0 = sens && !sens->empty() ? *sens : std::vector<double>();
  const auto r = solver.solve(p.data(), y0.data(), 0.0, times, states.data(), K > 0 ? s_all.data() : nullptr, true,
                              s0.empty() ? nullptr : s0.data());
  double worst = 0.0;
  for (std::size_t k = 0; k < r.rows_written; ++k) {
    const double* x = &states[k * n];
    model.rhs(times[k], x, p.data(), f.data());
    worst = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double tol =
          (options.atol_per_state.empty() ? options.atol : options.atol_per_state[i]) + options.rtol * std::abs(x[i]);
      worst = std::max(worst, std::abs(f[i]) / tol);
    }
    // With sensitivities, they must have settled too: a decade of time that moved none of them by
    // more than 100 (atol + rtol |s|) (a slow mode can leave them moving when the state looks
    // settled; CVODES controls their error less tightly than the states').
    bool sens_settled = true;
    if (K > 0 && worst <= 1.0) {
      if (k == 0) sens_settled = false;
      for (std::size_t e = 0; sens_settled && e < K * n; ++e) {
        const double a = s_all[k * K * n + e], b = s_all[(k - 1) * K * n + e];
        sens_settled = std::abs(a - b) <= 100.0 * (options.atol + options.rtol * std::abs(a));
      }
    }
    if (worst <= 1.0 && sens_settled) {
      y.assign(x, x + n);
      ++simulation_found_;
      if (sens && K > 0) sens->assign(&s_all[k * K * n], &s_all[(k + 1) * K * n]);
      return true;
    }
  }
  std::ostringstream out;
  out << "no steady state by t = " << times[r.rows_written > 0 ? r.rows_written - 1 : 0]
      << (r.status == solvers::SolveStatus::kSuccess ? "" : " (" + r.flag_name + ")") << ": the largest |dx/dt| is "
      << worst << " times its tolerance (atol + rtol |x|)";
  *why = out.str();
  return false;
}

namespace {

// A formula's partial derivatives at (t, y, ext): by every state (dy, n entries) and by the ext
// entries listed in `which` (dext, in that order), one forward-mode direction at a time.
void formula_partials(const SbmlFormula& f, double t, const double* y, std::size_t n, const std::vector<double>& ext,
                      const std::vector<std::size_t>& which, double* dy, double* dext) {
  using J = ceres::Jet<double, 1>;
  std::vector<J> yj(n), ej(ext.size());
  for (std::size_t i = 0; i < n; ++i) yj[i] = J(y[i]);
  for (std::size_t e = 0; e < ext.size(); ++e) ej[e] = J(ext[e]);
  const J tj(t);
  for (std::size_t i = 0; i < n; ++i) {
    yj[i].v[0] = 1.0;
    dy[i] = f.evaluate(tj, yj.data(), ej.data()).v[0];
    yj[i].v[0] = 0.0;
  }
  for (std::size_t w = 0; w < which.size(); ++w) {
    ej[which[w]].v[0] = 1.0;
    dext[w] = f.evaluate(tj, yj.data(), ej.data()).v[0];
    ej[which[w]].v[0] = 0.0;
  }
}

}  // namespace

namespace detail {

bool steady_state_sensitivities(const core::Model& model, const std::vector<double>& p, const std::vector<int>& sens,
                                const std::vector<double>& y0, const std::vector<double>& yss,
                                const std::vector<double>& s0, std::vector<double>& out) {
  const auto n = static_cast<Eigen::Index>(model.num_states()), K = static_cast<Eigen::Index>(sens.size());
  const auto invariants = model.linear_invariants();
  const auto r = static_cast<Eigen::Index>(invariants.size());
  Eigen::MatrixXd J(n, n), F(n, K);
  model.jacobian(0.0, yss.data(), p.data(), J.data());  // column-major, as Eigen's default
  model.parameter_jacobian_columns(0.0, yss.data(), p.data(), sens, F.data());
  Eigen::MatrixXd A(n + r, n), B(n + r, K);
  A.topRows(n) = J;
  B.topRows(n) = -F;
  for (Eigen::Index l = 0; l < r; ++l) {
    const auto& inv = invariants[static_cast<std::size_t>(l)];
    for (Eigen::Index i = 0; i < n; ++i) A(n + l, i) = inv.weight(static_cast<std::size_t>(i), p.data());
    for (Eigen::Index k = 0; k < K; ++k) {
      double v = 0.0;
      for (Eigen::Index i = 0; i < n; ++i) {
        const auto si = static_cast<std::size_t>(i);
        v += A(n + l, i) * s0[static_cast<std::size_t>(k * n + i)];
        if (!inv.weight_parameter.empty() && inv.weight_parameter[si] == sens[static_cast<std::size_t>(k)])
          v += inv.weights[si] * (y0[si] - yss[si]);
      }
      B(n + l, k) = v;
    }
  }
  if (!A.allFinite() || !B.allFinite()) return false;
  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(A);
  if (qr.rank() < n) return false;
  const Eigen::MatrixXd X = qr.solve(B);
  if (!X.allFinite() || (A * X - B).norm() > 1e-8 * (B.norm() + A.norm() * X.norm())) return false;
  out.resize(static_cast<std::size_t>(K * n));
  for (Eigen::Index k = 0; k < K; ++k)
    for (Eigen::Index i = 0; i < n; ++i) out[static_cast<std::size_t>(k * n + i)] = X(i, k);
  return true;
}

}  // namespace detail

std::vector<std::pair<int, int>> PetabProblem::condition_pairs(const std::vector<PetabMeasurement>& rows) {
  std::vector<std::pair<int, int>> pairs;
  for (const auto& row : rows)
    if (std::find(pairs.begin(), pairs.end(), std::make_pair(row.preequilibration, row.condition)) == pairs.end())
      pairs.emplace_back(row.preequilibration, row.condition);
  return pairs;
}

std::vector<double> PetabProblem::model_parameters(const std::vector<double>& values, std::size_t c) const {
  std::vector<double> p(model_->default_parameters());
  for (std::size_t q = 0; q < parameters_.size(); ++q)
    if (model_index_[q] >= 0) p[static_cast<std::size_t>(model_index_[q])] = values[q];
  for (const auto& [index, v] : conditions_[c].overrides)
    p[static_cast<std::size_t>(index)] = v.parameter < 0 ? v.number : values[static_cast<std::size_t>(v.parameter)];
  return p;
}

void PetabProblem::rows_of(const std::vector<PetabMeasurement>& table, int pre, int cond,
                           std::vector<std::size_t>& rows, std::vector<double>& times) {
  rows.clear();
  for (std::size_t k = 0; k < table.size(); ++k)
    if (table[k].condition == cond && table[k].preequilibration == pre) rows.push_back(k);
  times.clear();
  for (std::size_t k : rows) times.push_back(table[k].time);
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
}

std::vector<int> PetabProblem::sources(std::size_t c) const {
  std::vector<int> src(model_->num_parameters(), -1);
  for (std::size_t q = 0; q < parameters_.size(); ++q)
    if (model_index_[q] >= 0) src[static_cast<std::size_t>(model_index_[q])] = static_cast<int>(q);
  for (const auto& [index, v] : conditions_[c].overrides) src[static_cast<std::size_t>(index)] = v.parameter;
  return src;
}

void PetabProblem::extend(const std::vector<double>& values, const std::vector<double>& p, const std::vector<int>& src,
                          std::vector<double>& extended, std::vector<int>& ext_source) const {
  const std::size_t m = model_->num_parameters();
  extended = p;
  ext_source = src;
  for (std::size_t q = 0; q < parameters_.size(); ++q)
    if (model_index_[q] < 0) {
      extended.push_back(values[q]);
      ext_source.push_back(static_cast<int>(q));
    }
  extended.resize(m + extra_.size(), 0.0);
  ext_source.resize(m + extra_.size(), -1);
}

PetabProblem::Observation PetabProblem::observe(const std::vector<double>& values, const PetabMeasurement& meas,
                                                const double* y, std::vector<double>& extended,
                                                std::vector<int>& ext_source, bool partials) const {
  const std::size_t n = model_->num_states();
  const auto o = static_cast<std::size_t>(meas.observable);
  const PetabObservable& obs = observables_[o];
  // The placeholders of this row's observable (and none of another's) in their slots.
  const std::size_t placeholders_at =
      model_->num_parameters() + extra_.size() - 2 * placeholders_ * observables_.size();
  std::fill(extended.begin() + static_cast<long>(placeholders_at), extended.end(), 0.0);
  std::fill(ext_source.begin() + static_cast<long>(placeholders_at), ext_source.end(), -1);
  const auto value_of = [&](const PetabValue& v) {
    return v.parameter < 0 ? v.number : values[static_cast<std::size_t>(v.parameter)];
  };
  const std::size_t slot = placeholders_at + o * 2 * placeholders_;
  for (std::size_t j = 0; j < meas.observable_parameters.size(); ++j) {
    extended[slot + j] = value_of(meas.observable_parameters[j]);
    ext_source[slot + j] = meas.observable_parameters[j].parameter;
  }
  for (std::size_t j = 0; j < meas.noise_parameters.size(); ++j) {
    extended[slot + placeholders_ + j] = value_of(meas.noise_parameters[j]);
    ext_source[slot + placeholders_ + j] = meas.noise_parameters[j].parameter;
  }
  Observation ob;
  ob.h = obs.formula->evaluate(meas.time, y, extended.data());
  ob.sigma = obs.noise->evaluate(meas.time, y, extended.data());
  double data = meas.value, sim = ob.h, dsim_dh = 1.0;
  if (obs.transformation == "log") {
    data = std::log(meas.value);
    sim = std::log(ob.h);
    ob.jacobian = std::log(meas.value);
    dsim_dh = 1.0 / ob.h;
  } else if (obs.transformation == "log10") {
    data = std::log10(meas.value);
    sim = std::log10(ob.h);
    ob.jacobian = std::log(meas.value * std::log(10.0));
    dsim_dh = 1.0 / (ob.h * std::log(10.0));
  }
  ob.residual = (data - sim) / ob.sigma;
  const bool normal = obs.distribution == "normal";
  ob.term = normal ? -0.5 * std::log(2.0 * M_PI * ob.sigma * ob.sigma) - 0.5 * ob.residual * ob.residual - ob.jacobian
                   : -std::log(2.0 * ob.sigma) - std::fabs(ob.residual) - ob.jacobian;
  const detail::TermSlopes slopes = detail::term_slopes(obs.distribution, ob.residual, ob.sigma);
  ob.dterm_de = slopes.de;
  ob.dterm_dsigma = slopes.dsigma;
  if (!partials) return ob;
  std::vector<std::size_t> which;  // extended entries a PEtab parameter sets
  for (std::size_t e = 0; e < ext_source.size(); ++e)
    if (ext_source[e] >= 0) which.push_back(e), ob.direct_source.push_back(ext_source[e]);
  std::vector<double> dh_dy(n), dh_dext(which.size());
  ob.dsig_dy.resize(n);
  ob.dsig_direct.resize(which.size());
  formula_partials(*obs.formula, meas.time, y, n, extended, which, dh_dy.data(), dh_dext.data());
  formula_partials(*obs.noise, meas.time, y, n, extended, which, ob.dsig_dy.data(), ob.dsig_direct.data());
  ob.de_dy.resize(n);
  for (std::size_t i = 0; i < n; ++i) ob.de_dy[i] = -dsim_dh * dh_dy[i];
  ob.de_direct.resize(which.size());
  for (std::size_t w = 0; w < which.size(); ++w) ob.de_direct[w] = -dsim_dh * dh_dext[w];
  return ob;
}

PetabEvaluation PetabProblem::evaluate(const std::vector<double>& values, const solvers::OdeOptions& options,
                                       bool gradient, const std::vector<PetabMeasurement>* rows_instead,
                                       std::vector<double>* row_states) const {
  const std::vector<PetabMeasurement>& table = rows_instead ? *rows_instead : measurements_;
  PetabEvaluation result;
  result.simulations.assign(table.size(), std::numeric_limits<double>::quiet_NaN());
  result.residuals = result.sigmas = result.jacobians = result.simulations;
  const SbmlModel& model = *model_;
  const std::size_t n = model.num_states(), m = model.num_parameters(), P = parameters_.size();
  if (row_states) row_states->assign(table.size() * n, std::numeric_limits<double>::quiet_NaN());
  // Sensitivity parameters: every model parameter a PEtab parameter sets in some condition.
  solvers::OdeOptions solve_options = options;
  solve_options.sensitivity_parameters.clear();
  if (gradient) {
    std::set<int> set;
    for (std::size_t c = 0; c < conditions_.size(); ++c) {
      const auto src = sources(c);
      for (std::size_t j = 0; j < m; ++j)
        if (src[j] >= 0) set.insert(static_cast<int>(j));
    }
    solve_options.sensitivity_parameters.assign(set.begin(), set.end());
    result.misfit_gradient.assign(table.size() * P, 0.0);
    result.sigma_gradient.assign(table.size() * P, 0.0);
    result.has_gradient = true;
  }
  const std::vector<int>& sens = solve_options.sensitivity_parameters;
  const std::size_t K = sens.size();
  solvers::OdeSolver solver(model_, solve_options);
  std::optional<solvers::OdeSolver> plain;  // (declared here so that `work` can read it)
  // The evaluation's work so far: every step of both solvers.
  const auto work = [&] { return solver.steps_taken() + (plain ? plain->steps_taken() : 0); };
  // Steady states with sensitivities: the state alone by a solver without them, then its
  // sensitivities by the implicit function theorem; by integrating both where that cannot be done.
  solvers::OdeOptions plain_options = solve_options;
  plain_options.sensitivity_parameters.clear();
  if (K > 0) plain.emplace(model_, plain_options);
  const auto parameters_of = [&](std::size_t c) { return model_parameters(values, c); };
  // The steady state reached from y under p (written to y); with K > 0 also its sensitivities,
  // from `s` on entry (K x n; empty: the model's dy0/dp under p) to the steady state's on return.
  const auto settle = [&](const std::vector<double>& p, std::vector<double>& y, std::vector<double>* s,
                          std::string* why) {
    if (K == 0) return steady_state(p, solve_options, solver, y, why);
    std::vector<double> s_start = *s;
    if (s_start.empty()) {
      std::vector<double> dy0dp(n * m);
      model.initial_state_jacobian(p.data(), dy0dp.data());
      s_start.resize(K * n);
      for (std::size_t k = 0; k < K; ++k)
        std::copy(&dy0dp[n * static_cast<std::size_t>(sens[k])], &dy0dp[n * static_cast<std::size_t>(sens[k])] + n,
                  &s_start[k * n]);
    }
    std::vector<double> y_ss = y;
    if (steady_state(p, plain_options, *plain, y_ss, why) &&
        detail::steady_state_sensitivities(model, p, sens, y, y_ss, s_start, *s)) {
      y = y_ss;
      return true;
    }
    *s = s_start;
    return steady_state(p, solve_options, solver, y, why, s);
  };
  // Sensitivities by model parameter (K x n) to derivatives by PEtab parameter (P x n).
  const auto to_petab = [&](const double* s_by_model, const std::vector<int>& src, double* d_by_petab) {
    std::fill(d_by_petab, d_by_petab + P * n, 0.0);
    for (std::size_t k = 0; k < K; ++k)
      if (const int q = src[static_cast<std::size_t>(sens[k])]; q >= 0)
        for (std::size_t i = 0; i < n; ++i) d_by_petab[static_cast<std::size_t>(q) * n + i] += s_by_model[k * n + i];
  };
  const std::vector<std::pair<int, int>> pairs = condition_pairs(table);

  for (const auto& [pre, cond] : pairs) {
    const auto c = static_cast<std::size_t>(cond);
    const std::vector<double> p = parameters_of(c);
    const std::vector<int> src = gradient ? sources(c) : std::vector<int>();
    std::vector<double> extended;
    std::vector<int> ext_source;
    extend(values, p, sources(c), extended, ext_source);

    std::vector<std::size_t> rows;
    std::vector<double> times;
    rows_of(table, pre, cond, rows, times);
    std::vector<double> y0(n), states(times.size() * n), s_states(times.size() * K * n);
    std::vector<double> s0;  // initial sensitivities of the simulation (K x n); empty: the model's dy0/dp
    const auto fail = [&](const std::string& why) {
      result.failed = true;
      result.message = why;
      result.log_likelihood = -std::numeric_limits<double>::infinity();
      result.steps = work();
      return result;
    };
    if (pre < 0) {
      model.initial_state(p.data(), y0.data());
    } else {
      const auto q = parameters_of(static_cast<std::size_t>(pre));
      model.initial_state(q.data(), y0.data());
      std::string why;
      std::vector<double> s_pre;
      if (!settle(q, y0, &s_pre, &why))
        return fail("preequilibration condition " + conditions_[static_cast<std::size_t>(pre)].id + ": " + why);
      if (gradient && K > 0) {
        // The steady state's derivatives by PEtab parameter (under the preequilibration's
        // mapping), carried into the simulation by one sensitivity vector of a model parameter
        // the same PEtab parameter sets there: by linearity its sensitivity is then the sum of
        // both parts.
        std::vector<double> d_pre(P * n);
        to_petab(s_pre.data(), sources(static_cast<std::size_t>(pre)), d_pre.data());
        s0.assign(K * n, 0.0);
        for (std::size_t q2 = 0; q2 < P; ++q2) {
          const double* d = &d_pre[q2 * n];
          if (std::all_of(d, d + n, [](double v) { return v == 0.0; })) continue;
          std::size_t k = 0;
          while (k < K && src[static_cast<std::size_t>(sens[k])] != static_cast<int>(q2)) ++k;
          if (k == K) {
            result.has_gradient = false;
            result.no_gradient = "parameter " + parameters_[q2].id + " moves the steady state of preequilibration " +
                                 conditions_[static_cast<std::size_t>(pre)].id + " but sets no model parameter in " +
                                 "condition " + conditions_[c].id;
            gradient = false;
            break;
          }
          for (std::size_t i = 0; i < n; ++i) s0[k * n + i] += d[i];
        }
      }
    }
    // Measurements at time inf are at the condition's steady state, reached from y0.
    const bool at_steady_state = std::isinf(times.back());
    const std::vector<double> finite(times.begin(), times.end() - (at_steady_state ? 1 : 0));
    if (at_steady_state) {
      std::vector<double> ss = y0, s_ss = s0;
      std::string why;
      if (!settle(p, ss, &s_ss, &why))
        return fail("condition " + conditions_[c].id + ", measurements at time inf: " + why);
      std::copy(ss.begin(), ss.end(), states.end() - static_cast<long>(n));
      if (K > 0) std::copy(s_ss.begin(), s_ss.end(), s_states.end() - static_cast<long>(K * n));
    }
    solvers::SolveResult r;
    if (!finite.empty())
      r = solver.solve(p.data(), y0.data(), 0.0, finite, states.data(), K > 0 ? s_states.data() : nullptr, true,
                       s0.empty() ? nullptr : s0.data());
    if (r.status != solvers::SolveStatus::kSuccess)
      return fail("condition " + conditions_[c].id + ": " + r.flag_name + " " + r.message);
    std::vector<double> d_states(gradient ? P * n : 0);
    for (std::size_t k : rows) {
      const PetabMeasurement& meas = table[k];
      const PetabObservable& obs = observables_[static_cast<std::size_t>(meas.observable)];
      const std::size_t row =
          static_cast<std::size_t>(std::lower_bound(times.begin(), times.end(), meas.time) - times.begin());
      const double* y = &states[row * n];
      if (row_states) std::copy(y, y + n, row_states->begin() + static_cast<std::ptrdiff_t>(k * n));
      const Observation ob = observe(values, meas, y, extended, ext_source, gradient);
      result.simulations[k] = ob.h;
      if (gradient) {
        if (K > 0) to_petab(&s_states[row * K * n], src, d_states.data());
        double* dm = &result.misfit_gradient[k * P];
        double* ds = &result.sigma_gradient[k * P];
        if (K > 0)
          for (std::size_t q = 0; q < P; ++q)
            for (std::size_t i = 0; i < n; ++i) {
              dm[q] += ob.de_dy[i] * d_states[q * n + i];
              ds[q] += ob.dsig_dy[i] * d_states[q * n + i];
            }
        for (std::size_t w = 0; w < ob.direct_source.size(); ++w) {
          dm[ob.direct_source[w]] += ob.de_direct[w];
          ds[ob.direct_source[w]] += ob.dsig_direct[w];
        }
      }
      const double h = ob.h, sigma = ob.sigma, residual = ob.residual, term = ob.term, jacobian = ob.jacobian;
      if (!std::isfinite(term) && result.message.empty()) {
        std::ostringstream why;
        why << meas.file << ":" << meas.line << ": observable " << obs.id << ", condition " << conditions_[c].id
            << ", time " << meas.time << ": measurement " << meas.value << ", simulation " << h << ", noise sigma "
            << sigma << ": ";
        if (!(sigma > 0.0) || !std::isfinite(sigma))
          why << "sigma must be a positive number (an empty noiseParameters entry leaves its placeholder at 0)";
        else if (obs.transformation != "lin" && !(meas.value > 0.0))
          why << "a " << obs.transformation << "-transformed observable needs a positive measurement";
        else if (obs.transformation != "lin" && !(h > 0.0))
          why << "a " << obs.transformation << "-transformed observable needs a positive simulation";
        else
          why << "the simulation is not a finite number";
        result.message = why.str();
      }
      result.residuals[k] = residual;
      result.sigmas[k] = sigma;
      result.jacobians[k] = jacobian;
      result.chi2 += residual * residual;
      result.log_likelihood += term;
    }
  }
  result.steps = work();
  if (!result.has_gradient) result.misfit_gradient.clear(), result.sigma_gradient.clear();
  if (!std::isfinite(result.log_likelihood)) {
    result.failed = true;
    if (result.message.empty())
      result.message = "the log-likelihood is not finite (a simulation or sigma is not positive where it must be)";
  }
  return result;
}

}  // namespace physynth::domains::kinetics
