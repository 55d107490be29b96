// The scenario's `anchor:` section: which real observables map to which channels, which
// parameters are fitted, and (optionally) the population model of a mixed-effects fit.
#include <algorithm>
#include <limits>
#include <set>

#include "physynth/core/text.h"
#include "scenario_readers.h"

namespace physynth::engine::detail {


namespace {

// anchor.population: {covariance: diagonal|full, group: PARAM, per_group: [fitted...],
//                     covariates: [{parameter: FITTED_PER_UNIT, covariate: PARAM, log: bool, reference: x}]}
void read_population(const ConfigNode& node, Scenario& s) {
  if (!node.expect_map()) return;
  node.check_keys({"covariance", "group", "per_group", "covariates"});
  AnchorPopulationSpec& p = s.anchor.population;
  p.present = true;
  const core::Model& model = *s.model.model;
  std::vector<std::string> per_unit, fitted, names;
  for (const auto& f : s.anchor.fit) {
    fitted.push_back(f.parameter);
    if (f.per_unit) per_unit.push_back(f.parameter);
  }
  for (const auto& q : s.parameters)
    if (core::is_identifier(q.name)) names.push_back(q.name);
  if (per_unit.empty())
    node.error(node.path() + ": a population fit needs at least one parameter in anchor.fit with per_unit: true");
  for (const auto& o : s.anchor.observables)
    if (o.noise == anchor::NoiseKind::kCombined)
      node.error(node.path() + ": a population fit takes additive, proportional or log_normal noise; observable '" +
                 o.name + "' has combined noise (not yet supported there)");
  if (node.has("covariance"))
    if (auto k = node["covariance"].as_enum({"diagonal", "full"})) p.full_covariance = *k == "full";
  const auto known = [&](const ConfigNode& at, const std::string& name, const std::vector<std::string>& among,
                         const std::string& what) {
    if (std::find(among.begin(), among.end(), name) != among.end()) return true;
    std::string msg = at.path() + ": '" + name + "' is not " + what + "; they are " + core::join(among);
    const std::string hint = core::closest_match(name, among);
    if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
    at.error(msg);
    return false;
  };
  if (node.has("group"))
    if (auto g = node["group"].as_string())
      if (known(node["group"], *g, names, "a scenario parameter (its covariate column names each unit's group)")) {
        if (std::find(fitted.begin(), fitted.end(), *g) != fitted.end())
          node["group"].error(node["group"].path() + ": '" + *g + "' is fitted; a group is known per unit");
        p.group = *g;
      }
  if (node.has("per_group") && node["per_group"].expect_sequence()) {
    const ConfigNode list = node["per_group"];
    for (std::size_t i = 0; i < list.size(); ++i)
      if (auto n = list[i].as_string())
        if (known(list[i], *n, fitted, "a fitted parameter")) p.per_group.push_back(*n);
    if (p.group.empty() && !p.per_group.empty())
      node["per_group"].error(node["per_group"].path() + " needs population.group: the parameter whose value names a unit's group");
  }
  if (node.has("covariates") && node["covariates"].expect_sequence()) {
    const ConfigNode list = node["covariates"];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode c = list[i];
      if (!c.expect_map()) continue;
      c.check_keys({"parameter", "covariate", "log", "reference"});
      anchor::CovariateEffect e;
      e.reference = std::numeric_limits<double>::quiet_NaN();
      if (!c.require("parameter") || !c.require("covariate")) continue;
      auto pn = c["parameter"].as_string();
      auto cn = c["covariate"].as_string();
      if (!pn || !cn) continue;
      if (!known(c["parameter"], *pn, per_unit, "a per-unit fitted parameter")) continue;
      if (!known(c["covariate"], *cn, names, "a scenario parameter")) continue;
      if (std::find(fitted.begin(), fitted.end(), *cn) != fitted.end()) {
        c["covariate"].error(c["covariate"].path() + ": '" + *cn + "' is fitted; a covariate is known per unit");
        continue;
      }
      e.parameter = *pn;
      e.covariate = *cn;
      e.covariate_index = model.parameter_index(*cn);
      read_flag(c, "log", e.log);
      if (auto r = number(c, "reference")) {
        if (e.log && !(*r > 0.0))
          c["reference"].error(c["reference"].path() + " must be > 0 for a log covariate, got " + num_text(c["reference"]));
        e.reference = *r;
      }
      p.covariates.push_back(e);
    }
  }
}

}  // namespace

void read_anchor(const ConfigNode& node, Scenario& s) {
  if (!node.expect_map()) return;
  AnchorSpec& a = s.anchor;
  a.present = true;
  const core::Model& model = *s.model.model;
  node.check_keys({"data", "observables", "fit", "starts", "seed", "max_iterations", "confidence", "population"});
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
      ob.check_keys({"name", "observation", "noise", "sigma", "draws"});
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
        if (auto k = ob["noise"].as_enum({"additive", "proportional", "log_normal", "combined"}))
          o.noise = *k == "additive"       ? anchor::NoiseKind::kAdditive
                    : *k == "proportional" ? anchor::NoiseKind::kProportional
                    : *k == "combined"     ? anchor::NoiseKind::kCombined
                                           : anchor::NoiseKind::kLogNormal;
      read_real(ob, "sigma", 0.0, 1e300, o.sigma);
      if (o.noise == anchor::NoiseKind::kCombined && o.sigma > 0.0)
        ob["sigma"].error(ob["sigma"].path() + ": combined noise estimates both of its sigmas (additive and " +
                          "proportional), so it takes no sigma; give each reading its sd, or choose additive or " +
                          "proportional noise with a known sigma");
      read_int(ob, "draws", 1, 1000, o.draws);
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
        item.check_keys({"parameter", "low", "high", "log", "per_unit", "start"});
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
      if (item.is_map() && item.has("start")) {
        if (auto v = number(item, "start")) {
          if (*v >= f.low && *v <= f.high)
            f.start = *v;
          else
            item["start"].error(item["start"].path() + ": start " + format_number(*v) + " of parameter '" + *n +
                                "' is outside its bounds [" + format_number(f.low) + ", " + format_number(f.high) + "]");
        }
      }
      a.fit.push_back(f);
    }
  }
  read_int(node, "starts", 1, 100000, a.options.starts);
  read_int(node, "seed", 0, std::numeric_limits<long long>::max(), a.options.seed);
  read_int(node, "max_iterations", 1, 100000000, a.options.max_iterations);
  read_real(node, "confidence", 0.0, 1.0, a.options.confidence);
  if (node.has("population")) read_population(node["population"], s);
}

}  // namespace physynth::engine::detail
