// The bounded quasi-Newton fit (anchor/gradient_fit.h) on objectives with closed-form optima:
// interior and on bounds, log-scaled entries, a region where the objective cannot be evaluated,
// work budgets, and the same bits on any thread count.
#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/anchor/gradient_fit.h"

using namespace physynth;

namespace {
anchor::BoxParameter entry(const char* name, double lower, double upper, bool log = false) {
  anchor::BoxParameter b;
  b.name = name;
  b.lower = lower, b.upper = upper, b.log = log;
  b.start = log ? std::sqrt(lower * upper) : 0.5 * (lower + upper);
  return b;
}

anchor::ResidualFitOptions options(int starts) {
  anchor::ResidualFitOptions o;
  o.starts = starts;
  o.seed = 7;
  o.max_iterations = 500;
  o.function_tolerance = 1e-14;
  o.gradient_tolerance = 1e-9;
  o.threads = 1;
  return o;
}

// Rosenbrock's function, minimum 0 at (1, 1).
bool rosenbrock(const std::vector<double>& t, double& f, std::vector<double>& g, long* work) {
  const double a = 1.0 - t[0], b = t[1] - t[0] * t[0];
  f = a * a + 100.0 * b * b;
  g[0] = -2.0 * a - 400.0 * t[0] * b;
  g[1] = 200.0 * b;
  if (work) *work += 1;
  return true;
}
}  // namespace

TEST_CASE("L-BFGS-B fit: Rosenbrock's minimum from every start, and the optimum on a bound") {
  const auto fit = anchor::fit_objective(rosenbrock, {entry("x", -2, 2), entry("y", -1, 3)}, options(6));
  REQUIRE(fit.success);
  for (const auto& s : fit.starts) {
    INFO("start " << s.index << ": " << s.message);
    CHECK(s.usable);
    CHECK(s.optimum[0] == Approx(1.0).margin(1e-6));
    CHECK(s.optimum[1] == Approx(1.0).margin(1e-6));
    CHECK(s.work > 0);
  }
  CHECK(fit.best_cost < 1e-12);
  CHECK(fit.at_bound == std::vector<bool>{false, false});
  CHECK(fit.covariance.empty());

  // y <= 0.5 cuts the valley: the minimum of (1 - x)^2 + 100 (0.5 - x^2)^2 on y = 0.5 solves
  // 1 - x + 200 x (0.5 - x^2) = 0, x = 0.7048... (one real root in (0, 1)).
  const auto cut = anchor::fit_objective(rosenbrock, {entry("x", -2, 2), entry("y", -1, 0.5)}, options(4));
  REQUIRE(cut.success);
  const double x = cut.best[0];
  CHECK(1.0 - x + 200.0 * x * (0.5 - x * x) == Approx(0.0).margin(1e-6));
  CHECK(cut.best[1] == 0.5);
  CHECK(cut.at_bound == std::vector<bool>{false, true});
}

TEST_CASE("L-BFGS-B fit: log-scaled entries are searched in ln, with the gradient chained") {
  // f = (ln k - ln 3)^2 + (m - 2)^2 / 4 over k in [0.01, 100] (log), m in [0, 1] (linear):
  // k = 3, m = 1 on its upper bound.
  const anchor::ObjectiveFunction f = [](const std::vector<double>& t, double& v, std::vector<double>& g, long*) {
    const double u = std::log(t[0] / 3.0);
    v = u * u + 0.25 * (t[1] - 2.0) * (t[1] - 2.0);
    g[0] = 2.0 * u / t[0];  // by k in model units
    g[1] = 0.5 * (t[1] - 2.0);
    return true;
  };
  const auto fit = anchor::fit_objective(f, {entry("k", 0.01, 100, true), entry("m", 0, 1)}, options(3));
  REQUIRE(fit.success);
  CHECK(fit.best[0] == Approx(3.0).epsilon(1e-8));
  CHECK(fit.best[1] == 1.0);
  CHECK(fit.best_cost == Approx(0.25).epsilon(1e-12));
}

TEST_CASE("L-BFGS-B fit: points that cannot be evaluated shorten the step, and a start that cannot be is unusable") {
  // Defined only for x < 1.2; the minimum of (x - 1)^2 + (y + 0.5)^2 lies inside, and a first
  // step from x = -3 overshoots into the undefined region.
  int refused = 0;
  const anchor::ObjectiveFunction f = [&](const std::vector<double>& t, double& v, std::vector<double>& g, long*) {
    if (t[0] >= 1.2) {
      ++refused;
      return false;
    }
    v = (t[0] - 1) * (t[0] - 1) + (t[1] + 0.5) * (t[1] + 0.5);
    g = {2 * (t[0] - 1), 2 * (t[1] + 0.5)};
    return true;
  };
  auto box = std::vector<anchor::BoxParameter>{entry("x", -3, 5), entry("y", -2, 2)};
  box[0].start = -3, box[1].start = 2;
  auto o = options(1);
  const auto fit = anchor::fit_objective(f, box, o);
  REQUIRE(fit.success);
  CHECK(refused > 0);
  CHECK(fit.best[0] == Approx(1.0).margin(1e-7));
  CHECK(fit.best[1] == Approx(-0.5).margin(1e-7));

  box[0].start = 2;  // undefined at the start
  const auto none = anchor::fit_objective(f, box, o);
  CHECK_FALSE(none.success);
  CHECK_FALSE(none.starts[0].usable);
  CHECK_THAT(none.message, Catch::Contains("cannot be evaluated at the start"));
}

TEST_CASE("L-BFGS-B fit: a work budget stops a start where it is, and threads do not change a bit") {
  auto o = options(8);
  const std::vector<anchor::BoxParameter> box{entry("x", -2, 2), entry("y", -1, 3)};
  const auto free = anchor::fit_objective(rosenbrock, box, o);
  o.threads = 2;
  const auto two = anchor::fit_objective(rosenbrock, box, o);
  for (std::size_t s = 0; s < free.starts.size(); ++s) {
    CHECK(two.starts[s].optimum == free.starts[s].optimum);
    CHECK(two.starts[s].work == free.starts[s].work);
    CHECK_FALSE(free.starts[s].budget_spent);
  }
  o.work_budget = 10;  // evaluations here
  const auto capped = anchor::fit_objective(rosenbrock, box, o);
  REQUIRE(capped.success);
  for (const auto& s : capped.starts) {
    CHECK(s.budget_spent);
    CHECK(s.usable);
    CHECK(s.work >= 10);
    CHECK(s.work == 10);  // refuses the evaluation that would pass it (each costs 1 here)
    CHECK_THAT(s.message, Catch::Contains("work budget spent"));
    CHECK(s.cost >= free.starts[static_cast<std::size_t>(s.index)].cost);
  }
}
