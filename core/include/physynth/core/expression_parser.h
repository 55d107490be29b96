// Infix expressions ("-k * Q / (2 * sqrt(t + t0))", "if(w < w_max, 1, 0)")
// parsed once and compiled onto an expression tape (expression_tape.h), so that
// what a user writes in YAML runs on every scalar type: doubles for the
// solvers, Ceres Jets for exact Jacobians and sensitivities, tensors for a
// PINN's residual.
//
// Grammar, loosest binding first (all binary operators left-associative but ^):
//   c ? a : b                            a if c != 0, else b (right-associative)
//   a || b    a && b    ! a              logical (a value is true when != 0)
//   a == b    a != b
//   a < b     a <= b    a > b   a >= b   1 or 0
//   a + b     a - b
//   a * b     a / b
//   - a       + a                        unary
//   a ^ b     a ** b                     power, right-associative: -x^2 is -(x^2), 2^-1 is 0.5
//   number    name    name(arguments)    ( expression )
// Functions: see expression_functions(). `if(c, a, b)` and
// `piecewise(v1, c1, v2, c2, ..., otherwise)` choose by condition; like every
// tape selection, the derivative is that of the branch taken. `sum(a, ...)` adds left to right,
// `avg(a, ...)` is that sum over the count, `sign(x)` is -1, 0 or 1.
//
// A tree deeper than 1,000 levels (or 250 levels of parentheses, calls or signs) is refused
// with a message: both parsing and compiling recurse.
//
// Names are resolved when compiling, by a callback that knows what they mean
// (a state, a parameter, a definition compiled on demand): the parser has no
// symbol table of its own.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "physynth/core/expression_tape.h"

namespace physynth::core {

// A name an expression reads, with the 0-based offset of its first character in the text.
struct ExpressionName {
  std::string name;
  std::size_t offset = 0;
};

// What went wrong and where (0-based offset into the text).
struct ExpressionError {
  std::size_t offset = 0;
  std::string message;
};

class ParsedExpression {
 public:
  // Parses `text`. On a syntax error, an unknown function or a wrong number of arguments,
  // returns nullopt and fills *error (with a "did you mean" for a misspelt function).
  static std::optional<ParsedExpression> parse(const std::string& text, ExpressionError* error);

  const std::string& text() const { return text_; }
  // Every use of a name (not of a function), in the order they appear.
  std::vector<ExpressionName> names() const;

  // Returns the slot of a name's value on the tape, or -1 after filling *error.
  using Resolver = std::function<int(const ExpressionName& name, ExpressionError* error)>;
  // Appends the expression to `tape` and returns the slot of its value, or -1 after filling
  // *error (the first name the resolver refused).
  int compile(Tape& tape, const Resolver& resolve, ExpressionError* error) const;

 private:
  struct Node {
    enum class Kind { kNumber, kName, kUnary, kBinary, kCall };
    Kind kind = Kind::kNumber;
    std::string text;  // a name, a function, or an operator ("+", "<=", "&&", "neg", "!")
    double value = 0.0;
    std::size_t offset = 0;
    std::vector<int> args;
    int depth = 0;  // of the subtree below
  };
  class Parser;
  int compile_node(int index, Tape& tape, const Resolver& resolve, ExpressionError* error) const;

  std::string text_;
  std::vector<Node> nodes_;
  int root_ = -1;
};

// The functions an expression may call, with their argument counts, for messages and docs.
const std::vector<std::string>& expression_functions();

}  // namespace physynth::core
