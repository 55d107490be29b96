// Observation and label expressions ("S + ES", "2*P/(Km + S)") evaluated with
// muParser over a fixed list of variables. One Expression per thread: muParser
// keeps evaluation state inside the parser.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "physynth/core/model.h"

namespace mu {
class Parser;
}

namespace physynth::engine {

class Expression {
 public:
  // Throws std::invalid_argument with muParser's message if `text` does not
  // parse or names something that is not in `variables`.
  Expression(const std::string& text, const std::vector<std::string>& variables);
  ~Expression();
  Expression(Expression&&) noexcept;
  Expression& operator=(Expression&&) noexcept;

  // values[i] is the value of variables[i].
  double evaluate(const double* values);
  // The same on the values already in inputs() (written there in place: no copy per call).
  double* inputs() { return storage_->data(); }
  double evaluate();

 private:
  std::unique_ptr<mu::Parser> parser_;
  std::unique_ptr<std::vector<double>> storage_;  // stable addresses for DefineVar
};

// The variables an expression may use, in order: every state, every parameter
// the user named (not the literals of the model section), and t.
std::vector<std::string> expression_variables(const core::Model& model);
// Their values for one point of a trajectory; `values` has room for all of them.
void expression_values(const core::Model& model, double t, const double* y, const double* p, double* values);

// The same for one model, its named parameters found once (expression_values checks every
// parameter's name at each call: per reading of every sample, that was 5 % of a run).
class ExpressionInputs {
 public:
  explicit ExpressionInputs(const core::Model& model);
  std::size_t size() const { return states_ + parameters_.size() + 1; }
  void fill(double t, const double* y, const double* p, double* values) const;
  // fill() in two parts: the parameters' values, and the point's (t and the states), so that a
  // run of points under the same parameters writes these once.
  void fill_parameters(const double* p, double* values) const;
  void fill_point(double t, const double* y, double* values) const;

 private:
  std::size_t states_;
  std::vector<std::size_t> parameters_;  // the named parameters' indices, in order
};

}  // namespace physynth::engine
