// Readers shared by the scenario's sections (internal to physynth::engine): typed keys with
// range checks that report at the key's file:line:column, and the section readers that live in
// their own files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "physynth/core/config.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine::detail {

// solver.method auto where Rodas5P can run the scenario: solves its first samples with Rodas5P
// and the NDF, switches s.solver.method to kNdf where that needs at most 0.8 of the work, and
// returns the count for solver_choice (empty where no pilot ran: sensitivities, no samples).
// integrator_pilot.cpp.
std::string choose_stiff_formula(Scenario& s);

using core::ConfigNode;
using core::format_number;

inline std::string num_text(const ConfigNode& n) { return n.is_scalar() ? n.scalar() : n.describe(); }

// Reads key as a number; reports and returns nullopt on a wrong type.
inline std::optional<double> number(const ConfigNode& parent, const std::string& key) {
  if (!parent.has(key)) return std::nullopt;
  return parent[key].as_number();
}

// An integer key in [low, high]; reports and leaves `out` unchanged otherwise.
template <class Int>
void read_int(const ConfigNode& node, const std::string& key, long long low, long long high, Int& out) {
  if (!node.has(key)) return;
  if (auto v = node[key].as_integer()) {
    if (*v < low || *v > high)
      node[key].error(node[key].path() + " must be between " + std::to_string(low) + " and " + std::to_string(high) +
                      ", got " + num_text(node[key]));
    else
      out = static_cast<Int>(*v);
  }
}

// A number key in (low, high] (or [low, high] when closed); reports otherwise.
inline void read_real(const ConfigNode& node, const std::string& key, double low, double high, double& out,
                      bool closed = false) {
  if (!node.has(key)) return;
  if (auto v = node[key].as_number()) {
    if (!(closed ? *v >= low : *v > low) || !(*v <= high))
      node[key].error(node[key].path() + " must be " + (closed ? "in [" : "in (") + format_number(low) + ", " +
                      format_number(high) + "], got " + num_text(node[key]));
    else
      out = *v;
  }
}

inline void read_flag(const ConfigNode& node, const std::string& key, bool& out) {
  if (node.has(key))
    if (auto v = node[key].as_bool()) out = *v;
}

// Names in `list` must be among `valid` (what they are: "observation", "parameter"); at most
// `at_most` of them. Reports unknown names with "did you mean".
std::vector<std::string> read_names(const ConfigNode& list, const std::vector<std::string>& valid,
                                    const std::string& what, std::size_t at_most);

// output: (output_section.cpp), after the model and observations are read.
void read_output(const ConfigNode& node, Scenario& s);

// anchor: (anchor_section.cpp), after the model, parameters and observations are read.
void read_anchor(const ConfigNode& node, Scenario& s);
void read_population_generator(const ConfigNode& node, Scenario& s);

// sampling.condition (rare_event_section.cpp), after the labels and the field are read.
void read_rare_event(const ConfigNode& sampling, Scenario& s);

}  // namespace physynth::engine::detail
