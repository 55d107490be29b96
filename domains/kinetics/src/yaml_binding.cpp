#include "physynth/domains/kinetics/yaml_binding.h"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "physynth/core/parameter_table.h"
#include "physynth/domains/kinetics/reaction_network.h"
#include "physynth/domains/kinetics/sbml_model.h"

namespace physynth::domains::kinetics {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool parse_side(const std::string& side, std::vector<std::pair<std::string, int>>& out, std::string* error) {
  const std::string t = trim(side);
  if (t.empty() || t == "0" || t == "\xE2\x88\x85" /* ∅ */) return true;
  std::size_t start = 0;
  while (start <= t.size()) {
    std::size_t plus = t.find('+', start);
    if (plus == std::string::npos) plus = t.size();
    std::string term = trim(t.substr(start, plus - start));
    if (term.empty()) {
      *error = "empty term";
      return false;
    }
    int coefficient = 1;
    std::size_t i = 0;
    while (i < term.size() && std::isdigit(static_cast<unsigned char>(term[i]))) ++i;
    if (i > 0) {
      // At most 4 digits: no reaction has a coefficient in the thousands, and the sums of
      // merged terms stay far from overflowing (found by fuzzing: std::stoi threw).
      const std::string digits = term.substr(0, i);
      coefficient = i <= 4 ? std::stoi(digits) : 0;
      term = trim(term.substr(i));
      if (coefficient <= 0 || coefficient > 1000) {
        *error = "stoichiometric coefficient '" + (digits.size() > 12 ? digits.substr(0, 12) + "..." : digits) +
                 "' must be an integer from 1 to 1000";
        return false;
      }
    }
    if (!core::is_identifier(term)) {
      *error = "'" + term + "' is not a species name (letters, digits and '_', not starting with a digit)";
      return false;
    }
    bool merged = false;
    for (auto& existing : out)
      if (existing.first == term) {
        existing.second += coefficient;
        merged = true;
      }
    if (!merged) out.emplace_back(term, coefficient);
    start = plus + 1;
    if (plus == t.size()) break;
  }
  return true;
}

}  // namespace

std::optional<ParsedEquation> parse_equation(const std::string& text, std::string* error) {
  static const std::vector<std::pair<std::string, bool>> arrows = {
      {"<->", true}, {"<=>", true}, {"->", false}, {"=>", false}};
  ParsedEquation eq;
  std::size_t at = std::string::npos, len = 0;
  for (const auto& [arrow, reversible] : arrows) {
    const std::size_t pos = text.find(arrow);
    if (pos != std::string::npos) {
      at = pos;
      len = arrow.size();
      eq.reversible = reversible;
      break;
    }
  }
  if (at == std::string::npos) {
    *error = "no reaction arrow; write '->' (irreversible) or '<->' (reversible)";
    return std::nullopt;
  }
  const std::string rest = text.substr(at + len);
  if (rest.find("->") != std::string::npos || rest.find("=>") != std::string::npos) {
    *error = "more than one reaction arrow";
    return std::nullopt;
  }
  std::string side_error;
  if (!parse_side(text.substr(0, at), eq.reactants, &side_error) || !parse_side(rest, eq.products, &side_error)) {
    *error = side_error;
    return std::nullopt;
  }
  if (eq.reactants.empty() && eq.products.empty()) {
    *error = "a reaction needs at least one species";
    return std::nullopt;
  }
  return eq;
}

namespace {

// `sbml: FILE` (relative to the scenario), with `units: strict`, `warn` (default) or `ignore`.
std::shared_ptr<SbmlModel> read_sbml(const core::ConfigNode& model, core::ParameterTable& params) {
  for (const char* key : {"species", "reactions"})
    if (model.has(key))
      model[key].error(model[key].path() + ": the model comes from the SBML file; drop '" + key + "'");
  SbmlOptions options;
  if (model.has("units"))
    if (auto u = model["units"].as_enum({"strict", "warn", "ignore"}))
      options.units = *u == "strict" ? UnitPolicy::kStrict : *u == "warn" ? UnitPolicy::kWarn : UnitPolicy::kIgnore;
  const auto text = model["sbml"].as_string();
  if (!text) return nullptr;
  const std::string path = (std::filesystem::path(model.file()).parent_path() / *text).lexically_normal().string();
  if (!std::filesystem::exists(path)) {
    model["sbml"].error(model["sbml"].path() + ": no such file '" + *text + "' (looked for " + path + ")");
    return nullptr;
  }
  auto sbml = SbmlModel::read_file(path, model.diagnostics(), options);
  if (!sbml) {
    model["sbml"].error(model["sbml"].path() + ": the SBML model '" + *text + "' cannot be used (errors above)");
    return nullptr;
  }
  for (std::size_t k = 0; k < sbml->num_parameters(); ++k)
    params.seed(sbml->parameters()[k], sbml->default_parameters()[k], model["sbml"]);
  return sbml;
}

}  // namespace

