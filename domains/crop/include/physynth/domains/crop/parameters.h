// Named crop, soil and site parameters: numbers, flags and AFGEN tables, each
// remembering where it was read (file and line) so that a missing or malformed
// value gets a message naming the file, the key and what is expected.
//
// Two input formats are read: PCSE's parameter files ("NAME = value" lines,
// "# comments", lists in brackets that may span lines, True/False), and a YAML
// mapping of the same names (the ModelParameters of PCSE's YAML test cases).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "physynth/core/diagnostics.h"
#include "physynth/domains/crop/afgen.h"

namespace physynth::domains::crop {

struct ParameterValue {
  std::vector<double> values;  // one value, or a table's x, y list
  bool is_list = false;
  core::SourceLocation where;
};

class CropParameters {
 public:
  void set(const std::string& name, ParameterValue value) { values_[name] = std::move(value); }
  void set_number(const std::string& name, double v) { values_[name] = ParameterValue{{v}, false, {"(set)", 0, 0}}; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // Adds every parameter of `other`, replacing those of the same name.
  void merge(const CropParameters& other);
  const std::map<std::string, ParameterValue>& values() const { return values_; }

  // Accessors used while building a model; each problem becomes one error in `diags`
  // (what is missing or wrong, for which model) and a harmless default is returned.
  double number(const std::string& name, const std::string& model, core::Diagnostics& diags) const;
  bool flag(const std::string& name, const std::string& model, core::Diagnostics& diags) const;
  Afgen table(const std::string& name, const std::string& model, core::Diagnostics& diags) const;

  std::string description;  // the files the values came from, for messages

 private:
  std::map<std::string, ParameterValue> values_;
};

// A PCSE parameter file (.crop, .soil, .site).
std::optional<CropParameters> read_pcse_parameter_file(const std::string& path, core::Diagnostics& diags);

// A YAML mapping from names to numbers or lists of numbers; `file` names the source in messages.
std::optional<CropParameters> parameters_from_yaml(const YAML::Node& node, const std::string& file,
                                                   core::Diagnostics& diags);

}  // namespace physynth::domains::crop
