// The infix parser behind user-defined models: precedence and associativity as
// documented, every function, conditions, exact derivatives through Jets, and
// errors with the offset of what is wrong.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "physynth/core/autodiff.h"
#include "physynth/core/expression_parser.h"

using namespace physynth::core;

namespace {

// Evaluates `text` with names x, y (states 0, 1) and a, b (parameters 0, 1).
template <class T>
T eval(const std::string& text, const T& t, const T* y, const T* p) {
  ExpressionError error;
  auto expr = ParsedExpression::parse(text, &error);
  INFO(text << ": " << error.message);
  REQUIRE(expr);
  Tape tape;
  const std::map<std::string, std::pair<bool, int>> names = {
      {"x", {true, 0}}, {"y", {true, 1}}, {"a", {false, 0}}, {"b", {false, 1}}};
  const int slot = expr->compile(
      tape,
      [&](const ExpressionName& n, ExpressionError* e) {
        if (n.name == "t") return tape.time();
        auto it = names.find(n.name);
        if (it == names.end()) {
          *e = {n.offset, "unknown name '" + n.name + "'"};
          return -1;
        }
        return it->second.first ? tape.state(it->second.second) : tape.parameter(it->second.second);
      },
      &error);
  REQUIRE(slot >= 0);
  tape.add_output(slot);
  T out;
  tape.evaluate(t, y, p, &out);
  return out;
}

double value(const std::string& text, double x = 2.0, double y = -3.0, double a = 0.5, double b = 4.0, double t = 7.0) {
  const double ys[] = {x, y}, ps[] = {a, b};
  return eval<double>(text, t, ys, ps);
}

ExpressionError parse_error(const std::string& text) {
  ExpressionError error;
  CHECK_FALSE(ParsedExpression::parse(text, &error));
  return error;
}

}  // namespace

TEST_CASE("expression parser: precedence, associativity and unary minus as documented") {
  CHECK(value("1 + 2 * 3") == 7.0);
  CHECK(value("(1 + 2) * 3") == 9.0);
  CHECK(value("8 / 4 / 2") == 1.0);        // left-associative
  CHECK(value("10 - 4 - 3") == 3.0);
  CHECK(value("2 ^ 3 ^ 2") == 512.0);      // right-associative
  CHECK(value("2 ** 3") == 8.0);
  CHECK(value("-x ^ 2") == -4.0);          // -(x^2)
  CHECK(value("2 ^ -1") == 0.5);
  CHECK(value("y ^ 3") == -27.0);          // whole exponents are exact for a negative base
  CHECK(value("x * -y") == 6.0);
  CHECK(value("1.5e2 + .5 + 2E-1") == Approx(150.7).epsilon(1e-15));
  CHECK(value("t * a + b") == 7.5);
}

TEST_CASE("expression parser: every function and condition") {
  CHECK(value("exp(1)") == std::exp(1.0));
  CHECK(value("log(x)") == std::log(2.0));
  CHECK(value("ln(x)") == std::log(2.0));
  CHECK(value("log10(1000)") == Approx(3.0));
  CHECK(value("sqrt(b)") == 2.0);
  CHECK(value("abs(y)") == 3.0);
  CHECK(value("floor(-1.5) + ceil(1.2)") == 0.0);
  CHECK(value("sin(a) + cos(a) + tan(a)") == Approx(std::sin(0.5) + std::cos(0.5) + std::tan(0.5)));
  CHECK(value("sinh(a) + cosh(a) + tanh(a)") == Approx(std::sinh(0.5) + std::cosh(0.5) + std::tanh(0.5)));
  CHECK(value("asin(a) + acos(a) + atan(a)") == Approx(std::asin(0.5) + std::acos(0.5) + std::atan(0.5)));
  CHECK(value("pow(x, 0.5)") == Approx(std::sqrt(2.0)));
  CHECK(value("min(x, y, b)") == -3.0);
  CHECK(value("max(x, y, b)") == 4.0);
  CHECK(value("if(x > 1, 10, 20)") == 10.0);
  CHECK(value("x < 1 ? 10 : y < 0 ? 30 : 40") == 30.0);
  CHECK(value("piecewise(1, x < 0, 2, x < 3, 3)") == 2.0);
  CHECK(value("piecewise(1, x < 0, 2, x < 1, 3)") == 3.0);
  CHECK(value("(x >= 2) + (x <= 1) + (x == 2) + (x != 2)") == 2.0);
  CHECK(value("(x > 1 && y > 0) + 2 * (x > 1 || y > 0) + 4 * !(y > 0)") == 6.0);
  CHECK(value("sum(x, y, b)") == 3.0);
  CHECK(value("sum(a)") == 0.5);
  CHECK(value("avg(x, b)") == 3.0);
  CHECK(value("sign(x) + 10 * sign(y) + 100 * sign(x - 2)") == -9.0);
}

