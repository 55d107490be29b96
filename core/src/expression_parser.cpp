#include "physynth/core/expression_parser.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "physynth/core/diagnostics.h"

namespace physynth::core {

namespace {

struct FunctionInfo {
  const char* name;
  int min_args, max_args;  // max_args -1: any number
  Op op;                   // for the one-argument ones
};

const std::vector<FunctionInfo>& function_table() {
  static const std::vector<FunctionInfo> table = {
      {"exp", 1, 1, Op::kExp},           {"log", 1, 1, Op::kLog},       {"ln", 1, 1, Op::kLog},
      {"log10", 1, 1, Op::kLog10},       {"sqrt", 1, 1, Op::kSqrt},     {"abs", 1, 1, Op::kAbs},
      {"floor", 1, 1, Op::kFloor},       {"ceil", 1, 1, Op::kCeil},     {"sin", 1, 1, Op::kSin},
      {"cos", 1, 1, Op::kCos},           {"tan", 1, 1, Op::kTan},       {"sinh", 1, 1, Op::kSinh},
      {"cosh", 1, 1, Op::kCosh},         {"tanh", 1, 1, Op::kTanh},     {"asin", 1, 1, Op::kAsin},
      {"acos", 1, 1, Op::kAcos},         {"atan", 1, 1, Op::kAtan},     {"pow", 2, 2, Op::kPow},
      {"min", 2, -1, Op::kConstant},     {"max", 2, -1, Op::kConstant}, {"if", 3, 3, Op::kSelect},
      {"piecewise", 3, -1, Op::kSelect}, {"sum", 1, -1, Op::kConstant}, {"avg", 1, -1, Op::kConstant},
      {"sign", 1, 1, Op::kConstant},
  };
  return table;
}

const FunctionInfo* find_function(const std::string& name) {
  for (const auto& f : function_table())
    if (name == f.name) return &f;
  return nullptr;
}

// base ^ exponent: repeated multiplication for a small whole exponent (exact for a negative base,
// and its derivative is defined at 0), pow otherwise.
int power(Tape& tape, int base, int exponent) {
  double e = 0.0;
  if (tape.is_constant(exponent, &e) && e == std::floor(e) && std::fabs(e) <= 16.0)
    return tape.power_int(base, static_cast<int>(e));
  return tape.binary(Op::kPow, base, exponent);
}

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

const std::vector<std::string>& expression_functions() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& f : function_table()) out.push_back(f.name);
    return out;
  }();
  return names;
}

// Recursive descent over the grammar in the header; one method per precedence level.
class ParsedExpression::Parser {
 public:
  Parser(const std::string& text, std::vector<Node>& nodes, ExpressionError* error)
      : text_(text), nodes_(nodes), error_(error) {}

  int parse_all() {
    skip_space();
    if (pos_ == text_.size()) return fail(0, "the expression is empty");
    const int root = parse_conditional();
    if (root < 0) return -1;
    skip_space();
    if (pos_ < text_.size()) {
      if (text_[pos_] == ')') return fail(pos_, "')' without a matching '('");
      return fail(pos_, "unexpected '" + text_.substr(pos_, 1) + "' after a complete expression");
    }
    return root;
  }

 private:
  int fail(std::size_t at, const std::string& message) {
    if (error_->message.empty()) *error_ = {at, message};
    return -1;
  }

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  // Consumes `op` if it is next (and, for "<", not the start of "<=").
  bool accept(const char* op) {
    skip_space();
    const std::string s(op);
    if (text_.compare(pos_, s.size(), s) != 0) return false;
    const char next = pos_ + s.size() < text_.size() ? text_[pos_ + s.size()] : '\0';
    if ((s == "<" || s == ">" || s == "!") && next == '=') return false;
    if (s == "*" && next == '*') return false;
    pos_ += s.size();
    return true;
  }

  // Trees deeper than this are refused, so that neither parsing nor compiling (both recursive)
  // can run out of stack on a pathological input; written models stay far below it.
  static constexpr int kMaxDepth = 1000;

  int push(Node n) {
    for (int a : n.args) n.depth = std::max(n.depth, nodes_[static_cast<std::size_t>(a)].depth + 1);
    if (n.depth > kMaxDepth)
      return fail(n.offset, "the expression is nested more than " + std::to_string(kMaxDepth) +
                                " levels deep; split it into definitions");
    nodes_.push_back(std::move(n));
    return static_cast<int>(nodes_.size()) - 1;
  }

  // Counts nesting while parsing (parentheses, arguments, unary operators, conditionals).
  struct Nesting {
    explicit Nesting(int& level) : level_(level) { ++level_; }
    ~Nesting() { --level_; }
    int& level_;
  };
  bool too_deep() {
    if (nesting_ <= kMaxDepth / 4) return false;
    fail(pos_, "the expression is nested more than " + std::to_string(kMaxDepth / 4) +
                   " levels deep (parentheses, calls, signs); split it into definitions");
    return true;
  }
  int binary(const std::string& op, std::size_t at, int a, int b) {
    if (a < 0 || b < 0) return -1;
    return push({Node::Kind::kBinary, op, 0.0, at, {a, b}});
  }

