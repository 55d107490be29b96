// Observation, label, event and condition expressions ("S + ES", "2*P/(Km + S)") over a fixed
// list of variables. The same language as a user-defined model's equations
// (core/expression_parser.h: operators, functions, `pi`), compiled once onto core's expression
// tape; each variable is an input of the tape. Evaluation does not change the expression, so
// one Expression may be read by several threads.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "physynth/core/expression_tape.h"
#include "physynth/core/lanes.h"
#include "physynth/core/model.h"

namespace physynth::engine {

// What is wrong with an expression, and where: `offset` is the 0-based position in its text.
class ExpressionSyntaxError : public std::invalid_argument {
 public:
  ExpressionSyntaxError(const std::string& message, std::size_t offset)
      : std::invalid_argument(message), offset_(offset) {}
  std::size_t offset() const { return offset_; }

 private:
  std::size_t offset_;
};

class Expression {
 public:
  // Throws ExpressionSyntaxError if `text` does not parse or names something that is not in
  // `variables` (nor `pi`; `_pi` and `_e`, which muParser read until 2026-12-06, are kept).
  Expression(const std::string& text, const std::vector<std::string>& variables);

  // values[i] is the value of variables[i].
  double evaluate(const double* values) const;
  // kLanes points at once: values[i] holds variables[i] at each point, lane by lane; lane l of
  // the result is, bit for bit, evaluate() at point l (core/lanes.h).
  core::Lanes evaluate(const core::Lanes* values) const;
  // The value, and into gradient[i] its exact derivative by variables[i] (forward mode on
  // Jets; the derivative of a selection is that of the branch taken).
  double gradient(const double* values, double* gradient) const;

 private:
  core::Tape tape_;
  std::size_t variables_;
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
  // fill() into lane `lane` of each of size() values, in two parts: the parameters' values, and
  // the point's (t and the states), so that a run of points under the same parameters writes
  // these once.
  void fill_lane_parameters(int lane, const double* p, core::Lanes* values) const;
  void fill_lane_point(int lane, double t, const double* y, core::Lanes* values) const;

 private:
  std::size_t states_;
  std::vector<std::size_t> parameters_;  // the named parameters' indices, in order
};

}  // namespace physynth::engine
