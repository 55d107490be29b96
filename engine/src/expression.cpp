#include "expression.h"

#include <algorithm>
#include <cmath>

#include <ceres/jet.h>

#include "physynth/core/config.h"
#include "physynth/core/diagnostics.h"
#include "physynth/core/expression_parser.h"

namespace physynth::engine {

Expression::Expression(const std::string& text, const std::vector<std::string>& variables)
    : variables_(variables.size()) {
  core::ExpressionError error;
  const auto parsed = core::ParsedExpression::parse(text, &error);
  if (!parsed) throw ExpressionSyntaxError(error.message, error.offset);
  const auto resolve = [&](const core::ExpressionName& name, core::ExpressionError* e) {
    const auto it = std::find(variables.begin(), variables.end(), name.name);
    if (it != variables.end()) return tape_.parameter(static_cast<int>(it - variables.begin()));
    if (name.name == "pi" || name.name == "_pi") return tape_.constant(M_PI);
    if (name.name == "_e") return tape_.constant(M_E);
    std::vector<std::string> known = variables;
    known.push_back("pi");
    const std::string hint = core::closest_match(name.name, known);
    *e = {name.offset, "unknown name '" + name.name + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)")};
    return -1;
  };
  const int slot = parsed->compile(tape_, resolve, &error);
  if (slot < 0) throw ExpressionSyntaxError(error.message, error.offset);
  tape_.add_output(slot);
}

double Expression::evaluate(const double* values) const {
  double out = 0.0;
  tape_.evaluate(0.0, static_cast<const double*>(nullptr), values, &out);
  return out;
}

core::Lanes Expression::evaluate(const core::Lanes* values) const {
  core::Lanes out;
  tape_.evaluate(core::Lanes(0.0), static_cast<const core::Lanes*>(nullptr), values, &out);
  return out;
}

double Expression::gradient(const double* values, double* gradient) const {
  using Jet = ceres::Jet<double, 4>;
  const std::size_t n = variables_;
  std::vector<Jet> x(n);
  double value = evaluate(values);
  for (std::size_t base = 0; base < n; base += 4) {
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = Jet(values[i]);
      if (i >= base && i < base + 4) x[i].v[static_cast<int>(i - base)] = 1.0;
    }
    Jet out;
    tape_.evaluate(Jet(0.0), static_cast<const Jet*>(nullptr), x.data(), &out);
    for (std::size_t i = base; i < std::min(n, base + 4); ++i) gradient[i] = out.v[static_cast<int>(i - base)];
  }
  return value;
}

std::vector<std::string> expression_variables(const core::Model& model) {
  std::vector<std::string> names;
  for (const auto& s : model.states()) names.push_back(s.name);
  for (const auto& p : model.parameters())
    if (core::is_identifier(p.name)) names.push_back(p.name);
  names.push_back("t");
  return names;
}

void expression_values(const core::Model& model, double t, const double* y, const double* p, double* values) {
  ExpressionInputs(model).fill(t, y, p, values);
}

ExpressionInputs::ExpressionInputs(const core::Model& model) : states_(model.num_states()) {
  const auto& params = model.parameters();
  for (std::size_t j = 0; j < params.size(); ++j)
    if (core::is_identifier(params[j].name)) parameters_.push_back(j);
}

void ExpressionInputs::fill(double t, const double* y, const double* p, double* values) const {
  std::copy(y, y + states_, values);
  std::size_t k = states_;
  for (std::size_t j : parameters_) values[k++] = p[j];
  values[k] = t;
}

void ExpressionInputs::fill_lane_parameters(int lane, const double* p, core::Lanes* values) const {
  std::size_t k = states_;
  for (std::size_t j : parameters_) values[k++].v[lane] = p[j];
}

void ExpressionInputs::fill_lane_point(int lane, double t, const double* y, core::Lanes* values) const {
  for (std::size_t k = 0; k < states_; ++k) values[k].v[lane] = y[k];
  values[states_ + parameters_.size()].v[lane] = t;
}

}  // namespace physynth::engine
