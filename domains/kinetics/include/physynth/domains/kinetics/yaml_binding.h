// The kinetics domain's `model` section (schema in docs/scenarios.md):
//
//   model:
//     species:
//       - {name: E, initial: E0, units: uM}      # initial: a number or a parameter name
//     reactions:
//       - {name: binding, equation: "E + S <-> ES", rate: mass_action, kf: kon, kr: koff}
//       - {equation: "ES -> E + P", rate: mass_action, k: kcat}
//       - {equation: "S -> P", rate: michaelis_menten, vmax: Vmax, km: Km}
//       - {equation: "S -> P", rate: hill, vmax: Vmax, k: K, n: nH}
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "physynth/core/model_binding.h"

namespace physynth::domains::kinetics {

struct ParsedEquation {
  std::vector<std::pair<std::string, int>> reactants;  // (species, coefficient)
  std::vector<std::pair<std::string, int>> products;
  bool reversible = false;
};

// Parses "2 A + B <-> C", "A -> ", "-> A" (empty side: no species; "0" also
// reads as none). Arrows: "->", "=>" (irreversible), "<->", "<=>" (reversible).
// On failure returns nullopt and sets *error.
std::optional<ParsedEquation> parse_equation(const std::string& text, std::string* error);

// The `model` binding for `domain: kinetics`.
std::optional<core::BuiltModel> build_from_yaml(const core::ConfigNode& model);

}  // namespace physynth::domains::kinetics
