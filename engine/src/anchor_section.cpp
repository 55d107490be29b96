// The scenario's `anchor:` section: which real observables map to which channels, which
// parameters are fitted, and (optionally) the population model of a mixed-effects fit.
#include <algorithm>
#include <limits>
#include <set>

#include "physynth/core/text.h"
#include "scenario_readers.h"

namespace physynth::engine::detail {


void read_anchor(const ConfigNode& node, Scenario& s) {
  if (!node.expect_map()) return;
  AnchorSpec& a = s.anchor;
  a.present = true;
  const core::Model& model = *s.model.model;
  node.check_keys({"data", "observables", "fit", "starts", "seed", "max_iterations", "confidence"});
  if (node.has("data"))
    if (auto d = node["data"].as_string()) {
      const std::filesystem::path path(*d);
      a.data = path.is_absolute()
                   ? *d
                   : (std::filesystem::path(node.file()).parent_path() / path).lexically_normal().string();
    }
  std::vector<std::string> channels;
  for (const auto& o : s.observations) channels.push_back(o.name);
  for (const auto& st : model.states()) channels.push_back(st.name);
  if (node.require("observables") && node["observables"].expect_sequence()) {
    const ConfigNode list = node["observables"];
    std::set<std::string> used;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode ob = list[i];
      if (!ob.expect_map()) continue;
      ob.check_keys({"name", "observation", "noise", "sigma"});
      AnchorObservableSpec o;
      if (!ob.require("name")) continue;
      if (auto n = ob["name"].as_string()) {
        o.name = *n;
        if (!used.insert(*n).second) ob["name"].error(ob["name"].path() + ": observable '" + *n + "' is mapped twice");
      }
      o.observation = o.name;
      if (ob.has("observation"))
        if (auto n = ob["observation"].as_string()) o.observation = *n;
      const ConfigNode where = ob.has("observation") ? ob["observation"] : ob["name"];
      for (std::size_t k = 0; k < s.observations.size(); ++k)
        if (s.observations[k].name == o.observation) o.observation_index = static_cast<int>(k);
      if (o.observation_index < 0) o.state_index = model.state_index(o.observation);
      if (o.observation_index >= 0) {
        const auto& spec = s.observations[static_cast<std::size_t>(o.observation_index)];
        o.units = spec.units;
        if (spec.derived_index >= 0 && !model.derived_is_deterministic(static_cast<std::size_t>(spec.derived_index)))
          where.error(where.path() + ": observation '" + o.observation +
                      "' is a random model feature (a new draw at each reading), which calibration cannot "
                      "differentiate; map an expression, a state or a user model's definition");
      } else if (o.state_index >= 0) {
        o.units = model.states()[static_cast<std::size_t>(o.state_index)].units;
      } else {
        std::string msg = where.path() + ": '" + o.observation + "' is neither an observation nor a state; they are " +
                          core::join(channels);
        const std::string hint = core::closest_match(o.observation, channels);
        if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
        where.error(msg);
      }
      if (ob.has("noise"))
        if (auto k = ob["noise"].as_enum({"additive", "proportional", "log_normal"}))
          o.noise = *k == "additive"       ? anchor::NoiseKind::kAdditive
                    : *k == "proportional" ? anchor::NoiseKind::kProportional
                                           : anchor::NoiseKind::kLogNormal;
      read_real(ob, "sigma", 0.0, 1e300, o.sigma);
      a.observables.push_back(o);
    }
  }
  if (node.require("fit") && node["fit"].expect_sequence()) {
    const ConfigNode list = node["fit"];
    std::vector<std::string> named;  // parameters the scenario defines
    for (const auto& p : s.parameters)
      if (core::is_identifier(p.name)) named.push_back(p.name);
    std::set<std::string> used;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode item = list[i];
      AnchorFitSpec f;
      if (item.is_map()) {
        item.check_keys({"parameter", "low", "high", "log", "per_unit"});
        if (!item.require("parameter")) continue;
      }
      // (a ConfigNode is not reassigned: yaml-cpp's Node assignment would overwrite the node it refers to)
      const ConfigNode name_node = item.is_map() ? item["parameter"] : item;
      auto n = name_node.as_string();
      if (!n) continue;
      f.parameter = *n;
      const auto it =
          std::find_if(s.parameters.begin(), s.parameters.end(), [&](const ParameterSpec& p) { return p.name == *n; });
      if (it == s.parameters.end()) {
        std::string msg =
            name_node.path() + ": unknown parameter '" + *n + "'; the scenario's parameters are " + core::join(named);
        const std::string hint = core::closest_match(*n, named);
        if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
        name_node.error(msg);
        continue;
      }
      if (!used.insert(*n).second) {
        name_node.error(name_node.path() + ": parameter '" + *n + "' is fitted twice");
        continue;
      }
      f.index = model.parameter_index(*n);
      const bool prior = !it->distribution.is_fixed();
      bool have_low = false, have_high = false;
      std::tie(f.low, f.high) = it->distribution.covered();
      if (item.is_map()) {
        if (auto v = number(item, "low")) f.low = *v, have_low = true;
        if (auto v = number(item, "high")) f.high = *v, have_high = true;
        read_flag(item, "per_unit", f.per_unit);
      }
      if (!prior && !(have_low && have_high)) {
        item.error(item.path() + ": parameter '" + *n + "' has a fixed value (" + it->distribution.describe() +
                   "), so its fit needs 'low' and 'high'");
        continue;
      }
      if (!(f.low < f.high)) {
        item.error(item.path() + ": parameter '" + *n + "' needs low < high, got [" + format_number(f.low) + ", " +
                   format_number(f.high) + "]");
        continue;
      }
      f.log = f.low > 0.0;
      if (item.is_map() && item.has("log")) {
        read_flag(item, "log", f.log);
        if (f.log && !(f.low > 0.0))
          item["log"].error(item["log"].path() + ": parameter '" + *n +
                            "' is fitted in ln only with low > 0, got low " + format_number(f.low));
      }
      const double median = it->distribution.quantile(0.5);
      f.start =
          median >= f.low && median <= f.high ? median : (f.log ? std::sqrt(f.low * f.high) : 0.5 * (f.low + f.high));
      a.fit.push_back(f);
    }
  }
  read_int(node, "starts", 1, 100000, a.options.starts);
  read_int(node, "seed", 0, std::numeric_limits<long long>::max(), a.options.seed);
  read_int(node, "max_iterations", 1, 100000000, a.options.max_iterations);
  read_real(node, "confidence", 0.0, 1.0, a.options.confidence);
}

}  // namespace physynth::engine::detail
