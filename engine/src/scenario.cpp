#include "physynth/engine/scenario.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "expression.h"
#include "physynth/core/config.h"
#include "physynth/domains/crop/yaml_binding.h"
#include "physynth/domains/equations/yaml_binding.h"
#include "physynth/domains/kinetics/yaml_binding.h"
#include "physynth/domains/manufacturing/yaml_binding.h"
#include "pinn_backend.h"
#include "scenario_readers.h"
#include "sha256.h"

namespace physynth::engine {

using core::ConfigNode;
using core::format_number;
using namespace detail;

const char* format_name(OutputFormat f) {
  switch (f) {
    case OutputFormat::kHdf5:
      return "hdf5";
    case OutputFormat::kCsv:
      return "csv";
    case OutputFormat::kNpy:
      return "npy";
  }
  return "?";
}

namespace {

struct DomainEntry {
  const char* name;
  core::ModelBinding binding;
};
const std::vector<DomainEntry>& domain_table() {
  static const std::vector<DomainEntry> table = {{"crop", &domains::crop::build_from_yaml},
                                                 {"equations", &domains::equations::build_from_yaml},
                                                 {"kinetics", &domains::kinetics::build_from_yaml},
                                                 {"manufacturing", &domains::manufacturing::build_from_yaml}};
  return table;
}

bool check_positive(const ConfigNode& parent, const std::string& key, double v) {
  if (v > 0.0) return true;
  parent[key].error(parent[key].path() + " must be > 0, got " + num_text(parent[key]));
  return false;
}
bool check_nonnegative(const ConfigNode& parent, const std::string& key, double v) {
  if (v >= 0.0) return true;
  parent[key].error(parent[key].path() + " must be >= 0, got " + num_text(parent[key]));
  return false;
}

// --- parameters -------------------------------------------------------------

std::optional<core::Distribution> read_distribution(const ConfigNode& node) {
  using core::Distribution;
  if (node.is_scalar()) {
    auto v = node.as_number();
    if (!v) return std::nullopt;
    return Distribution::fixed(*v);
  }
  if (!node.is_map()) {
    node.error(node.path() + " must be a number or a mapping with 'distribution', got " + node.describe());
    return std::nullopt;
  }
  static const std::vector<std::string> kinds = {"fixed",      "uniform",          "log_uniform", "normal",
                                                 "log_normal", "truncated_normal", "choice"};
  std::string kind = "fixed";
  if (node.has("distribution")) {
    auto k = node["distribution"].as_enum(kinds);
    if (!k) return std::nullopt;
    kind = *k;
  } else if (!node.has("value")) {
    node.error("parameter " + node.path() + " needs 'value' (a fixed value) or 'distribution' (one of " +
               core::quoted_alternatives(kinds) + ")");
    return std::nullopt;
  }
  std::vector<std::string> allowed = {"distribution", "units", "description"};
  std::map<std::string, std::vector<std::string>> keys = {{"fixed", {"value"}},
                                                          {"uniform", {"low", "high"}},
                                                          {"log_uniform", {"low", "high"}},
                                                          {"normal", {"mean", "sd"}},
                                                          {"log_normal", {"mu", "sigma"}},
                                                          {"truncated_normal", {"mean", "sd", "low", "high"}},
                                                          {"choice", {"values", "weights"}}};
  for (const auto& k : keys[kind]) allowed.push_back(k);
  node.check_keys(allowed);

  std::map<std::string, double> v;
  bool ok = true;
  for (const auto& k : keys[kind]) {
    if (k == "values" || k == "weights") continue;
    if (!node.require(k)) {
      ok = false;
      continue;
    }
    auto x = node[k].as_number();
    if (!x)
      ok = false;
    else
      v[k] = *x;
  }
  if (kind == "choice") {
    std::vector<double> values, weights;
    if (node.require("values")) {
      if (auto list = node["values"].as_number_list()) {
        values = *list;
        if (values.empty()) {
          node["values"].error(node["values"].path() + " must hold at least one value, got an empty list");
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (node.has("weights")) {
      if (auto list = node["weights"].as_number_list()) {
        weights = *list;
        if (ok && weights.size() != values.size()) {
          node["weights"].error(node["weights"].path() + " must have one weight per value (" +
                                std::to_string(values.size()) + "), got " + std::to_string(weights.size()));
          ok = false;
        }
        double total = 0.0;
        for (double w : weights) {
          if (!(w >= 0.0)) {
            node["weights"].error(node["weights"].path() + " must be >= 0, got " + format_number(w));
            ok = false;
          }
          total += w;
        }
        if (ok && !(total > 0.0)) {
          node["weights"].error(node["weights"].path() + " must not all be zero");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return Distribution::choice(values, weights);
  }
  if (!ok) return std::nullopt;

  auto bounds = [&](double low, double high) {
    if (low < high) return true;
    node.error(node.path() + ": low (" + format_number(low) + ") must be < high (" + format_number(high) + ")");
    return false;
  };
  if (kind == "fixed") return Distribution::fixed(v["value"]);
  if (kind == "uniform") {
    if (!bounds(v["low"], v["high"])) return std::nullopt;
    return Distribution::uniform(v["low"], v["high"]);
  }
  if (kind == "log_uniform") {
    if (!(v["low"] > 0.0)) {
      node["low"].error(node["low"].path() + " must be > 0 for a log_uniform distribution, got " +
                        num_text(node["low"]));
      return std::nullopt;
    }
    if (!bounds(v["low"], v["high"])) return std::nullopt;
    return Distribution::log_uniform(v["low"], v["high"]);
  }
  if (kind == "normal") {
    if (!check_positive(node, "sd", v["sd"])) return std::nullopt;
    return Distribution::normal(v["mean"], v["sd"]);
  }
  if (kind == "log_normal") {
    if (!check_positive(node, "sigma", v["sigma"])) return std::nullopt;
    return Distribution::log_normal(v["mu"], v["sigma"]);
  }
  // truncated_normal
  bool good = check_positive(node, "sd", v["sd"]);
  good = bounds(v["low"], v["high"]) && good;
  if (!good) return std::nullopt;
  return Distribution::truncated_normal(v["mean"], v["sd"], v["low"], v["high"]);
}

// --- time grid ---------------------------------------------------------------

bool read_time(const ConfigNode& time, Scenario& s) {
  if (!time.expect_map()) return false;
  time.check_keys({"start", "end", "points", "spacing", "values", "units"});
  if (time.has("units"))
    if (auto u = time["units"].as_string()) s.time_units = *u;
  if (time.has("values")) {
    for (const char* k : {"start", "end", "points", "spacing"})
      if (time.has(k)) time[k].error(time.path() + ": give either 'values' or 'start'/'end'/'points', not both");
    auto list = time["values"].as_number_list();
    if (!list) return false;
    if (list->empty()) {
      time["values"].error(time["values"].path() + " must hold at least one time, got an empty list");
      return false;
    }
    for (std::size_t i = 1; i < list->size(); ++i)
      if (!((*list)[i] > (*list)[i - 1])) {
        time["values"][i].error(time["values"].path() + " must be strictly increasing, but entry " + std::to_string(i) +
                                " (" + format_number((*list)[i]) + ") follows " + format_number((*list)[i - 1]));
        return false;
      }
    s.times = *list;
    return true;
  }
  bool ok = time.require("end") && time.require("points");
  double start = 0.0;
  if (time.has("start")) {
    if (auto v = time["start"].as_number())
      start = *v;
    else
      ok = false;
  }
  std::optional<double> end = number(time, "end");
  std::optional<long long> points;
  if (time.has("points")) points = time["points"].as_integer();
  std::string spacing = "linear";
  if (time.has("spacing")) {
    auto sp = time["spacing"].as_enum({"linear", "log"});
    if (!sp)
      ok = false;
    else
      spacing = *sp;
  }
  if (!ok || !end || !points) return false;
  if (*points < 2) {
    time["points"].error(time["points"].path() + " must be >= 2 (start and end), got " + num_text(time["points"]));
    return false;
  }
  if (*points > 10000000) {
    time["points"].error(time["points"].path() + " must be <= 10000000, got " + num_text(time["points"]));
    return false;
  }
  if (!(*end > start)) {
    time["end"].error(time["end"].path() + " (" + format_number(*end) + ") must be > time.start (" +
                      format_number(start) + ")");
    return false;
  }
  if (spacing == "log" && !(start > 0.0)) {
    time.error(time.path() + ".start must be > 0 for log spacing, got " + format_number(start));
    return false;
  }
  const auto n = static_cast<std::size_t>(*points);
  s.times.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double f = static_cast<double>(i) / static_cast<double>(n - 1);
    s.times[i] = spacing == "linear" ? start + f * (*end - start)
                                     : std::exp(std::log(start) + f * (std::log(*end) - std::log(start)));
  }
  s.times.front() = start;
  s.times.back() = *end;
  return true;
}

// --- solver ------------------------------------------------------------------

void read_solver(const ConfigNode& node, const core::Model& model, solvers::OdeOptions& o, std::string* method) {
  if (!node.expect_map()) return;
  node.check_keys({"method", "linear_solver", "rtol", "atol", "max_steps", "max_step", "initial_step", "max_order",
                   "sensitivities", "lanes"});
  if (node.has("lanes"))
    if (auto v = node["lanes"].as_bool()) o.lanes = *v;
  if (node.has("sensitivities")) {
    const ConfigNode list = node["sensitivities"];
    std::vector<std::string> named;  // parameters the user defined (not literals of the model section)
    for (const auto& p : model.parameters())
      if (core::is_identifier(p.name)) named.push_back(p.name);
    if (list.is_scalar() && list.scalar() == "all") {
      for (const auto& name : named) o.sensitivity_parameters.push_back(model.parameter_index(name));
    } else if (list.is_sequence()) {
      for (std::size_t i = 0; i < list.size(); ++i)
        if (auto name = list[i].as_string()) {
          if (std::find(named.begin(), named.end(), *name) == named.end()) {
            std::string msg = list[i].path() + ": '" + *name + "' is not a parameter of the scenario; parameters are " +
                              core::join(named);
            const std::string hint = core::closest_match(*name, named);
            if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
            list[i].error(msg);
          } else if (std::find(o.sensitivity_parameters.begin(), o.sensitivity_parameters.end(),
                               model.parameter_index(*name)) != o.sensitivity_parameters.end()) {
            list[i].error(list[i].path() + ": '" + *name + "' is listed twice");
          } else {
            o.sensitivity_parameters.push_back(model.parameter_index(*name));
          }
        }
    } else {
      list.error(list.path() + " must be a list of parameter names or 'all', got " + list.describe());
    }
    if (model.has_jumps())
      list.error(list.path() +
                 ": the model changes its state at scheduled times (a schedule or SBML events), and "
                 "forward sensitivities do not cross those jumps yet; drop the schedule or the sensitivities");
  }
  if (node.has("method"))
    if (auto m = node["method"].as_enum({"auto", "bdf", "adams", "rosenbrock", "ndf"})) {
      *method = *m;
      o.method = *m == "adams" ? solvers::Method::kAdams : solvers::Method::kBdf;
    }
  if (node.has("linear_solver"))
    if (auto m = node["linear_solver"].as_enum({"dense", "klu"}))
      o.linear_solver = *m == "dense" ? solvers::LinearSolverKind::kDense : solvers::LinearSolverKind::kKlu;
  if (auto v = number(node, "rtol")) {
    if (check_positive(node, "rtol", *v)) {
      if (*v < 1e-15 || *v > 1.0)
        node["rtol"].error(node["rtol"].path() + " must be between 1e-15 and 1, got " + num_text(node["rtol"]));
      o.rtol = *v;
    }
  }
  if (node.has("atol")) {
    const ConfigNode atol = node["atol"];
    if (atol.is_map()) {
      std::vector<std::string> allowed{"default"};
      for (const auto& st : model.states()) allowed.push_back(st.name);
      atol.check_keys(allowed);
      double fallback = o.atol;
      if (auto d = number(atol, "default"))
        if (check_positive(atol, "default", *d)) fallback = *d;
      o.atol_per_state.assign(model.num_states(), fallback);
      for (std::size_t i = 0; i < model.num_states(); ++i) {
        const std::string& st = model.states()[i].name;
        if (auto v = number(atol, st))
          if (check_positive(atol, st, *v)) o.atol_per_state[i] = *v;
      }
    } else if (auto v = atol.as_number()) {
      if (check_positive(node, "atol", *v)) o.atol = *v;
    }
  }
  if (node.has("max_steps"))
    if (auto v = node["max_steps"].as_integer()) {
      if (*v <= 0)
        node["max_steps"].error(node["max_steps"].path() + " must be > 0, got " + num_text(node["max_steps"]));
      else
        o.max_steps = static_cast<long>(*v);
    }
  if (auto v = number(node, "max_step"))
    if (check_nonnegative(node, "max_step", *v)) o.max_step_size = *v;
  if (auto v = number(node, "initial_step"))
    if (check_nonnegative(node, "initial_step", *v)) o.initial_step_size = *v;
  if (node.has("max_order"))
    if (auto v = node["max_order"].as_integer()) {
      const int limit = o.method == solvers::Method::kBdf ? 5 : 12;
      if (*v < 1 || *v > limit)
        node["max_order"].error(node["max_order"].path() + " must be between 1 and " + std::to_string(limit) + " for " +
                                solvers::method_name(o.method) + ", got " + num_text(node["max_order"]));
      else
        o.max_order = static_cast<int>(*v);
    }
}

// --- observations --------------------------------------------------------------

bool check_expression(const ConfigNode& node, const std::string& text, const std::vector<std::string>& variables) {
  try {
    Expression e(text, variables);
    return true;
  } catch (const ExpressionSyntaxError& err) {
    node.diagnostics().error(node.location_at(err.offset()), node.path() + ": cannot evaluate '" + text + "': " +
                                                                 err.what() + "; it may use " + core::join(variables));
    return false;
  }
}

void read_noise(const ConfigNode& node, NoiseModel& noise) {
  if (!node.expect_map()) return;
  node.check_keys({"additive_sd", "multiplicative_sd", "log_sd", "bias_mean", "bias_sd", "drift_sd",
                   "quantisation_step", "saturation_low", "saturation_high", "dropout_probability", "spike_probability",
                   "spike_amplitude"});
  auto nonneg = [&](const char* key, double& target) {
    if (auto v = number(node, key))
      if (check_nonnegative(node, key, *v)) target = *v;
  };
  nonneg("additive_sd", noise.additive_sd);
  nonneg("multiplicative_sd", noise.multiplicative_sd);
  nonneg("log_sd", noise.log_sd);
  nonneg("bias_sd", noise.bias_sd);
  nonneg("drift_sd", noise.drift_sd);
  nonneg("quantisation_step", noise.quantisation_step);
  if (auto v = number(node, "bias_mean")) noise.bias_mean = *v;
  if (auto v = number(node, "saturation_low")) noise.saturation_low = *v;
  if (auto v = number(node, "saturation_high")) noise.saturation_high = *v;
  if (noise.saturation_low && noise.saturation_high && !(*noise.saturation_low < *noise.saturation_high))
    node["saturation_high"].error(node.path() + ": saturation_low (" + format_number(*noise.saturation_low) +
                                  ") must be < saturation_high (" + format_number(*noise.saturation_high) + ")");
  nonneg("spike_amplitude", noise.spike_amplitude);
  if (auto v = number(node, "spike_probability")) {
    if (*v >= 0.0 && *v < 1.0)
      noise.spike_probability = *v;
    else
      node["spike_probability"].error(node["spike_probability"].path() + " must be in [0, 1), got " +
                                      num_text(node["spike_probability"]));
  }
  if (auto v = number(node, "dropout_probability")) {
    if (*v >= 0.0 && *v < 1.0)
      noise.dropout_probability = *v;
    else
      node["dropout_probability"].error(node["dropout_probability"].path() + " must be in [0, 1), got " +
                                        num_text(node["dropout_probability"]));
  }
}

void unknown_state(const ConfigNode& node, const std::string& name, const core::Model& model) {
  std::vector<std::string> names;
  for (const auto& x : model.states()) names.push_back(x.name);
  std::string msg = node.path() + ": unknown state '" + name + "'; states are " + core::join(names);
  const std::string hint = core::closest_match(name, names);
  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  node.error(msg);
}

std::set<std::string> reserved_output_names(const core::Model& model) {
  std::set<std::string> names{"sample", "time", "status", "t_reached"};
  for (const auto& s : model.states()) names.insert(s.name);
  return names;
}

std::string read_name(const ConfigNode& item, std::set<std::string>& used, const std::string& what) {
  if (!item.require("name")) return {};
  auto n = item["name"].as_string();
  if (!n) return {};
  if (!core::is_identifier(*n)) {
    item["name"].error(item["name"].path() + " must be a name of letters, digits and '_', got '" + *n + "'");
    return {};
  }
  if (!used.insert(*n).second) {
    item["name"].error(what + " name '" + *n + "' is already used by a state, parameter or another " + what);
    return {};
  }
  return *n;
}

// Whether `regimes.parameters` lists `name` (before the section is read: a model parameter
// that only the regimes set needs no `parameters` entry).
bool set_by_regimes(const ConfigNode& root, const std::string& name) {
  if (!root.has("regimes") || !root["regimes"].is_map() || !root["regimes"].has("parameters")) return false;
  const ConfigNode list = root["regimes"]["parameters"];
  if (!list.is_sequence()) return false;
  for (std::size_t k = 0; k < list.size(); ++k)
    if (list[k].is_scalar() && list[k].scalar() == name) return true;
  return false;
}

void read_regimes(const ConfigNode& node, Scenario& s, const ConfigNode& parameters_node) {
  if (!node.expect_map()) return;
  node.check_keys({"parameters", "conditions", "weights", "every"});
  RegimeSpec& r = s.regimes;
  r.present = true;
  const core::Model& model = *s.model.model;
  std::vector<std::string> named;
  for (const auto& p : model.parameters())
    if (core::is_identifier(p.name)) named.push_back(p.name);
  if (node.require("parameters")) r.parameters = read_names(node["parameters"], named, "parameter", 20);
  for (const auto& name : r.parameters) {
    r.parameter_indices.push_back(model.parameter_index(name));
    if (parameters_node.has(name))
      parameters_node[name].error("parameter '" + name + "' is set by regimes.parameters; define it in one place");
  }
  if (node.require("conditions") && node["conditions"].expect_sequence()) {
    const ConfigNode list = node["conditions"];
    if (list.size() == 0) list.error("regimes.conditions must list at least one operating condition");
    for (std::size_t i = 0; i < list.size(); ++i)
      if (auto values = list[i].as_number_list()) {
        if (values->size() != r.parameters.size())
          list[i].error(list[i].path() + " must have one value per regime parameter (" +
                        std::to_string(r.parameters.size()) + "), got " + std::to_string(values->size()));
        r.conditions.push_back(*values);
      }
  }
  if (node.has("weights")) {
    if (auto w = node["weights"].as_number_list()) {
      double total = 0.0;
      for (double x : *w) total += x >= 0.0 ? x : std::nan("");
      if (w->size() != r.conditions.size() || !(total > 0.0))
        node["weights"].error("regimes.weights must have one weight >= 0 per condition (" +
                              std::to_string(r.conditions.size()) + "), not all zero");
      else
        for (double x : *w) r.weights.push_back(x / total);
    }
  } else {
    r.weights.assign(r.conditions.size(), r.conditions.empty() ? 0.0 : 1.0 / static_cast<double>(r.conditions.size()));
  }
  if (node.require("every"))
    if (auto v = node["every"].as_number()) {
      if (*v > 0.0)
        r.every = *v;
      else
        node["every"].error("regimes.every must be > 0, got " + node["every"].scalar());
    }
  if (!s.solver.sensitivity_parameters.empty())
    node.error(
        "regimes cannot be combined with solver.sensitivities yet (the sensitivities would restart at each switch)");
}

// Whether t is a whole number of steps (to rounding).
bool whole_steps(double t, double step) { return std::fabs(t / step - std::round(t / step)) < 1e-9; }

// The field section: its grid, and which model parameters vary over it. Read before the
// parameters section, whose names it defines.
void read_field(const ConfigNode& node, Scenario& s) {
  if (!node.expect_map()) return;
  node.check_keys({"rows", "cols", "cell_size_m", "parameters"});
  FieldSpec& f = s.field;
  f.present = true;
  auto grid_size = [&](const char* key, int& target) {
    if (!node.require(key)) return;
    if (auto n = node[key].as_integer()) {
      if (*n < 1 || *n > 2000)
        node[key].error(node[key].path() + " must be between 1 and 2000, got " + num_text(node[key]));
      else
        target = static_cast<int>(*n);
    }
  };
  grid_size("rows", f.rows);
  grid_size("cols", f.cols);
  if (node.require("cell_size_m"))
    if (auto v = node["cell_size_m"].as_number()) {
      if (check_positive(node, "cell_size_m", *v)) f.cell_size_m = *v;
    }
  if (!node.require("parameters") || !node["parameters"].expect_map()) return;
  const core::Model& model = *s.model.model;
  std::vector<std::string> settable;
  for (std::size_t k = 0; k < model.num_parameters(); ++k)
    if (!s.model.parameters[k].literal || s.model.parameters[k].overridable)
      settable.push_back(model.parameters()[k].name);
  const ConfigNode list = node["parameters"];
  for (const auto& name : list.keys()) {
    const ConfigNode pn = list[name];
    FieldParameterSpec p;
    p.name = name;
    p.index = model.parameter_index(name);
    if (p.index < 0 || std::find(settable.begin(), settable.end(), name) == settable.end()) {
      std::string msg = "field parameter '" + name + "' is not a parameter the model lets a scenario set";
      const std::string hint = core::closest_match(name, settable);
      if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
      pn.error(msg);
      continue;
    }
    if (!pn.expect_map()) continue;
    pn.check_keys({"mean", "sd", "correlation_length_m", "covariance", "low", "high"});
    core::FieldOptions& o = p.options;
    if (pn.require("mean"))
      if (auto v = pn["mean"].as_number()) o.mean = *v;
    if (pn.require("sd"))
      if (auto v = pn["sd"].as_number())
        if (check_nonnegative(pn, "sd", *v)) o.sd = *v;
    if (pn.require("correlation_length_m"))
      if (auto v = pn["correlation_length_m"].as_number())
        if (check_positive(pn, "correlation_length_m", *v)) o.correlation_length_m = *v;
    if (pn.has("covariance"))
      if (auto c = pn["covariance"].as_enum({"exponential", "gaussian"}))
        o.covariance = *c == "exponential" ? core::FieldOptions::Covariance::kExponential
                                           : core::FieldOptions::Covariance::kGaussian;
    if (auto v = number(pn, "low")) p.low = *v;
    if (auto v = number(pn, "high")) p.high = *v;
    if (!(p.low < p.high))
      pn.error(pn.path() + ": low (" + format_number(p.low) + ") must be below high (" + format_number(p.high) + ")");
    else if (!(o.mean > p.low && o.mean < p.high))
      pn.error(pn.path() + ": mean (" + format_number(o.mean) + ") must lie between low and high");
    f.parameters.push_back(p);
  }
  if (list.keys().empty()) list.error("field.parameters must name at least one parameter that varies over the field");
  for (auto& p : f.parameters) {
    p.options.rows = f.rows;
    p.options.cols = f.cols;
    p.options.cell_size_m = f.cell_size_m;
  }
}

// --- pinn --------------------------------------------------------------------

void read_pinn(const ConfigNode& node, Scenario& s) {
  if (!node.expect_map()) return;
  PinnSpec& p = s.pinn;
  node.check_keys(
      {"model", "device", "verify", "residual_points", "gate_residual", "precision", "time", "network", "train"});
  if (node.has("model"))
    if (auto m = node["model"].as_string()) {
      const std::filesystem::path path(*m);
      p.model = path.is_absolute()
                    ? *m
                    : (std::filesystem::path(node.file()).parent_path() / path).lexically_normal().string();
    }
  if (node.has("device"))
    if (auto d = node["device"].as_string()) {
      const bool cuda_n =
          d->rfind("cuda:", 0) == 0 && d->size() > 5 && d->find_first_not_of("0123456789", 5) == std::string::npos;
      if (*d != "cpu" && *d != "cuda" && !cuda_n)
        node["device"].error(node["device"].path() + " must be cpu, cuda or cuda:N, got '" + *d + "'");
      p.train.device = *d;
    }
  read_int(node, "verify", 0, 1000000000, p.verify);
  read_int(node, "residual_points", 2, 100000, p.residual_points);
  read_real(node, "gate_residual", 0.0, 1e300, p.gate_residual, true);  // 0: no gate
  if (node.has("precision"))
    if (auto v = node["precision"].as_enum({"auto", "float64", "float32"})) p.precision = *v;
  if (node.has("time") && node["time"].expect_map()) {
    const ConfigNode t = node["time"];
    t.check_keys({"scaling", "scale", "characteristic"});
    if (t.has("scaling"))
      if (auto sc = t["scaling"].as_enum({"linear", "log"})) p.time.log = *sc == "log";
    read_real(t, "scale", 0.0, 1e300, p.time.scale);
    read_flag(t, "characteristic", p.time.characteristic);
  }
  if (node.has("network") && node["network"].expect_map()) {
    const ConfigNode n = node["network"];
    n.check_keys({"width", "depth", "quasi_steady", "positive", "sample_scale"});
    read_int(n, "width", 1, 4096, p.network.width);
    read_int(n, "depth", 1, 64, p.network.depth);
    read_flag(n, "sample_scale", p.network.sample_scale);
    std::vector<std::string> states;
    for (const auto& v : s.model.model->states()) states.push_back(v.name);
    if (n.has("quasi_steady")) p.network.quasi_steady = read_names(n["quasi_steady"], states, "state", states.size());
    if (n.has("positive")) p.network.positive = read_names(n["positive"], states, "state", states.size());
  }
  if (node.has("train") && node["train"].expect_map()) {
    const ConfigNode t = node["train"];
    pinn::TrainOptions& o = p.train;
    t.check_keys({"seed",
                  "dtype",
                  "threads",
                  "collocation",
                  "residual",
                  "adam_steps",
                  "learning_rate",
                  "final_lr_factor",
                  "lbfgs_iterations",
                  "resample_every",
                  "resample_fraction",
                  "pool_factor",
                  "causal",
                  "causal_epsilon",
                  "causal_bins",
                  "data_samples",
                  "data_weight",
                  "balance",
                  "balance_every",
                  "validation_samples",
                  "validation_every",
                  "target_error",
                  "test_samples",
                  "max_minutes"});
    read_int(t, "seed", 0, std::numeric_limits<long long>::max(), o.seed);
    if (t.has("dtype"))
      if (auto d = t["dtype"].as_enum({"float32", "float64"})) o.dtype = *d;
    read_int(t, "threads", 0, 1024, o.threads);
    read_int(t, "collocation", 16, 100000000, o.collocation);
    if (t.has("residual"))
      if (auto r = t["residual"].as_enum({"plain", "implicit", "relative"}))
        o.residual = *r == "implicit"   ? pinn::TrainOptions::Residual::kImplicit
                     : *r == "relative" ? pinn::TrainOptions::Residual::kRelative
                                        : pinn::TrainOptions::Residual::kPlain;
    read_int(t, "adam_steps", 0, 100000000, o.adam_steps);
    read_real(t, "learning_rate", 0.0, 1.0, o.learning_rate);
    read_real(t, "final_lr_factor", 0.0, 1.0, o.final_lr_factor);
    read_int(t, "lbfgs_iterations", 0, 100000000, o.lbfgs_iterations);
    read_int(t, "resample_every", 0, 100000000, o.resample_every);
    read_real(t, "resample_fraction", 0.0, 1.0, o.resample_fraction, true);
    read_int(t, "pool_factor", 1, 1000, o.pool_factor);
    read_flag(t, "causal", o.causal);
    read_real(t, "causal_epsilon", 0.0, 1e6, o.causal_epsilon, true);
    read_int(t, "causal_bins", 1, 10000, o.causal_bins);
    read_int(t, "data_samples", 0, 1000000, o.data_samples);
    read_real(t, "data_weight", 0.0, 1e12, o.data_weight, true);
    read_flag(t, "balance", o.balance);
    read_int(t, "balance_every", 1, 100000000, o.balance_every);
    read_int(t, "validation_samples", 1, 1000000, o.validation_samples);
    read_int(t, "validation_every", 1, 100000000, o.validation_every);
    read_real(t, "target_error", 0.0, 1e6, o.target_error, true);
    read_int(t, "test_samples", 0, 1000000, o.test_samples);
    double minutes = o.max_seconds / 60.0;
    read_real(t, "max_minutes", 0.0, 1e6, minutes);
    o.max_seconds = minutes * 60.0;
  }
}

void read_feed(const ConfigNode& node, Scenario& s) {
  if (!node.expect_map()) return;
  node.check_keys({"channels", "target", "window", "stride", "batch_size", "split", "cmapss"});
  FeedSpec& f = s.feed;
  f.present = true;
  std::vector<std::string> channels, record_labels, parameters;
  for (const auto& o : s.observations) channels.push_back(o.name);
  for (const auto& r : s.record_labels) record_labels.push_back(r.name);
  for (const auto& p : s.parameters)
    if (core::is_identifier(p.name)) parameters.push_back(p.name);
  if (node.require("channels")) {
    f.channels = read_names(node["channels"], channels, "observation", 1000);
    if (node["channels"].is_sequence() && node["channels"].size() == 0)
      node["channels"].error("feed.channels must name at least one observation");
    // Windows need every channel on the same reading times.
    for (std::size_t i = 1; i < f.channels.size(); ++i) {
      auto interval = [&](const std::string& name) {
        for (const auto& o : s.observations)
          if (o.name == name) return o.sample_interval;
        return 0.0;
      };
      if (interval(f.channels[i]) != interval(f.channels[0]))
        node["channels"].error("feed.channels must share their reading times, but '" + f.channels[i] + "' and '" +
                               f.channels[0] + "' have different sample_interval");
    }
  }
  if (node.require("target"))
    if (auto t = node["target"].as_string()) {
      if (std::find(record_labels.begin(), record_labels.end(), *t) == record_labels.end())
        node["target"].error(
            "feed.target must be a per-record label (remaining_until, or per: record), got '" + *t + "'" +
            (record_labels.empty() ? "; the scenario has none" : "; they are " + core::join(record_labels)));
      else
        f.target = *t;
    }
  auto positive_integer = [&](const char* key, std::size_t& target) {
    if (!node.has(key)) return;
    if (auto v = node[key].as_integer()) {
      if (*v < 1)
        node[key].error(node[key].path() + " must be >= 1, got " + node[key].scalar());
      else
        target = static_cast<std::size_t>(*v);
    }
  };
  positive_integer("window", f.window);
  positive_integer("stride", f.stride);
  positive_integer("batch_size", f.batch_size);
  if (node.has("split")) {
    const ConfigNode sp = node["split"];
    if (sp.expect_map()) {
      sp.check_keys({"validation", "test"});
      if (auto v = number(sp, "validation")) f.validation_fraction = *v;
      if (auto v = number(sp, "test")) f.test_fraction = *v;
      if (!(f.validation_fraction >= 0.0 && f.test_fraction >= 0.0 && f.validation_fraction + f.test_fraction < 1.0))
        sp.error("feed.split: validation (" + format_number(f.validation_fraction) + ") and test (" +
                 format_number(f.test_fraction) + ") must be >= 0 and leave a training share (sum < 1)");
    }
  }
  if (node.has("cmapss")) {
    const ConfigNode c = node["cmapss"];
    if (c.expect_map()) {
      c.check_keys({"settings", "sensors"});
      if (c.has("settings")) f.cmapss_settings = read_names(c["settings"], parameters, "parameter", 3);
      if (c.require("sensors")) f.cmapss_sensors = read_names(c["sensors"], channels, "observation", 21);
      for (const auto& name : f.cmapss_sensors) {
        auto interval = [&](const std::string& n) {
          for (const auto& o : s.observations)
            if (o.name == n) return o.sample_interval;
          return 0.0;
        };
        if (interval(name) != interval(f.cmapss_sensors.front()))
          c["sensors"].error("feed.cmapss.sensors must share their reading times (the export's cycles), but '" + name +
                             "' and '" + f.cmapss_sensors.front() + "' have different sample_interval");
      }
    }
  }
}

nlohmann::ordered_json yaml_to_json(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return nullptr;
  if (node.IsMap()) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& kv : node) j[kv.first.Scalar()] = yaml_to_json(kv.second);
    return j;
  }
  if (node.IsSequence()) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& v : node) j.push_back(yaml_to_json(v));
    return j;
  }
  const std::string& s = node.Scalar();
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (!s.empty() && end == s.c_str() + s.size() && node.Tag() != "!") return d;
  return s;
}

nlohmann::ordered_json resolved_json(const Scenario& s, const YAML::Node& model_yaml) {
  nlohmann::ordered_json j;
  j["name"] = s.name;
  j["description"] = s.description;
  j["domain"] = s.domain;
  j["model"] = yaml_to_json(model_yaml);
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  for (const auto& p : s.parameters) {
    params[p.name] = {{"distribution", p.distribution.describe()}, {"units", p.units}};
  }
  j["parameters"] = params;
  j["sampling"] = {{"design", core::design_name(s.design)}, {"samples", s.samples}, {"seed", s.seed}};
  if (s.rare_event.present) {
    const RareEventSpec& r = s.rare_event;
    j["sampling"]["condition"] = r.condition;
    j["sampling"]["method"] = r.method == RareEventSpec::Method::kSplitting ? "splitting" : "importance";
    j["sampling"]["level_probability"] = r.level_probability;
    j["sampling"]["samples_per_level"] = r.samples_per_level;
    j["sampling"]["max_levels"] = r.max_levels;
  }
  j["time"] = {
      {"points", s.times.size()}, {"start", s.times.front()}, {"end", s.times.back()}, {"units", s.time_units}};
  nlohmann::ordered_json solver = {{"method", solvers::method_name(s.solver.method)},
                                   {"chosen", s.solver_choice},
                                   {"linear_solver", solvers::linear_solver_name(s.solver.linear_solver)},
                                   {"rtol", s.solver.rtol},
                                   {"atol", s.solver.atol},
                                   {"max_steps", s.solver.max_steps},
                                   {"max_step", s.solver.max_step_size},
                                   {"initial_step", s.solver.initial_step_size},
                                   {"max_order", s.solver.max_order},
                                   {"lanes", s.solver.lanes}};
  if (!s.solver.atol_per_state.empty()) solver["atol_per_state"] = s.solver.atol_per_state;
  nlohmann::ordered_json sens = nlohmann::ordered_json::array();
  for (int k : s.solver.sensitivity_parameters) sens.push_back(s.parameters[static_cast<std::size_t>(k)].name);
  solver["sensitivities"] = sens;
  if (!dynamic_cast<const core::SteppedModel*>(s.model.model.get())) j["solver"] = solver;
  if (s.backend == Backend::kPinn) {
    j["backend"] = "pinn";
    j["pinn"] = {{"model", s.pinn.model},
                 {"device", s.pinn.train.device},
                 {"verify", s.pinn.verify},
                 {"residual_points", s.pinn.residual_points},
                 {"gate_residual", s.pinn.gate_residual},
                 {"precision", s.pinn.precision}};
  }
  if (s.anchor.present) {
    nlohmann::ordered_json obs = nlohmann::ordered_json::array(), fit = nlohmann::ordered_json::array();
    for (const auto& o : s.anchor.observables)
      obs.push_back({{"name", o.name},
                     {"observation", o.observation},
                     {"noise", anchor::noise_name(o.noise)},
                     {"sigma", o.sigma}});
    for (const auto& f : s.anchor.fit)
      fit.push_back(
          {{"parameter", f.parameter}, {"low", f.low}, {"high", f.high}, {"log", f.log}, {"per_unit", f.per_unit}});
    j["anchor"] = {{"data", s.anchor.data},
                   {"observables", obs},
                   {"fit", fit},
                   {"starts", s.anchor.options.starts},
                   {"seed", s.anchor.options.seed},
                   {"max_iterations", s.anchor.options.max_iterations},
                   {"confidence", s.anchor.options.confidence}};
  }
  if (s.population.present) {
    const auto& m = s.population.model;
    nlohmann::ordered_json random = nlohmann::ordered_json::array(), shared = nlohmann::ordered_json::array(),
                           effects = nlohmann::ordered_json::array();
    for (const auto& r : m.random) random.push_back({{"parameter", r.name}, {"log", r.log}, {"mean", r.mean}});
    for (const auto& f : m.shared) shared.push_back({{"parameter", f.name}, {"value", f.value}});
    for (const auto& e : m.effects)
      effects.push_back({{"parameter", m.random[static_cast<std::size_t>(e.random)].name},
                         {"covariate", e.covariate},
                         {"log", e.log},
                         {"reference", e.reference},
                         {"beta", e.beta}});
    j["population"] = {
        {"group", s.population.group}, {"groups", m.groups}, {"random", random}, {"shared", shared}, {"omega", m.omega},
        {"effects", effects}};
  }
  if (!s.provenance.is_null()) j["provenance"] = s.provenance;
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  for (const auto& e : s.events)
    events.push_back({{"name", e.name},
                      {e.expression.empty() ? "state" : "expression", e.expression.empty() ? e.state : e.expression},
                      {"threshold", e.threshold},
                      {"direction", e.direction > 0   ? "rising"
                                    : e.direction < 0 ? "falling"
                                                      : "either"},
                      {"action", e.action == EventSpec::Action::kStop ? "stop" : "record"}});
  j["events"] = events;
  nlohmann::ordered_json obs = nlohmann::ordered_json::array();
  for (const auto& o : s.observations) {
    nlohmann::ordered_json noise = {{"additive_sd", o.noise.additive_sd},
                                    {"multiplicative_sd", o.noise.multiplicative_sd},
                                    {"bias_mean", o.noise.bias_mean},
                                    {"bias_sd", o.noise.bias_sd},
                                    {"drift_sd", o.noise.drift_sd},
                                    {"quantisation_step", o.noise.quantisation_step},
                                    {"dropout_probability", o.noise.dropout_probability},
                                    {"spike_probability", o.noise.spike_probability},
                                    {"spike_amplitude", o.noise.spike_amplitude}};
    if (o.noise.log_sd > 0.0) noise["log_sd"] = o.noise.log_sd;  // absent before it existed: resolved forms unchanged
    if (o.noise.saturation_low) noise["saturation_low"] = *o.noise.saturation_low;
    if (o.noise.saturation_high) noise["saturation_high"] = *o.noise.saturation_high;
    obs.push_back({{"name", o.name},
                   {o.derived_index >= 0 ? "feature" : "expression", o.expression},
                   {"units", o.units},
                   {"sample_interval", o.sample_interval},
                   {"noise", noise}});
  }
  j["observations"] = obs;
  nlohmann::ordered_json labels = nlohmann::ordered_json::array();
  for (const auto& l : s.labels) {
    if (l.kind == LabelSpec::Kind::kEventTime)
      labels.push_back({{"name", l.name}, {"event", l.event}, {"units", l.units}});
    else if (l.kind == LabelSpec::Kind::kInitialRate)
      labels.push_back({{"name", l.name}, {"initial_rate", l.source}, {"from", l.from}, {"window", l.window}});
    else
      labels.push_back({{"name", l.name}, {"expression", l.expression}, {"at", "end"}, {"units", l.units}});
  }
  for (const auto& r : s.record_labels) {
    if (r.kind == RecordLabelSpec::Kind::kRemainingTime) {
      nlohmann::ordered_json item = {{"name", r.name}, {"remaining_until", r.event}, {"units", r.units}};
      if (r.clip) item["clip"] = *r.clip;
      labels.push_back(item);
    } else {
      labels.push_back({{"name", r.name}, {"expression", r.expression}, {"per", "record"}, {"units", r.units}});
    }
  }
  j["labels"] = labels;
  nlohmann::ordered_json formats = nlohmann::ordered_json::array();
  for (auto f : s.output.formats) formats.push_back(format_name(f));
  if (s.regimes.present)
    j["regimes"] = {{"parameters", s.regimes.parameters},
                    {"conditions", s.regimes.conditions},
                    {"weights", s.regimes.weights},
                    {"every", s.regimes.every}};
  if (s.field.present) {
    nlohmann::ordered_json fp = nlohmann::ordered_json::object();
    for (const auto& p : s.field.parameters)
      fp[p.name] = {{"mean", p.options.mean},
                    {"sd", p.options.sd},
                    {"correlation_length_m", p.options.correlation_length_m},
                    {"covariance",
                     p.options.covariance == core::FieldOptions::Covariance::kExponential ? "exponential" : "gaussian"},
                    {"low", std::isfinite(p.low) ? nlohmann::ordered_json(p.low) : nlohmann::ordered_json(nullptr)},
                    {"high", std::isfinite(p.high) ? nlohmann::ordered_json(p.high) : nlohmann::ordered_json(nullptr)}};
    j["field"] = {
        {"rows", s.field.rows}, {"cols", s.field.cols}, {"cell_size_m", s.field.cell_size_m}, {"parameters", fp}};
  }
  if (s.feed.present)
    j["feed"] = {{"channels", s.feed.channels},
                 {"target", s.feed.target},
                 {"window", s.feed.window},
                 {"stride", s.feed.stride},
                 {"batch_size", s.feed.batch_size},
                 {"split", {{"validation", s.feed.validation_fraction}, {"test", s.feed.test_fraction}}},
                 {"cmapss", {{"settings", s.feed.cmapss_settings}, {"sensors", s.feed.cmapss_sensors}}}};
  nlohmann::ordered_json output = {{"directory", s.output.directory},
                                   {"formats", formats},
                                   {"shard_size", s.output.shard_size},
                                   {"compression", s.output.compression},
                                   {"report",
                                    {{"plots", s.output.report.plots},
                                     {"width", s.output.report.width},
                                     {"height", s.output.report.height},
                                     {"format", s.output.report.format},
                                     {"max_samples", s.output.report.max_samples}}}};
  if (s.output.waveforms.present) output["waveforms"] = {{"every", s.output.waveforms.every}};
  j["output"] = output;
  return j;
}

}  // namespace

namespace {

// Systems up to this many states are "small" for solver.method auto: Rodas5P's dense LU and
// fixed per-step work beat CVODES' generic vectors there (docs/PERFORMANCE.md).
constexpr std::size_t kAutoRosenbrockStates = 16;

// What Rodas5P cannot do yet for this model, first reason first (empty: it can).
std::vector<std::string> rosenbrock_unsupported(const core::Model& model) {
  std::vector<std::string> why;
  if (dynamic_cast<const core::SteppedModel*>(&model)) why.push_back("models that advance themselves (crop models)");
  return why;
}

// solver.method: rosenbrock or ndf is refused where the method cannot follow (said at load,
// never a silently different run); auto picks Rodas5P for a small dense system it supports and
// CVODES otherwise, and says why (and, once the scenario is read, may pick the NDF instead:
// choose_stiff_formula).
void choose_integrator(const ConfigNode& root, const core::Model& model, Scenario& s) {
  const std::vector<std::string> unsupported = rosenbrock_unsupported(model);
  if (s.solver_method == "rosenbrock" || s.solver_method == "ndf") {
    const bool ndf = s.solver_method == "ndf";
    const std::string name = ndf ? "the NDF" : "Rodas5P";
    for (const auto& what : unsupported)
      root["solver"]["method"].error("solver.method: " + s.solver_method + " does not support " + what +
                                     " yet; use method bdf (CVODES) or auto for this scenario");
    if (root["solver"].has("max_order"))
      root["solver"]["max_order"].error("solver.max_order is a CVODES setting (" + name +
                                        (ndf ? " chooses its orders, 1 to 5" : "'s order is 5") +
                                        "); drop it or use method bdf");
    if (s.solver.linear_solver == solvers::LinearSolverKind::kKlu)
      root["solver"]["linear_solver"].error("solver.linear_solver: klu (sparse) is CVODES'; " + name +
                                            " (solver.method: " + s.solver_method +
                                            ") factorises densely; use linear_solver dense or method bdf");
    if (ndf && !s.solver.sensitivity_parameters.empty())
      root["solver"]["method"].error(
          "solver.method: ndf computes no sensitivities, and solver.sensitivities asks for them; use method "
          "rosenbrock, bdf or auto");
    s.solver.method = ndf ? solvers::Method::kNdf : solvers::Method::kRosenbrock;
    s.solver_choice = s.solver_method + ": asked for";
    return;
  }
  if (s.solver_method != "auto") {
    s.solver_choice = s.solver_method + ": asked for";
    return;
  }
  std::string cvodes_because;
  if (!unsupported.empty())
    cvodes_because = "Rodas5P does not support " + unsupported.front() + " yet";
  else if (model.num_states() > kAutoRosenbrockStates)
    cvodes_because = std::to_string(model.num_states()) + " states, more than the " +
                     std::to_string(kAutoRosenbrockStates) + " Rodas5P is chosen for";
  else if (s.solver.linear_solver == solvers::LinearSolverKind::kKlu)
    cvodes_because = "solver.linear_solver: klu (sparse) is CVODES'";
  else if (root.has("solver") && root["solver"].has("max_order"))
    cvodes_because = "solver.max_order is a CVODES setting";
  if (cvodes_because.empty()) {
    s.solver.method = solvers::Method::kRosenbrock;
    s.solver_choice = "auto: Rodas5P, a small dense system (" + std::to_string(model.num_states()) +
                      (model.num_states() == 1 ? " state)" : " states)");
  } else {
    s.solver_choice = "auto: CVODES BDF, " + cvodes_because;
    // A large model whose Jacobian is mostly zeros: KLU, unless the scenario names a linear solver.
    if (!(root.has("solver") && root["solver"].has("linear_solver")) && solvers::sparse_pays(model)) {
      s.solver.linear_solver = solvers::LinearSolverKind::kKlu;
      s.solver_choice += "; KLU (sparse): " + std::to_string(model.jacobian_sparsity().nonzeros()) +
                         " of the Jacobian's " + std::to_string(model.num_states() * model.num_states()) +
                         " entries can be nonzero";
    }
  }
}

}  // namespace

const std::vector<std::string>& report_plot_kinds() {
  static const std::vector<std::string> kinds = {"ensemble",  "parameters", "rul",         "spectra",
                                                 "yield_map", "pinn_error", "calibration", "collapse", "active"};
  return kinds;
}

std::vector<std::string> known_domains() {
  std::vector<std::string> names;
  for (const auto& d : domain_table()) names.push_back(d.name);
  return names;
}

core::ModelBinding domain_binding(const std::string& domain) {
  for (const auto& e : domain_table())
    if (domain == e.name) return e.binding;
  return nullptr;
}

std::optional<Scenario> load_scenario(const std::string& path, const std::vector<std::string>& overrides,
                                      core::Diagnostics& diags, const LoadOptions& options) {
  const std::size_t errors_before = diags.error_count();
  auto root_yaml = core::load_yaml_file(path, diags);
  if (!root_yaml) return std::nullopt;
  core::apply_overrides(*root_yaml, overrides, path, diags);
  if (diags.error_count() > errors_before) return std::nullopt;

  Scenario s;
  s.file = path;
  s.overrides = overrides;
  s.source_sha256 = sha256_file(path);
  auto overridden = std::make_shared<std::vector<std::string>>();
  for (const auto& o : overrides) overridden->push_back(core::override_path(o));
  const ConfigNode root(*root_yaml, "", path, &diags, overridden);
  if (!root.expect_map()) return std::nullopt;
  root.check_keys({"name",   "description", "domain",       "model",  "parameters", "sampling",  "time",
                   "solver", "events",      "observations", "labels", "output",     "regimes",   "feed",
                   "field",  "backend",     "pinn",         "anchor", "population", "provenance"});

  if (root.require("name"))
    if (auto n = root["name"].as_string()) {
      s.name = *n;
      if (n->empty() || *n == "." || *n == ".." || n->find_first_of("/\\ ") != std::string::npos)
        root["name"].error(
            "name must be a folder name without '/', '\\' or spaces (it names the output folder), got '" + *n + "'");
    }
  if (root.has("description"))
    if (auto d = root["description"].as_string()) s.description = *d;

  // Domain and model.
  core::ModelBinding binding = nullptr;
  if (root.require("domain"))
    if (auto d = root["domain"].as_enum(known_domains())) {
      s.domain = *d;
      binding = domain_binding(*d);
    }
  if (binding && root.require("model")) {
    // A user-defined model (`equations:`) can stand in any domain.
    if (domains::equations::is_equation_model(root["model"])) binding = &domains::equations::build_from_yaml;
    if (auto built = binding(root["model"])) s.model = std::move(*built);
  }
  const core::Model* model = s.model.model.get();
  const auto* stepped = dynamic_cast<const core::SteppedModel*>(model);
  if (model && root.has("field")) read_field(root["field"], s);

  // Parameters: every name the model refers to must be defined; nothing else may be.
  if (model) {
    const ConfigNode params = root["parameters"];
    std::set<std::string> defined;
    if (params.defined() && params.expect_map()) {
      std::vector<std::string> referenced;
      for (std::size_t k = 0; k < model->num_parameters(); ++k)
        if (!s.model.parameters[k].literal || s.model.parameters[k].overridable)
          referenced.push_back(model->parameters()[k].name);
      for (const auto& key : params.keys()) {
        defined.insert(key);
        if (std::find(referenced.begin(), referenced.end(), key) == referenced.end()) {
          std::string msg = "parameter '" + key + "' is not used by the model";
          const std::string hint = core::closest_match(key, referenced);
          if (!hint.empty())
            msg += "; did you mean '" + hint + "'?";
          else if (!referenced.empty())
            msg += "; the model uses " + core::join(referenced);
          params[key].error(msg);
        }
      }
    }
    s.parameters.resize(model->num_parameters());
    for (std::size_t k = 0; k < model->num_parameters(); ++k) {
      ParameterSpec& spec = s.parameters[k];
      spec.name = model->parameters()[k].name;
      spec.units = model->parameters()[k].units;
      spec.description = model->parameters()[k].description;
      const core::ModelParameterRef& ref = s.model.parameters[k];
      const auto on_field = std::find_if(s.field.parameters.begin(), s.field.parameters.end(),
                                         [&](const FieldParameterSpec& f) { return f.name == spec.name; });
      if (on_field != s.field.parameters.end()) {
        if (defined.count(spec.name))
          params[spec.name].error("parameter '" + spec.name +
                                  "' varies over the field (field.parameters); define it in one place");
        spec.distribution = core::Distribution::fixed(on_field->options.mean);  // replaced plot by plot
        spec.description = spec.description.empty() ? "varies over the field" : spec.description;
        continue;
      }
      if (ref.literal && !(ref.overridable && defined.count(spec.name))) {
        spec.distribution = core::Distribution::fixed(*ref.literal);
        continue;
      }
      if (!defined.count(spec.name) && set_by_regimes(root, spec.name)) {
        // Its value comes from the operating condition in force; this one is never read.
        spec.distribution = core::Distribution::fixed(0.0);
        spec.description = spec.description.empty() ? "set by regimes" : spec.description;
        continue;
      }
      if (!defined.count(spec.name)) {
        std::vector<std::string> candidates(defined.begin(), defined.end());
        std::string hint = core::closest_match(spec.name, candidates);
        if (hint.empty()) hint = ref.did_you_mean;
        diags.error(ref.referenced_at, ref.referenced_by + " refers to parameter '" + spec.name +
                                           "', which is not defined in parameters" +
                                           (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
        continue;
      }
      const ConfigNode pn = params[spec.name];
      if (auto d = read_distribution(pn)) spec.distribution = *d;
      if (pn.is_map()) {
        if (pn.has("units"))
          if (auto u = pn["units"].as_string()) spec.units = *u;
        if (pn.has("description"))
          if (auto u = pn["description"].as_string()) spec.description = *u;
      }
    }
  }

  // Sampling.
  if (root.has("sampling")) {
    const ConfigNode smp = root["sampling"];
    if (smp.expect_map()) {
      smp.check_keys({"design", "samples", "seed", "condition", "method", "level_probability", "samples_per_level",
                      "max_levels"});
      if (smp.has("design"))
        if (auto d = smp["design"].as_enum({"random", "latin_hypercube", "sobol"}))
          s.design = *d == "random"  ? core::Design::kRandom
                     : *d == "sobol" ? core::Design::kSobol
                                     : core::Design::kLatinHypercube;
      if (s.field.present ? smp.has("samples") : smp.require("samples"))
        if (auto n = smp["samples"].as_integer()) {
          if (*n < 1)
            smp["samples"].error(smp["samples"].path() + " must be >= 1, got " + num_text(smp["samples"]));
          else
            s.samples = static_cast<std::uint64_t>(*n);
        }
      if (smp.has("seed"))
        if (auto n = smp["seed"].as_integer()) {
          if (*n < 0)
            smp["seed"].error(smp["seed"].path() + " must be >= 0, got " + num_text(smp["seed"]));
          else
            s.seed = static_cast<std::uint64_t>(*n);
        }
    }
  } else if (!s.field.present) {
    root.error("missing required key 'sampling' in the scenario (at least sampling.samples)");
  }
  if (s.field.present && s.field.rows > 0 && s.field.cols > 0) {
    const auto plots = static_cast<std::uint64_t>(s.field.rows) * static_cast<std::uint64_t>(s.field.cols);
    if (root.has("sampling") && root["sampling"].has("samples") && s.samples != plots)
      root["sampling"]["samples"].error("sampling.samples (" + std::to_string(s.samples) +
                                        ") must equal the field's plots, rows x cols = " + std::to_string(plots) +
                                        ", or be left out");
    s.samples = plots;
  }

  // Time grid.
  if (root.require("time")) read_time(root["time"], s);

  // Solver.
  if (stepped) {
    // A model that advances itself: no CVODE options, no root-finding events, whole time steps.
    const std::string why =
        "model '" + stepped->name() + "' advances itself with its own scheme (set in the model section)";
    if (root.has("solver")) root["solver"].error("solver: " + why + "; it takes no solver options");
    if (root.has("events")) root["events"].error("events: " + why + "; events need an ODE model's root finding");
    if (root.has("regimes")) root["regimes"].error("regimes: " + why + "; regimes need an ODE model");
    const double step = stepped->time_step();
    for (std::size_t i = 0; i < s.times.size(); ++i)
      if (!whole_steps(s.times[i], step) || s.times[i] < 0.0) {
        root["time"].error("time: model '" + stepped->name() + "' reports whole steps of " + format_number(step) + " " +
                           s.time_units + " from its start (t >= 0); time " + format_number(s.times[i]) +
                           " is not one");
        break;
      }
  } else if (model && root.has("solver")) {
    read_solver(root["solver"], *model, s.solver, &s.solver_method);
  }
  if (model) {
    // The options' own check, for constraints only visible in combination.
    if (s.solver.method == solvers::Method::kAdams && root.has("solver") && root["solver"].has("linear_solver"))
      root["solver"]["linear_solver"].warning(
          "solver.linear_solver is ignored with method 'adams' (fixed-point iteration)");
  }

  // Events.
  std::set<std::string> event_names;
  if (model && root.has("events") && root["events"].expect_sequence()) {
    const ConfigNode list = root["events"];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode ev = list[i];
      if (!ev.expect_map()) continue;
      ev.check_keys({"name", "state", "expression", "threshold", "direction", "action"});
      EventSpec e;
      e.name = read_name(ev, event_names, "event");
      if (ev.has("state") == ev.has("expression")) {
        ev.error(ev.path() + " needs exactly one of 'state' or 'expression'");
      } else if (ev.has("expression")) {
        if (auto ex = ev["expression"].as_string())
          if (check_expression(ev["expression"], *ex, expression_variables(*model))) e.expression = *ex;
      } else if (auto st = ev["state"].as_string()) {
        e.state = *st;
        e.state_index = model->state_index(*st);
        if (e.state_index < 0) unknown_state(ev["state"], *st, *model);
      }
      if (ev.require("threshold"))
        if (auto v = ev["threshold"].as_number()) e.threshold = *v;
      if (ev.has("direction"))
        if (auto d = ev["direction"].as_enum({"rising", "falling", "either"}))
          e.direction = *d == "rising" ? 1 : *d == "falling" ? -1 : 0;
      if (ev.has("action"))
        if (auto a = ev["action"].as_enum({"stop", "record"}))
          e.action = *a == "stop" ? EventSpec::Action::kStop : EventSpec::Action::kRecord;
      s.events.push_back(e);
    }
  }

  // Observations.
  std::set<std::string> output_names = model ? reserved_output_names(*model) : std::set<std::string>{};
  for (const auto& p : s.parameters) output_names.insert(p.name);
  const std::vector<std::string> variables = model ? expression_variables(*model) : std::vector<std::string>{};
  if (model && root.has("observations") && root["observations"].expect_sequence()) {
    const ConfigNode list = root["observations"];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode ob = list[i];
      if (!ob.expect_map()) continue;
      ob.check_keys({"name", "state", "expression", "feature", "units", "sample_interval", "sample_rate", "noise"});
      ObservationSpec o;
      o.name = read_name(ob, output_names, "observation");
      if (ob.has("state") + ob.has("expression") + ob.has("feature") != 1) {
        ob.error(ob.path() + " needs exactly one of 'state', 'expression' or 'feature'");
      } else if (ob.has("feature")) {
        std::vector<std::string> features;
        for (const auto& d : model->derived_channels()) features.push_back(d.name);
        if (auto f = ob["feature"].as_string()) {
          const auto it = std::find(features.begin(), features.end(), *f);
          if (it == features.end()) {
            std::string msg =
                ob["feature"].path() + ": unknown feature '" + *f + "'" +
                (features.empty() ? "; this model computes none" : "; the model computes " + core::join(features));
            const std::string hint = core::closest_match(*f, features);
            if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
            ob["feature"].error(msg);
          } else {
            o.derived_index = static_cast<int>(it - features.begin());
            o.expression = *f;
            o.units = model->derived_channels()[static_cast<std::size_t>(o.derived_index)].units;
          }
        }
      } else if (ob.has("state")) {
        if (auto st = ob["state"].as_string()) {
          if (model->state_index(*st) < 0) unknown_state(ob["state"], *st, *model);
          o.expression = *st;
          if (model->state_index(*st) >= 0) o.units = model->states()[model->state_index(*st)].units;
        }
      } else if (auto ex = ob["expression"].as_string()) {
        if (check_expression(ob["expression"], *ex, variables)) o.expression = *ex;
      }
      if (ob.has("units"))
        if (auto u = ob["units"].as_string()) o.units = *u;
      if (ob.has("sample_interval") && ob.has("sample_rate"))
        ob.error(ob.path() + ": give 'sample_interval' or 'sample_rate', not both");
      if (auto v = number(ob, "sample_interval"))
        if (check_positive(ob, "sample_interval", *v)) o.sample_interval = *v;
      if (auto v = number(ob, "sample_rate"))
        if (check_positive(ob, "sample_rate", *v)) o.sample_interval = 1.0 / *v;
      if (ob.has("noise")) read_noise(ob["noise"], o.noise);
      s.observations.push_back(o);
    }
  }

  // Labels.
  if (model && root.has("labels") && root["labels"].expect_sequence()) {
    const ConfigNode list = root["labels"];
    // The index of the event a label names, or -1 after reporting it.
    auto find_event = [&](const ConfigNode& node, std::string* name) {
      auto ev = node.as_string();
      if (!ev) return -1;
      *name = *ev;
      for (std::size_t k = 0; k < s.events.size(); ++k)
        if (s.events[k].name == *ev) return static_cast<int>(k);
      std::vector<std::string> names;
      for (const auto& e : s.events) names.push_back(e.name);
      node.error(node.path() + ": unknown event '" + *ev + "'" +
                 (names.empty() ? "; the scenario defines no events" : "; events are " + core::join(names)));
      return -1;
    };
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode lb = list[i];
      if (!lb.expect_map()) continue;
      lb.check_keys({"name", "event", "remaining_until", "clip", "expression", "at", "per", "units", "initial_rate",
                     "from", "window"});
      const std::string name = read_name(lb, output_names, "label");
      std::string units;
      if (lb.has("units"))
        if (auto u = lb["units"].as_string()) units = *u;
      const int kinds = lb.has("event") + lb.has("expression") + lb.has("remaining_until") + lb.has("initial_rate");
      for (const char* key : {"from", "window"})
        if (lb.has(key) && !lb.has("initial_rate"))
          lb[key].error(lb[key].path() + " applies only to 'initial_rate' labels");
      bool per_record = false;
      if (lb.has("per"))
        if (auto per = lb["per"].as_enum({"sample", "record"})) per_record = *per == "record";
      if (kinds != 1) {
        lb.error(lb.path() +
                 " needs exactly one of 'event' (its time), 'expression' (a value), 'remaining_until' "
                 "(the time left until an event, at every record) or 'initial_rate' (a slope over a window)");
      } else if (lb.has("initial_rate")) {
        LabelSpec l;
        l.name = name;
        l.kind = LabelSpec::Kind::kInitialRate;
        if (auto src = lb["initial_rate"].as_string()) {
          l.source = *src;
          for (std::size_t c = 0; c < s.observations.size(); ++c)
            if (s.observations[c].name == *src) l.observation_index = static_cast<int>(c);
          if (l.observation_index < 0) l.state_index = model->state_index(*src);
          if (l.observation_index < 0 && l.state_index < 0)
            lb["initial_rate"].error(lb["initial_rate"].path() + ": '" + *src +
                                     "' is neither an observation channel nor a state");
        }
        l.from = s.times.empty() ? 0.0 : s.times.front();
        if (lb.has("from"))
          if (auto f = lb["from"].as_number()) l.from = *f;
        if (lb.require("window"))
          if (auto w = lb["window"].as_number()) {
            if (*w > 0.0)
              l.window = *w;
            else
              lb["window"].error(lb["window"].path() + " must be > 0, got " + lb["window"].scalar());
          }
        l.units = units;
        if (per_record) lb["per"].error(lb["per"].path() + ": an initial rate is one value per sample");
        s.labels.push_back(l);
      } else if (lb.has("remaining_until")) {
        RecordLabelSpec r;
        r.name = name;
        r.units = units.empty() ? s.time_units : units;
        r.kind = RecordLabelSpec::Kind::kRemainingTime;
        r.event_index = find_event(lb["remaining_until"], &r.event);
        if (lb.has("clip"))
          if (auto c = lb["clip"].as_number()) {
            if (*c > 0.0)
              r.clip = *c;
            else
              lb["clip"].error(lb["clip"].path() + " must be > 0, got " + lb["clip"].scalar());
          }
        if (lb.has("per") && !per_record)
          lb["per"].error(lb["per"].path() + ": 'remaining_until' labels are per record");
        s.record_labels.push_back(r);
      } else if (lb.has("expression") && per_record) {
        RecordLabelSpec r;
        r.name = name;
        r.units = units;
        r.kind = RecordLabelSpec::Kind::kExpression;
        if (auto ex = lb["expression"].as_string())
          if (check_expression(lb["expression"], *ex, variables)) r.expression = *ex;
        if (lb.has("at")) lb["at"].error(lb["at"].path() + " applies only to per-sample labels");
        s.record_labels.push_back(r);
      } else {
        LabelSpec l;
        l.name = name;
        l.units = units;
        if (per_record) lb["per"].error(lb["per"].path() + ": an 'event' label is the event's time, once per sample");
        if (lb.has("event")) {
          l.kind = LabelSpec::Kind::kEventTime;
          if (units.empty()) l.units = s.time_units;
          l.event_index = find_event(lb["event"], &l.event);
          if (lb.has("at")) lb["at"].error(lb["at"].path() + " applies only to 'expression' labels");
        } else {
          l.kind = LabelSpec::Kind::kFinalValue;
          if (auto ex = lb["expression"].as_string())
            if (check_expression(lb["expression"], *ex, variables)) l.expression = *ex;
          if (lb.has("at")) lb["at"].as_enum({"end"});
        }
        s.labels.push_back(l);
      }
      if (lb.has("clip") && !lb.has("remaining_until"))
        lb["clip"].error(lb["clip"].path() + " applies only to 'remaining_until' labels");
    }
  }