  template <class Next>
  int left_assoc(const std::vector<const char*>& ops, Next next) {
    int a = (this->*next)();
    while (a >= 0) {
      skip_space();
      const std::size_t at = pos_;
      const char* matched = nullptr;
      for (const char* op : ops)
        if (accept(op)) {
          matched = op;
          break;
        }
      if (!matched) break;
      a = binary(matched, at, a, (this->*next)());
    }
    return a;
  }

  // c ? a : b, right-associative, as in C.
  int parse_conditional() {
    Nesting nest(nesting_);
    if (too_deep()) return -1;
    const int condition = parse_or();
    if (condition < 0) return -1;
    skip_space();
    const std::size_t at = pos_;
    if (!accept("?")) return condition;
    const int a = parse_conditional();
    if (a < 0) return -1;
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != ':') return fail(at, "'?' without its ':' (write c ? a : b)");
    ++pos_;
    const int b = parse_conditional();
    if (b < 0) return -1;
    return push({Node::Kind::kCall, "if", 0.0, at, {condition, a, b}});
  }
  int parse_or() { return left_assoc({"||"}, &Parser::parse_and); }
  int parse_and() { return left_assoc({"&&"}, &Parser::parse_equality); }
  int parse_equality() {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '=' && (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '='))
      return fail(pos_, "'=' is not an operator here; write '==' to compare");
    int a = left_assoc({"==", "!="}, &Parser::parse_comparison);
    skip_space();
    if (a >= 0 && pos_ < text_.size() && text_[pos_] == '=')
      return fail(pos_, "'=' is not an operator here; write '==' to compare");
    return a;
  }
  int parse_comparison() { return left_assoc({"<=", ">=", "<", ">"}, &Parser::parse_sum); }
  int parse_sum() { return left_assoc({"+", "-"}, &Parser::parse_product); }
  int parse_product() { return left_assoc({"*", "/"}, &Parser::parse_unary); }

  int parse_unary() {
    skip_space();
    const std::size_t at = pos_;
    const bool negate = accept("-"), plus = !negate && accept("+"), invert = !negate && !plus && accept("!");
    if (!negate && !plus && !invert) return parse_power();
    Nesting nest(nesting_);
    if (too_deep()) return -1;
    const int a = parse_unary();
    if (a < 0 || plus) return a;
    return push({Node::Kind::kUnary, negate ? "neg" : "!", 0.0, at, {a}});
  }

  int parse_power() {
    const int base = parse_primary();
    if (base < 0) return -1;
    skip_space();
    const std::size_t at = pos_;
    if (accept("^") || accept("**")) return binary("^", at, base, parse_unary());  // right-assoc; 2^-1
    return base;
  }

  int parse_primary() {
    skip_space();
    if (pos_ >= text_.size()) return fail(pos_, "the expression ends where a value was expected");
    const std::size_t at = pos_;
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      const int inner = parse_conditional();
      if (inner < 0) return -1;
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != ')') return fail(at, "'(' is not closed");
      ++pos_;
      return inner;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      const char* begin = text_.c_str() + pos_;
      char* end = nullptr;
      const double v = std::strtod(begin, &end);
      if (end == begin) return fail(at, "'" + text_.substr(pos_, 1) + "' does not start a number");
      pos_ += static_cast<std::size_t>(end - begin);
      if (pos_ < text_.size() && is_name_char(text_[pos_]))
        return fail(at, "'" + text_.substr(at, pos_ - at + 1) + "' is neither a number nor a name");
      return push({Node::Kind::kNumber, text_.substr(at, pos_ - at), v, at, {}});
    }
    if (is_name_start(c)) {
      while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
      const std::string name = text_.substr(at, pos_ - at);
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == '(') return parse_call(name, at);
      return push({Node::Kind::kName, name, 0.0, at, {}});
    }
    return fail(at, "unexpected '" + text_.substr(pos_, 1) + "' where a value was expected");
  }

  int parse_call(const std::string& name, std::size_t at) {
    const FunctionInfo* f = find_function(name);
    if (!f) {
      const std::string hint = closest_match(name, expression_functions());
      return fail(at, "unknown function '" + name + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                          " (functions: " + join(expression_functions()) + ")");
    }
    ++pos_;  // '('
    std::vector<int> args;
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ')') {
      ++pos_;
    } else {
      while (true) {
        const int a = parse_conditional();
        if (a < 0) return -1;
        args.push_back(a);
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < text_.size() && text_[pos_] == ')') {
          ++pos_;
          break;
        }
        return fail(at, "the arguments of '" + name + "(' are not closed by ')'");
      }
    }
    const int n = static_cast<int>(args.size());
    std::string expected;
    if (f->max_args == f->min_args && n != f->min_args)
      expected = std::to_string(f->min_args);
    else if (n < f->min_args)
      expected = "at least " + std::to_string(f->min_args);
    if (!expected.empty())
      return fail(at, "'" + name + "' takes " + expected + " argument" + (f->min_args == 1 ? "" : "s") + ", got " +
                          std::to_string(n));
    if (name == "piecewise" && n % 2 == 0)
      return fail(at, "'piecewise' takes value, condition pairs and then the value otherwise (an odd count), got " +
                          std::to_string(n) + " arguments");
    return push({Node::Kind::kCall, name, 0.0, at, std::move(args)});
  }

  const std::string& text_;
  std::vector<Node>& nodes_;
  ExpressionError* error_;
  std::size_t pos_ = 0;
  int nesting_ = 0;
};

