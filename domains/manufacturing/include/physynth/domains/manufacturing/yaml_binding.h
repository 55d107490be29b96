// The manufacturing domain's `model` section (schema in docs/scenarios.md):
//
//   model:
//     type: tool_wear          # or bearing
//     feed: 0.25               # any model parameter: a number (replacing its default) ...
//     wear_rate: k_material    # ... or the name of a scenario parameter
//     geometry: {rolling_elements: 9, ball_diameter: 7.94, pitch_diameter: 39.04, contact_angle_deg: 0}  # bearing
//
// Every parameter not written keeps its default (`defaults_for`), which a
// `parameters` entry of the same name may replace with a distribution.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "physynth/core/model_binding.h"

namespace physynth::domains::manufacturing {

std::optional<core::BuiltModel> build_from_yaml(const core::ConfigNode& model);

// Default parameter values of a model type ("tool_wear", "bearing"), in the
// order of the model's parameters().
std::vector<double> defaults_for(const std::string& type);

}  // namespace physynth::domains::manufacturing
