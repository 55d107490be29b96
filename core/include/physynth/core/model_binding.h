// What a domain's YAML binding hands the engine: the model, and for each of its
// parameters either a literal value written in the model section or the name
// the scenario's `parameters` section must define, with where it was referenced.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "physynth/core/config.h"
#include "physynth/core/diagnostics.h"
#include "physynth/core/model.h"

namespace physynth::core {

struct ModelParameterRef {
  std::optional<double> literal;  // set when the model section wrote a number, or for a default
  bool overridable = false;       // the literal is a default that the `parameters` section may replace
  SourceLocation referenced_at;   // first reference, for "not defined" errors
  std::string referenced_by;      // key path of that reference
  std::string did_you_mean;       // a model symbol the name may be a typo of (a state, a definition), or ""
};

struct BuiltModel {
  std::shared_ptr<const Model> model;
  std::vector<ModelParameterRef> parameters;  // aligned with model->parameters()
};

// A domain binding reads the scenario's `model` section. It reports every
// problem to node.diagnostics() and returns nullopt if the model cannot be built.
using ModelBinding = std::optional<BuiltModel> (*)(const ConfigNode& model_node);

}  // namespace physynth::core