std::optional<ParsedExpression> ParsedExpression::parse(const std::string& text, ExpressionError* error) {
  ParsedExpression out;
  out.text_ = text;
  ExpressionError local;
  Parser parser(out.text_, out.nodes_, &local);
  out.root_ = parser.parse_all();
  if (out.root_ < 0) {
    if (error) *error = local;
    return std::nullopt;
  }
  return out;
}

std::vector<ExpressionName> ParsedExpression::names() const {
  std::vector<ExpressionName> out;
  for (const Node& n : nodes_)
    if (n.kind == Node::Kind::kName) out.push_back({n.text, n.offset});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
  return out;
}

int ParsedExpression::compile(Tape& tape, const Resolver& resolve, ExpressionError* error) const {
  ExpressionError local;
  const int slot = compile_node(root_, tape, resolve, &local);
  if (slot < 0 && error) *error = local;
  return slot;
}

int ParsedExpression::compile_node(int index, Tape& tape, const Resolver& resolve, ExpressionError* error) const {
  const Node& n = nodes_[static_cast<std::size_t>(index)];
  std::vector<int> a;
  for (int child : n.args) {
    const int slot = compile_node(child, tape, resolve, error);
    if (slot < 0) return -1;
    a.push_back(slot);
  }
  auto truth = [&](int s) { return tape.unary(Op::kNot, tape.unary(Op::kNot, s)); };
  switch (n.kind) {
    case Node::Kind::kNumber:
      return tape.constant(n.value);
    case Node::Kind::kName: {
      const int slot = resolve({n.text, n.offset}, error);
      if (slot < 0 && error->message.empty()) *error = {n.offset, "unknown name '" + n.text + "'"};
      return slot;
    }
    case Node::Kind::kUnary:
      return tape.unary(n.text == "neg" ? Op::kNeg : Op::kNot, a[0]);
    case Node::Kind::kBinary: {
      const std::string& op = n.text;
      if (op == "+") return tape.binary(Op::kAdd, a[0], a[1]);
      if (op == "-") return tape.binary(Op::kSub, a[0], a[1]);
      if (op == "*") return tape.binary(Op::kMul, a[0], a[1]);
      if (op == "/") return tape.binary(Op::kDiv, a[0], a[1]);
      if (op == "<") return tape.binary(Op::kLess, a[0], a[1]);
      if (op == "<=") return tape.binary(Op::kLessEqual, a[0], a[1]);
      if (op == ">") return tape.binary(Op::kLess, a[1], a[0]);
      if (op == ">=") return tape.binary(Op::kLessEqual, a[1], a[0]);
      if (op == "==") return tape.binary(Op::kEqual, a[0], a[1]);
      if (op == "!=") return tape.unary(Op::kNot, tape.binary(Op::kEqual, a[0], a[1]));
      if (op == "&&") return tape.binary(Op::kMul, truth(a[0]), truth(a[1]));
      if (op == "||")
        return tape.unary(Op::kNot, tape.binary(Op::kMul, tape.unary(Op::kNot, a[0]), tape.unary(Op::kNot, a[1])));
      return power(tape, a[0], a[1]);  // "^"
    }
    case Node::Kind::kCall: {
      const FunctionInfo* f = find_function(n.text);
      const std::string& name = n.text;
      if (name == "pow") return power(tape, a[0], a[1]);
      if (name == "min" || name == "max") {
        int r = a[0];
        for (std::size_t k = 1; k < a.size(); ++k) {
          const int less = tape.binary(Op::kLess, r, a[k]);
          r = name == "min" ? tape.select(less, r, a[k]) : tape.select(less, a[k], r);
        }
        return r;
      }
      if (name == "sum" || name == "avg") {  // left to right: ((a0 + a1) + a2) + ...
        int r = a[0];
        for (std::size_t k = 1; k < a.size(); ++k) r = tape.binary(Op::kAdd, r, a[k]);
        if (name == "avg") r = tape.binary(Op::kDiv, r, tape.constant(static_cast<double>(a.size())));
        return r;
      }
      if (name == "sign") {  // -1, 0 or 1 (0 for 0 and NaN); its derivative is 0
        const int zero = tape.constant(0.0);
        return tape.select(tape.binary(Op::kLess, zero, a[0]), tape.constant(1.0),
                           tape.select(tape.binary(Op::kLess, a[0], zero), tape.constant(-1.0), zero));
      }
      if (name == "if") return tape.select(a[0], a[1], a[2]);
      if (name == "piecewise") {
        int r = a.back();  // otherwise
        for (std::size_t k = a.size() - 1; k >= 2; k -= 2) r = tape.select(a[k - 1], a[k - 2], r);
        return r;
      }
      return tape.unary(f->op, a[0]);
    }
  }
  return -1;
}

}  // namespace physynth::core
