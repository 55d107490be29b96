// Observation, label, event and condition expressions (engine/src/expression.h) run on core's
// expression tape, in the language of model equations: values as written (operation by
// operation, so bit for bit), the functions muParser offered that scenarios may use, errors with
// the offset of what is wrong and a hint, exact gradients over more variables than one Jet holds,
// and evaluation from several threads at once.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../engine/src/expression.h"

using physynth::engine::Expression;
using physynth::engine::ExpressionSyntaxError;

namespace {

const std::vector<std::string> kNames = {"AB", "A0", "S", "ES", "kon", "koff", "t"};

double eval(const std::string& text, const std::vector<double>& values) {
  return Expression(text, kNames).evaluate(values.data());
}

ExpressionSyntaxError error_of(const std::string& text) {
  try {
    Expression e(text, kNames);
  } catch (const ExpressionSyntaxError& err) {
    return err;
  }
  FAIL("'" << text << "' was accepted");
  return ExpressionSyntaxError("", 0);
}

}  // namespace

TEST_CASE("expressions: values operation by operation, as written") {
  const std::vector<double> v = {3.7, 10.0, 0.3, -0.0, 1e-3, 2.5e-4, 17.0};
  // Left to right, each operation rounded once: the same bits as the C++ below.
  CHECK(eval("AB / A0 * 100", v) == (3.7 / 10.0) * 100.0);
  CHECK(eval("koff / kon", v) == 2.5e-4 / 1e-3);
  CHECK(eval("(koff + 0.3) / kon", v) == (2.5e-4 + 0.3) / 1e-3);
  CHECK(eval("S^2 + S^3", v) == 0.3 * 0.3 + 0.3 * 0.3 * 0.3);
  CHECK(eval("pow(S, 0.5)", v) == std::pow(0.3, 0.5));
  CHECK(eval("AB < 3 ? 0 : (AB < 4 ? 1 : 2)", v) == 1.0);
  CHECK(eval("t", v) == 17.0);
  CHECK(std::signbit(eval("-S * 0", v)));
  CHECK(eval("sum(AB, A0, S)", v) == (3.7 + 10.0) + 0.3);
  CHECK(eval("avg(AB, A0)", v) == (3.7 + 10.0) / 2.0);
  CHECK(eval("sign(AB)", v) == 1.0);
  CHECK(eval("sign(-AB)", v) == -1.0);
  CHECK(eval("sign(ES)", v) == 0.0);
  CHECK(eval("sign(AB - 0/0)", v) == 0.0);
  CHECK(eval("2 * pi", v) == 2.0 * M_PI);
  CHECK(eval("_pi + _e", v) == M_PI + M_E);
  CHECK(eval("min(AB, A0, S) + max(AB, A0)", v) == 0.3 + 10.0);
  CHECK(eval("AB != 3.7 || S == 0.3", v) == 1.0);
  CHECK(eval("!(AB > 1) && 1", v) == 0.0);
}

TEST_CASE("expressions: errors name what is wrong and where") {
  auto e = error_of("AB + Q");
  CHECK(std::string(e.what()) == "unknown name 'Q'");
  CHECK(e.offset() == 5);
  e = error_of("kon / kofff");
  CHECK(std::string(e.what()) == "unknown name 'kofff' (did you mean 'koff'?)");
  CHECK(e.offset() == 6);
  e = error_of("AB * (S + 1");
  CHECK(std::string(e.what()).find("'('") != std::string::npos);
  e = error_of("sqrtt(S)");
  CHECK(std::string(e.what()).find("did you mean 'sqrt'") != std::string::npos);
  CHECK(e.offset() == 0);
  e = error_of("AB +");
  CHECK(e.offset() >= 3);
}

TEST_CASE("expressions: exact gradients by every variable") {
  const std::string text = "AB / A0 * 100 + exp(-kon * t) * S^2 / (koff + ES) + (S > 0.1 ? sqrt(AB) : 0)";
  const Expression e(text, kNames);
  std::vector<double> v = {3.7, 10.0, 0.3, 0.02, 1e-3, 2.5e-4, 17.0}, g(v.size(), -1.0);
  const double value = e.gradient(v.data(), g.data());
  CHECK(value == e.evaluate(v.data()));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double x = v[i], step = 1e-6 * std::max(std::abs(x), 1e-3);
    v[i] = x + step;
    const double up = e.evaluate(v.data());
    v[i] = x - step;
    const double down = e.evaluate(v.data());
    v[i] = x;
    INFO("d/d" << kNames[i]);
    CHECK(g[i] == Approx((up - down) / (2 * step)).epsilon(1e-6).margin(1e-9));
  }
  // A variable the expression does not read has derivative 0 (not left as it was).
  std::vector<double> g2(v.size(), -1.0);
  Expression("AB * 2", kNames).gradient(v.data(), g2.data());
  CHECK(g2 == std::vector<double>{2.0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("expressions: kLanes points at once give each point's bits") {
  using physynth::core::kLanes;
  using physynth::core::Lanes;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-3.0, 3.0);
  for (const char* text : {"AB / A0 * 100", "exp(-kon * t) * S^2 / (koff + ES) - 0.1", "S > 0 ? sqrt(S) : -S^3",
                           "pow(abs(AB), 0.3) + log(abs(A0) + 1) * sin(t) - tanh(ES)", "sign(S) * min(AB, A0, 0)",
                           "-S * 0", "sum(AB, -0, ES) + avg(t, kon)"}) {
    const Expression e(text, kNames);
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<Lanes> lanes(kNames.size());
      std::vector<std::vector<double>> points(kLanes, std::vector<double>(kNames.size()));
      for (int l = 0; l < kLanes; ++l)
        for (std::size_t k = 0; k < kNames.size(); ++k)
          lanes[k].v[l] = points[static_cast<std::size_t>(l)][k] = trial % 7 == 0 && k == 2 ? -0.0 : u(rng);
      const Lanes out = e.evaluate(lanes.data());
      for (int l = 0; l < kLanes; ++l) {
        const double one = e.evaluate(points[static_cast<std::size_t>(l)].data()), lane = out.v[l];
        INFO(text << " lane " << l << ": " << lane << " against " << one);
        CHECK(std::memcmp(&one, &lane, sizeof one) == 0);
      }
    }
  }
}

TEST_CASE("expressions: one expression evaluated by several threads at once") {
  const Expression e("AB / A0 * 100 + sin(t) * S", kNames);
  std::vector<double> results(4, 0.0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      std::vector<double> v = {1.0 + k, 10.0, 0.3, 0.0, 1e-3, 2.5e-4, 0.5 * k};
      double last = 0.0;
      for (int i = 0; i < 20000; ++i) last = e.evaluate(v.data());
      results[static_cast<std::size_t>(k)] = last;
    });
  for (auto& t : threads) t.join();
  for (int k = 0; k < 4; ++k)
    CHECK(results[static_cast<std::size_t>(k)] == (1.0 + k) / 10.0 * 100 + std::sin(0.5 * k) * 0.3);
}