TEST_CASE("expression parser: sum and avg differentiate term by term, sign to zero") {
  using J = ceres::Jet<double, 2>;
  const J ys[] = {J(2.0, 0), J(-3.0, 1)}, ps[] = {J(0.5), J(4.0)}, t(7.0);
  const J f = eval<J>("sum(x, x * y, a) + avg(x, y) + sign(y) * x", t, ys, ps);
  // d/dx = 1 + y + 1/2 - 1; d/dy = x + 1/2.
  CHECK(f.a == 2.0 - 6.0 + 0.5 + (2.0 - 3.0) / 2 - 2.0);
  CHECK(f.v[0] == Approx(1.0 - 3.0 + 0.5 - 1.0));
  CHECK(f.v[1] == Approx(2.0 + 0.5));
}

TEST_CASE("expression parser: derivatives through Jets are the exact ones, branch by branch") {
  using J = ceres::Jet<double, 2>;
  const J ys[] = {J(2.0, 0), J(-3.0, 1)}, ps[] = {J(0.5), J(4.0)}, t(7.0);
  const J f = eval<J>("a * x^3 * exp(y) + max(x, y) + if(y < 0, x * y, 0)", t, ys, ps);
  // d/dx = 3 a x^2 e^y + 1 + y; d/dy = a x^3 e^y + x.
  CHECK(f.v[0] == Approx(3 * 0.5 * 4.0 * std::exp(-3.0) + 1.0 - 3.0));
  CHECK(f.v[1] == Approx(0.5 * 8.0 * std::exp(-3.0) + 2.0));
}

TEST_CASE("expression parser: names are listed with their offsets, errors say where and what") {
  ExpressionError error;
  auto expr = ParsedExpression::parse("k * Q / (2 * sqrt(t + t0))", &error);
  REQUIRE(expr);
  const auto names = expr->names();
  REQUIRE(names.size() == 4);
  CHECK(names[0].name == "k");
  CHECK(names[1].name == "Q");
  CHECK(names[1].offset == 4);
  CHECK(names[3].name == "t0");
  CHECK(names[3].offset == 22);

  auto e = parse_error("k * sqrtt(x)");
  CHECK(e.offset == 4);
  CHECK(e.message.find("unknown function 'sqrtt'; did you mean 'sqrt'?") == 0);
  e = parse_error("(a + b");
  CHECK(e.offset == 0);
  CHECK(e.message == "'(' is not closed");
  e = parse_error("a + b)");
  CHECK(e.offset == 5);
  e = parse_error("a = b");
  CHECK(e.offset == 2);
  CHECK(e.message.find("'=='") != std::string::npos);
  e = parse_error("a + ");
  CHECK(e.message == "the expression ends where a value was expected");
  e = parse_error("2x");
  CHECK(e.message == "'2x' is neither a number nor a name");
  e = parse_error("pow(a)");
  CHECK(e.message == "'pow' takes 2 arguments, got 1");
  e = parse_error("piecewise(1, a, 2, b)");
  CHECK(e.message.find("an odd count") != std::string::npos);
  e = parse_error("a ? b");
  CHECK(e.message.find("without its ':'") != std::string::npos);
  e = parse_error("   ");
  CHECK(e.message == "the expression is empty");
  e = parse_error("a $ b");
  CHECK(e.offset == 2);
  // Pathological nesting is refused with a message, not a stack overflow.
  e = parse_error(std::string(100000, '(') + "1" + std::string(100000, ')'));
  CHECK(e.message.find("nested more than 250 levels deep") != std::string::npos);
  e = parse_error(std::string(100000, '-') + "1");
  CHECK(e.message.find("nested more than") != std::string::npos);
  std::string chain = "a";
  for (int k = 0; k < 5000; ++k) chain += " + a";
  e = parse_error(chain);
  CHECK(e.message.find("nested more than 1000 levels deep; split it into definitions") != std::string::npos);
  CHECK(value(std::string(200, '(') + "x" + std::string(200, ')')) == 2.0);
}