std::optional<core::BuiltModel> build_from_yaml(const core::ConfigNode& model) {
  auto& diags = model.diagnostics();
  const std::size_t errors_before = diags.error_count();
  if (!model.expect_map()) return std::nullopt;
  model.check_keys({"name", "species", "reactions", "sbml", "units", "schedule"});
  std::string name = "reaction_network";
  if (model.has("name"))
    if (auto s = model["name"].as_string()) name = *s;

  core::ParameterTable params;
  if (model.has("sbml")) {
    std::shared_ptr<const core::Model> sbml = read_sbml(model, params);
    if (!sbml) return std::nullopt;
    if (model.has("schedule")) sbml = core::read_schedule(model, sbml, params);
    if (diags.error_count() > errors_before) return std::nullopt;
    return core::BuiltModel{sbml, params.refs};
  }
  if (model.has("units")) model["units"].error(model["units"].path() + " applies only to an 'sbml' model");
  std::vector<core::VariableInfo> species;
  std::vector<int> initial_parameter;
  std::vector<char> boundary;
  std::map<std::string, int> species_index;

  if (model.require("species") && model["species"].expect_sequence()) {
    const core::ConfigNode list = model["species"];
    if (list.size() == 0) list.error(list.path() + " must list at least one species");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const core::ConfigNode sp = list[i];
      if (!sp.expect_map()) continue;
      sp.check_keys({"name", "initial", "units", "description", "boundary"});
      char is_boundary = 0;
      if (sp.has("boundary"))
        if (auto b = sp["boundary"].as_bool()) is_boundary = *b ? 1 : 0;
      boundary.push_back(is_boundary);
      core::VariableInfo info;
      if (sp.require("name")) {
        if (auto s = sp["name"].as_string()) {
          if (!core::is_identifier(*s))
            sp["name"].error(sp["name"].path() + " must be a name of letters, digits and '_', got '" + *s + "'");
          else if (species_index.count(*s))
            sp["name"].error("species '" + *s + "' is declared twice");
          info.name = *s;
        }
      }
      if (sp.has("units"))
        if (auto s = sp["units"].as_string()) info.units = *s;
      if (sp.has("description"))
        if (auto s = sp["description"].as_string()) info.description = *s;
      int init = -1;
      if (sp.require("initial")) init = params.resolve(sp["initial"], info.name + ".initial", false);
      if (!info.name.empty() && !species_index.count(info.name))
        species_index[info.name] = static_cast<int>(species.size());
      species.push_back(info);
      initial_parameter.push_back(init);
    }
  }

  std::vector<std::string> species_names;
  for (const auto& s : species) species_names.push_back(s.name);

  std::vector<Reaction> reactions;
  if (model.require("reactions") && model["reactions"].expect_sequence()) {
    const core::ConfigNode list = model["reactions"];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const core::ConfigNode rn = list[i];
      if (!rn.expect_map()) continue;
      Reaction rx;
      rx.name = "r" + std::to_string(i + 1);
      if (rn.has("name"))
        if (auto s = rn["name"].as_string()) rx.name = *s;

      std::string law_name = "mass_action";
      if (rn.has("rate"))
        if (auto s = rn["rate"].as_enum({"mass_action", "michaelis_menten", "hill"})) law_name = *s;
      std::vector<std::string> allowed = {"name", "equation", "rate"};
      if (law_name == "mass_action") {
        rx.law = RateLaw::kMassAction;
        allowed.insert(allowed.end(), {"k", "kf", "kr"});
      } else if (law_name == "michaelis_menten") {
        rx.law = RateLaw::kMichaelisMenten;
        allowed.insert(allowed.end(), {"vmax", "km", "substrate"});
      } else {
        rx.law = RateLaw::kHill;
        allowed.insert(allowed.end(), {"vmax", "k", "n", "substrate"});
      }
      rn.check_keys(allowed);

      bool equation_ok = false;
      if (rn.require("equation"))
        if (auto text = rn["equation"].as_string()) {
          rx.equation = *text;
          std::string error;
          auto eq = parse_equation(*text, &error);
          if (!eq) {
            rn["equation"].error(rn["equation"].path() + ": cannot read '" + *text + "': " + error);
          } else {
            equation_ok = true;
            rx.reversible = eq->reversible;
            auto convert = [&](const std::vector<std::pair<std::string, int>>& side, std::vector<SpeciesTerm>& out) {
              for (const auto& [sp, c] : side) {
                auto it = species_index.find(sp);
                if (it == species_index.end()) {
                  std::string msg = rn["equation"].path() + ": unknown species '" + sp + "' in '" + *text +
                                    "'; species are " + core::join(species_names);
                  const std::string hint = core::closest_match(sp, species_names);
                  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
                  rn["equation"].error(msg);
                  equation_ok = false;
                } else {
                  out.push_back({it->second, c});
                }
              }
            };
            convert(eq->reactants, rx.reactants);
            convert(eq->products, rx.products);
          }
        }

      auto constant = [&](const std::string& key, bool positive) {
        if (!rn.require(key)) return -1;
        return params.resolve(rn[key], rx.name + "." + key, positive);
      };
      switch (rx.law) {
        case RateLaw::kMassAction:
          if (rx.reversible) {
            if (rn.has("k") && !rn.has("kf") && !rn.has("kr")) {
              rn["k"].error(rn.path() + " is reversible ('<->'): give 'kf' and 'kr' instead of 'k'");
              break;
            }
            if (rn.has("k"))
              rn["k"].error(rn.path() + " is reversible ('<->'): 'k' has no meaning next to 'kf' and 'kr'");
            rx.k_forward = constant("kf", false);
            rx.k_reverse = constant("kr", false);
          } else {
            if (rn.has("kr"))
              rn["kr"].error(rn.path() + " is irreversible ('->'): 'kr' has no meaning; use '<->' or drop it");
            const std::string key = rn.has("kf") ? "kf" : "k";
            rx.k_forward = constant(key, false);
          }
          break;
        case RateLaw::kMichaelisMenten:
        case RateLaw::kHill: {
          if (equation_ok && rx.reversible)
            rn["equation"].error(rn["equation"].path() + ": rate '" + law_name +
                                 "' needs an irreversible reaction ('->')");
          rx.vmax = constant("vmax", false);
          rx.km = constant(rx.law == RateLaw::kHill ? "k" : "km", true);
          if (rx.law == RateLaw::kHill) rx.hill_n = constant("n", true);
          if (rn.has("substrate")) {
            if (auto s = rn["substrate"].as_string()) {
              auto it = species_index.find(*s);
              if (it == species_index.end())
                rn["substrate"].error(rn["substrate"].path() + ": unknown species '" + *s + "'; species are " +
                                      core::join(species_names));
              else
                rx.substrate = it->second;
            }
          } else if (equation_ok) {
            if (rx.reactants.size() == 1)
              rx.substrate = rx.reactants[0].species;
            else
              rn.error(rn.path() + ": rate '" + law_name +
                       "' needs 'substrate' when the reaction does not have exactly one reactant");
          }
          break;
        }
      }
      reactions.push_back(std::move(rx));
    }
  }

  if (diags.error_count() > errors_before) return std::nullopt;
  std::shared_ptr<const core::Model> network =
      std::make_shared<ReactionNetwork>(name, species, initial_parameter, params.info, reactions, boundary);
  if (model.has("schedule")) network = core::read_schedule(model, network, params);
  if (diags.error_count() > errors_before) return std::nullopt;
  return core::BuiltModel{network, params.refs};
}

}  // namespace physynth::domains::kinetics
