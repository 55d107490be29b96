// The parameters a domain's `model` section refers to, as its YAML binding collects them:
// a literal written in the section becomes a fixed parameter of its own, a name becomes one
// that the scenario's `parameters` section must define (core::ModelParameterRef says which).
// Shared by every binding, with the `schedule:` reader that uses it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "physynth/core/config.h"
#include "physynth/core/model.h"
#include "physynth/core/model_binding.h"

namespace physynth::core {

struct ParameterTable {
  std::vector<VariableInfo> info;
  std::vector<ModelParameterRef> refs;
  std::map<std::string, int> by_name;

  // A parameter the model defines itself, with its default value; a `parameters` entry may replace it.
  void seed(const VariableInfo& parameter, double value, const ConfigNode& node);

  // A value written as a number or a parameter name: returns the parameter index, or -1 after
  // reporting an error. A number becomes a fixed parameter named `literal_name` (checked >= 0,
  // or > 0 when must_be_positive).
  int resolve(const ConfigNode& node, const std::string& literal_name, bool must_be_positive);

  // The parameter called `name` (first referenced at `where`, by `referenced_by`), added if new.
  int named(const std::string& name, const SourceLocation& where, const std::string& referenced_by);
};

// A model section's `schedule:` (changes of the state at given times, as a ScheduledModel
// around `inner`), with its times and values resolved through `params`.
std::shared_ptr<const Model> read_schedule(const ConfigNode& model, std::shared_ptr<const Model> inner,
                                           ParameterTable& params);

}  // namespace physynth::core