namespace {

// The switch times of `text` (names as in eval) with parameters a, b.
std::vector<double> switches(const std::string& text, double a, double b) {
  ExpressionError error;
  auto expr = ParsedExpression::parse(text, &error);
  INFO(text << ": " << error.message);
  REQUIRE(expr);
  Tape tape;
  const int slot = expr->compile(
      tape,
      [&](const ExpressionName& n, ExpressionError*) {
        if (n.name == "t") return tape.time();
        if (n.name == "x" || n.name == "y") return tape.state(n.name == "x" ? 0 : 1);
        return tape.parameter(n.name == "a" ? 0 : 1);
      },
      &error);
  REQUIRE(slot >= 0);
  tape.add_output(slot);
  const double p[] = {a, b};
  return TimeSwitches(tape).times(p, 2);
}

}  // namespace

TEST_CASE("expression tape: comparisons affine in time are switches at times known from the parameters") {
  // t < a, a <= t, b*t - a > 0 (t = a/b), a - t >= 0, nested in arithmetic and in a state's term.
  CHECK(switches("if(t < a, 0, 1)", 3.5, 2.0) == std::vector<double>{3.5});
  CHECK(switches("x * (a <= t ? 2 : 1)", 3.5, 2.0) == std::vector<double>{3.5});
  // b t - a > 0 turns true just past 0.75, a - t >= 0 false just past 3.
  CHECK(switches("piecewise(1, b*t - a > 0, 0) + piecewise(2, a - t >= 0, 0)", 3.0, 4.0) ==
        std::vector<double>{std::nextafter(0.75, 1.0), std::nextafter(3.0, 4.0)});
  CHECK(switches("(t - a) / b < 0 ? x : y", 1.0, 2.0) == std::vector<double>{1.0});
  // Not switches known in advance: a state in the comparison, time inside a non-affine function,
  // a comparison constant in time.
  CHECK(switches("if(x < a, 0, 1)", 3.5, 2.0).empty());
  CHECK(switches("if(sin(t) < a, 0, 1)", 0.5, 2.0).empty());
  CHECK(switches("if(t*t < a, 0, 1)", 4.0, 2.0).empty());
  CHECK(switches("if(t*x < a, 0, 1)", 4.0, 2.0).empty());
  CHECK(switches("if(a < b, t, 1)", 4.0, 2.0).empty());
  CHECK(switches("if(t*0 < a, 0, 1)", 4.0, 2.0).empty());
  // Each time is the first double at which the comparison has turned: t = 0.1 * 3 is not 0.3.
  const auto at = switches("if(t < a * b, 1, 0)", 0.1, 3.0);
  REQUIRE(at.size() == 1);
  CHECK_FALSE(at[0] < 0.1 * 3.0);
  CHECK(std::nextafter(at[0], 0.0) < 0.1 * 3.0);
  const auto le = switches("if(a * t <= b, 1, 0)", 3.0, 1.0);  // a t <= b turns false just past 1/3
  REQUIRE(le.size() == 1);
  CHECK_FALSE(3.0 * le[0] <= 1.0);
  CHECK(3.0 * std::nextafter(le[0], 0.0) <= 1.0);
}
