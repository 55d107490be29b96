#include "expression.h"

#include <algorithm>
#include <cmath>

#include <muParser.h>

#include "physynth/core/config.h"

namespace physynth::engine {

namespace {
double power(double a, double b) { return std::pow(a, b); }
}  // namespace

Expression::Expression(const std::string& text, const std::vector<std::string>& variables)
    : parser_(std::make_unique<mu::Parser>()), storage_(std::make_unique<std::vector<double>>(variables.size(), 1.0)) {
  try {
    // pow(a, b) beside muParser's a^b: SBML and PEtab formulas write it so.
    parser_->DefineFun("pow", &power);
    for (std::size_t i = 0; i < variables.size(); ++i) parser_->DefineVar(variables[i], &(*storage_)[i]);
    parser_->SetExpr(text);
    parser_->Eval();  // parses now, so errors surface at load time
  } catch (const mu::Parser::exception_type& e) {
    if (e.GetCode() == mu::ecUNASSIGNABLE_TOKEN) throw std::invalid_argument("unknown name '" + e.GetToken() + "'");
    std::string msg = e.GetMsg();
    while (!msg.empty() && (msg.back() == '.' || msg.back() == ' ')) msg.pop_back();
    throw std::invalid_argument(msg);
  }
}

Expression::~Expression() = default;
Expression::Expression(Expression&&) noexcept = default;
Expression& Expression::operator=(Expression&&) noexcept = default;

double Expression::evaluate(const double* values) {
  std::copy(values, values + storage_->size(), storage_->begin());
  return parser_->Eval();
}

double Expression::evaluate() { return parser_->Eval(); }

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
  fill_parameters(p, values);
  fill_point(t, y, values);
}

void ExpressionInputs::fill_parameters(const double* p, double* values) const {
  std::size_t k = states_;
  for (std::size_t j : parameters_) values[k++] = p[j];
}

void ExpressionInputs::fill_point(double t, const double* y, double* values) const {
  std::copy(y, y + states_, values);
  values[states_ + parameters_.size()] = t;
}

}  // namespace physynth::engine