  // Output.
  s.output.directory = "runs/" + s.name;
  if (root.has("output")) read_output(root["output"], s);

  if (model && root.has("regimes")) read_regimes(root["regimes"], s, root["parameters"]);
  if (model && root.has("feed")) read_feed(root["feed"], s);
  if (root.has("backend"))
    if (auto b = root["backend"].as_enum({"cvode", "pinn"}))
      s.backend = *b == "pinn" ? Backend::kPinn : Backend::kCvode;
  if (model && root.has("pinn")) read_pinn(root["pinn"], s);
  if (model && root.has("anchor")) read_anchor(root["anchor"], s);
  if (model && root.has("population")) read_population_generator(root["population"], s);
  if (model && root.has("sampling")) read_rare_event(root["sampling"], s);
  if (root.has("provenance")) {
    if (root["provenance"].expect_map()) s.provenance = yaml_to_json(root["provenance"].yaml());
  }
  if (model && s.backend == Backend::kPinn) check_pinn_backend(root, s, options.untrained_network_is_note);
  if (model) choose_integrator(root, *model, s);

  // Observation grids must fit in the time span.
  if (!s.times.empty())
    for (std::size_t i = 0; i < s.observations.size(); ++i) {
      const double span = s.times.back() - s.times.front();
      if (s.observations[i].sample_interval > span && span > 0.0)
        root["observations"][i].error("observations[" + std::to_string(i) + "]: sample_interval (" +
                                      format_number(s.observations[i].sample_interval) +
                                      ") is longer than the time span (" + format_number(span) + ")");
      else if (span > 0.0 && s.observations[i].sample_interval > 0.0 && span / s.observations[i].sample_interval > 1e7)
        root["observations"][i].error("observations[" + std::to_string(i) + "]: sample_interval (" +
                                      format_number(s.observations[i].sample_interval) +
                                      ") gives more than 1e7 readings per sample");
    }

  if (stepped)
    for (std::size_t i = 0; i < s.observations.size(); ++i) {
      const double dt = s.observations[i].sample_interval, step = stepped->time_step();
      if (dt > 0.0 && !whole_steps(dt, step))
        root["observations"][i]["sample_interval"].error(
            "observations[" + std::to_string(i) + "].sample_interval (" + format_number(dt) +
            ") must be a whole number of the model's steps (" + format_number(step) + ")");
    }

  if (diags.error_count() > errors_before) return std::nullopt;
  if (s.solver_method == "auto" && s.solver.method == solvers::Method::kRosenbrock) {
    const std::string counted = choose_stiff_formula(s);
    if (s.solver.method == solvers::Method::kNdf) {
      const std::size_t n = model->num_states();
      s.solver_choice = "auto: NDF, a small dense system (" + std::to_string(n) + (n == 1 ? " state)" : " states)");
    }
    s.solver_choice += counted;
  }
  s.resolved = resolved_json(s, (*root_yaml)["model"]);
  return s;
}

}  // namespace physynth::engine
