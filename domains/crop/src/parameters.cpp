#include "physynth/domains/crop/parameters.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace physynth::domains::crop {

void CropParameters::merge(const CropParameters& other) {
  for (const auto& [name, v] : other.values_) values_[name] = v;
  description = description.empty() ? other.description : description + ", " + other.description;
}

namespace {
std::string missing(const std::string& name, const std::string& model, const std::string& description) {
  return "parameter " + name + " is missing; the " + model + " model needs it (read from " +
         (description.empty() ? std::string("no file") : description) + ")";
}
}  // namespace

double CropParameters::number(const std::string& name, const std::string& model, core::Diagnostics& diags) const {
  const auto it = values_.find(name);
  if (it == values_.end()) {
    diags.error({description, 0, 0}, missing(name, model, description));
    return 0.0;
  }
  if (it->second.is_list || it->second.values.size() != 1) {
    diags.error(it->second.where, "parameter " + name + " must be a single number for the " + model +
                                      " model, got a list of " + std::to_string(it->second.values.size()));
    return 0.0;
  }
  return it->second.values[0];
}

bool CropParameters::flag(const std::string& name, const std::string& model, core::Diagnostics& diags) const {
  const double v = number(name, model, diags);
  if (v != 0.0 && v != 1.0) {
    diags.error(values_.at(name).where,
                "parameter " + name + " must be True or False (1 or 0), got " + core::format_number(v));
  }
  return v != 0.0;
}

Afgen CropParameters::table(const std::string& name, const std::string& model, core::Diagnostics& diags) const {
  const auto it = values_.find(name);
  if (it == values_.end()) {
    diags.error({description, 0, 0}, missing(name, model, description));
    std::string ignored;
    return Afgen::from_pairs({0.0, 0.0}, &ignored);
  }
  std::string error;
  Afgen t = Afgen::from_pairs(it->second.values, &error);
  if (!error.empty()) {
    diags.error(it->second.where, "parameter " + name + ": " + error);
    return Afgen::from_pairs({0.0, 0.0}, &error);
  }
  return t;
}

namespace {

std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

bool parse_number(const std::string& text, double* v) {
  if (text == "True") {
    *v = 1.0;
    return true;
  }
  if (text == "False") {
    *v = 0.0;
    return true;
  }
  char* end = nullptr;
  *v = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && std::isfinite(*v);
}

}  // namespace

std::optional<CropParameters> read_pcse_parameter_file(const std::string& path, core::Diagnostics& diags) {
  std::ifstream in(path);
  if (!in) {
    diags.error({path, 0, 0}, "cannot open the parameter file");
    return std::nullopt;
  }
  CropParameters params;
  params.description = path;
  const std::size_t errors_before = diags.error_count();
  std::string line, name, list_text;
  int list_line = 0;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    line = trim(line);
    if (line.empty()) continue;
    if (!name.empty()) {  // inside a list
      list_text += " " + line;
    } else {
      const auto eq = line.find('=');
      if (eq == std::string::npos) {
        diags.error({path, n, 0}, "expected NAME = value, got '" + line + "'");
        continue;
      }
      name = trim(line.substr(0, eq));
      const std::string value = trim(line.substr(eq + 1));
      if (value.empty() || value[0] != '[') {
        double v = 0.0;
        if (!parse_number(value, &v))
          diags.error({path, n, 0},
                      "parameter " + name + " must be a number, True, False or a [list], got '" + value + "'");
        else
          params.set(name, ParameterValue{{v}, false, {path, n, 0}});
        name.clear();
        continue;
      }
      list_text = value;
      list_line = n;
    }
    if (list_text.find(']') == std::string::npos) continue;
    const std::string body = list_text.substr(1, list_text.find(']') - 1);
    ParameterValue pv{{}, true, {path, list_line, 0}};
    std::stringstream ss(body);
    std::string item;
    while (std::getline(ss, item, ',')) {
      item = trim(item);
      if (item.empty()) continue;
      double v = 0.0;
      if (!parse_number(item, &v)) {
        diags.error({path, list_line, 0}, "list " + name + " holds '" + item + "', which is not a number");
        continue;
      }
      pv.values.push_back(v);
    }
    params.set(name, pv);
    name.clear();
  }
  if (!name.empty()) diags.error({path, list_line, 0}, "list " + name + " is not closed with ']'");
  if (diags.error_count() > errors_before) return std::nullopt;
  return params;
}

std::optional<CropParameters> parameters_from_yaml(const YAML::Node& node, const std::string& file,
                                                   core::Diagnostics& diags) {
  CropParameters params;
  params.description = file;
  if (!node.IsMap()) {
    diags.error({file, node.Mark().line + 1, node.Mark().column + 1}, "parameters must be a mapping NAME: value");
    return std::nullopt;
  }
  const std::size_t errors_before = diags.error_count();
  for (const auto& kv : node) {
    const std::string name = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const core::SourceLocation where{file, v.Mark().line + 1, v.Mark().column + 1};
    auto scalar = [&](const YAML::Node& s, double* out) {
      if (!s.IsScalar()) return false;
      const std::string text = s.Scalar();
      if (text == "true" || text == "True") return *out = 1.0, true;
      if (text == "false" || text == "False") return *out = 0.0, true;
      return parse_number(text, out);
    };
    ParameterValue pv{{}, v.IsSequence(), where};
    if (v.IsSequence()) {
      for (const auto& item : v) {
        double x = 0.0;
        if (!scalar(item, &x)) {
          diags.error(where, "list " + name + " must hold numbers");
          break;
        }
        pv.values.push_back(x);
      }
    } else {
      double x = 0.0;
      if (!scalar(v, &x)) continue;  // names and other text (CRPNAM) are not model parameters
      pv.values.push_back(x);
    }
    params.set(name, pv);
  }
  if (diags.error_count() > errors_before) return std::nullopt;
  return params;
}

}  // namespace physynth::domains::crop
