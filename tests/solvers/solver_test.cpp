#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "physynth/solvers/ode_solver.h"
#include "support/test_problems.h"

using namespace physynth;
using solvers::OdeOptions;
using solvers::OdeSolver;
using solvers::SolveStatus;

namespace {
std::vector<double> grid(double t0, double t1, int n) {
  std::vector<double> t(n);
  for (int i = 0; i < n; ++i) t[i] = t0 + (t1 - t0) * i / (n - 1);
  return t;
}
OdeOptions tight() {
  OdeOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-14;
  return o;
}
std::vector<double> initial(const core::BuiltModel& m, const std::vector<double>& p) {
  std::vector<double> y0(m.model->num_states());
  m.model->initial_state(p.data(), y0.data());
  return y0;
}
}  // namespace

TEST_CASE("OdeSolver: first-order decay matches exp(-kt) to 1e-6 relative") {
  const auto m = testing::network(testing::kDecay);
  const auto p = testing::parameters(m, {{"A0", 2.0}, {"k", 0.7}});
  const auto t = grid(0.0, 10.0, 41);
  for (auto method : {solvers::Method::kBdf, solvers::Method::kAdams}) {
    OdeOptions o = tight();
    o.method = method;
    OdeSolver solver(m.model, o);
    std::vector<double> out(t.size());
    const auto r = solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data());
    REQUIRE(r.status == SolveStatus::kSuccess);
    for (std::size_t i = 0; i < t.size(); ++i) CHECK(out[i] == Approx(testing::decay(t[i], 2.0, 0.7)).epsilon(1e-6));
  }
}

TEST_CASE("OdeSolver: reversible A <-> B matches its closed form to 1e-6 relative") {
  const auto m = testing::network(testing::kReversible);
  const auto p = testing::parameters(m, {{"A0", 3.0}, {"B0", 0.5}, {"kf", 2.0}, {"kr", 0.5}});
  const auto t = grid(0.0, 5.0, 51);
  OdeSolver solver(m.model, tight());
  std::vector<double> out(t.size() * 2);
  REQUIRE(solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data()).status == SolveStatus::kSuccess);
  for (std::size_t i = 0; i < t.size(); ++i) {
    const double a = testing::reversible_a(t[i], 3.0, 0.5, 2.0, 0.5);
    CHECK(out[2 * i] == Approx(a).epsilon(1e-6));
    CHECK(out[2 * i + 1] == Approx(3.5 - a).epsilon(1e-6));
  }
}

TEST_CASE("OdeSolver: binding A + B <-> AB matches its closed form to 1e-6 relative") {
  const auto m = testing::network(testing::kBinding);
  const auto p = testing::parameters(m, {{"A0", 10.0}, {"B0", 4.0}, {"kon", 0.05}, {"koff", 0.02}});
  const auto t = grid(0.0, 60.0, 61);
  for (auto ls : {solvers::LinearSolverKind::kDense, solvers::LinearSolverKind::kKlu}) {
    OdeOptions o = tight();
    o.linear_solver = ls;
    OdeSolver solver(m.model, o);
    std::vector<double> out(t.size() * 3);
    REQUIRE(solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data()).status == SolveStatus::kSuccess);
    for (std::size_t i = 1; i < t.size(); ++i) {
      const double ab = testing::binding_ab(t[i], 10.0, 4.0, 0.05, 0.02);
      CHECK(out[3 * i + 2] == Approx(ab).epsilon(1e-6));
      CHECK(out[3 * i + 0] == Approx(10.0 - ab).epsilon(1e-6));
      CHECK(out[3 * i + 1] == Approx(4.0 - ab).epsilon(1e-6));
    }
  }
}

TEST_CASE("OdeSolver: Robertson matches the reference at t=40 and t=1e11") {
  const auto m = testing::network(testing::kRobertson);
  const auto p = testing::parameters(m, testing::kRobertsonRates);
  const std::vector<double> t = {40.0, 1e11};
  for (auto ls : {solvers::LinearSolverKind::kDense, solvers::LinearSolverKind::kKlu}) {
    OdeOptions o;
    o.linear_solver = ls;
    o.rtol = 1e-10;
    o.atol_per_state = {1e-14, 1e-20, 1e-14};
    OdeSolver solver(m.model, o);
    std::vector<double> out(t.size() * 3);
    const auto r = solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data());
    REQUIRE(r.status == SolveStatus::kSuccess);
    for (int i = 0; i < 3; ++i) {
      CHECK(out[i] == Approx(testing::kRobertsonAt40[i]).epsilon(1e-8));
      CHECK(out[3 + i] == Approx(testing::kRobertsonAt1e11[i]).epsilon(1e-6));
    }
  }
}

TEST_CASE("OdeSolver: Robertson conserves A + B + C up to t = 1e10") {
  const auto m = testing::network(testing::kRobertson);
  const auto p = testing::parameters(m, testing::kRobertsonRates);
  std::vector<double> t;
  for (double x = 1e-6; x <= 1e10 * 1.0001; x *= 10.0) t.push_back(x);
  OdeOptions o;
  o.rtol = 1e-6;
  o.atol_per_state = {1e-8, 1e-14, 1e-8};
  OdeSolver solver(m.model, o);
  std::vector<double> out(t.size() * 3);
  REQUIRE(solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data()).status == SolveStatus::kSuccess);
  for (std::size_t i = 0; i < t.size(); ++i)
    CHECK(std::fabs(out[3 * i] + out[3 * i + 1] + out[3 * i + 2] - 1.0) < 1e-12);
}

TEST_CASE("OdeSolver: events are located, recorded, and a terminal one stops the solve") {
  const auto m = testing::network(testing::kDecay);
  const auto p = testing::parameters(m, {{"A0", 1.0}, {"k", 0.5}});
  const auto t = grid(0.0, 10.0, 11);
  auto below = [](double level) { return [level](double, const double* y, const double*) { return y[0] - level; }; };
  {
    OdeSolver solver(m.model, tight(), {{"half", below(0.5), -1, false}});
    std::vector<double> out(t.size());
    const auto r = solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data());
    REQUIRE(r.status == SolveStatus::kSuccess);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].t == Approx(std::log(2.0) / 0.5).epsilon(1e-8));
    CHECK(r.rows_written == t.size());
  }
  {
    OdeSolver solver(m.model, tight(), {{"quarter", below(0.25), -1, true}, {"rising", below(0.9), +1, false}});
    std::vector<double> out(t.size());
    const auto r = solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data());
    REQUIRE(r.status == SolveStatus::kStoppedByEvent);
    REQUIRE(r.events.size() == 1);  // the rising event never fires on a decay
    const double t_stop = std::log(4.0) / 0.5;
    CHECK(r.t_reached == Approx(t_stop).epsilon(1e-8));
    CHECK(r.final_state[0] == Approx(0.25).epsilon(1e-8));
    CHECK(r.rows_written == 3);  // t = 0, 1, 2 precede 2.77
    CHECK(std::isnan(out[3]));
    CHECK(std::isnan(out.back()));
  }
}

TEST_CASE("OdeSolver: a failed solve is reported with its flag and leaves NaN, never throws") {
  const auto m = testing::network(testing::kRobertson);
  const auto p = testing::parameters(m, testing::kRobertsonRates);
  OdeOptions o;
  o.max_steps = 50;
  OdeSolver solver(m.model, o);
  const std::vector<double> t = {1.0, 1e3, 1e6};
  std::vector<double> out(9);
  const auto r = solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data());
  CHECK(r.status == SolveStatus::kFailed);
  CHECK(r.flag_name == "CV_TOO_MUCH_WORK");
  CHECK(r.t_reached < 1e6);
  CHECK(r.stats.steps <= 50);
  CHECK(std::isnan(out[8]));
  // The same solver goes on to solve the next sample normally.
  OdeOptions ok;
  OdeSolver good(m.model, ok);
  CHECK(good.solve(p.data(), initial(m, p).data(), 0.0, t, out.data()).status == SolveStatus::kSuccess);
}

TEST_CASE("OdeSolver: memory is created once and reused, repeated solves are bitwise equal") {
  const auto m = testing::network(testing::kBinding);
  const auto p1 = testing::parameters(m, {{"A0", 10.0}, {"B0", 4.0}, {"kon", 0.05}, {"koff", 0.02}});
  const auto p2 = testing::parameters(m, {{"A0", 1.0}, {"B0", 40.0}, {"kon", 0.5}, {"koff", 0.2}});
  const auto t = grid(0.0, 60.0, 7);
  OdeSolver solver(m.model, OdeOptions{});
  std::vector<double> a(21), b(21), c(21);
  solver.solve(p1.data(), initial(m, p1).data(), 0.0, t, a.data());
  solver.solve(p2.data(), initial(m, p2).data(), 0.0, t, b.data());
  const auto r = solver.solve(p1.data(), initial(m, p1).data(), 0.0, t, c.data());
  CHECK(solver.instances_created() == 1);
  CHECK(a == c);
  CHECK(r.stats.steps > 0);
  CHECK(r.stats.jacobian_evals > 0);
}

TEST_CASE("OdeOptions: validate names the field, the value and the constraint") {
  OdeOptions o;
  o.rtol = -1e-6;
  o.atol_per_state = {1e-8};
  o.max_order = 9;
  const auto errors = o.validate(3);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0] == "rtol must be > 0, got -1e-06");
  CHECK(errors[1] == "atol_per_state must have one entry per state (3), got 1");
  CHECK(errors[2] == "max_order must be between 1 and 5 for bdf (0 for the default), got 9");
  CHECK_THROWS_AS(OdeSolver(testing::network(testing::kDecay).model, o), std::invalid_argument);
}

TEST_CASE("OdeSolver: forward sensitivities of decay equal the analytic derivatives") {
  const auto m = testing::network(testing::kDecay);
  const auto p = testing::parameters(m, {{"A0", 2.0}, {"k", 0.7}});
  const auto t = grid(0.0, 5.0, 11);
  for (auto method : {solvers::Method::kBdf, solvers::Method::kAdams}) {
    OdeOptions o = tight();
    o.method = method;
    o.sensitivity_parameters = {m.model->parameter_index("A0"), m.model->parameter_index("k")};
    OdeSolver solver(m.model, o);
    std::vector<double> out(t.size()), sens(t.size() * 2);
    REQUIRE(solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data(), sens.data()).status ==
            SolveStatus::kSuccess);
    for (std::size_t i = 0; i < t.size(); ++i) {
      CHECK(sens[2 * i + 0] == Approx(std::exp(-0.7 * t[i])).epsilon(1e-6));                              // dA/dA0
      CHECK(sens[2 * i + 1] == Approx(-t[i] * 2.0 * std::exp(-0.7 * t[i])).epsilon(1e-6).margin(1e-12));  // dA/dk
    }
  }
}

TEST_CASE("OdeSolver: forward sensitivities of binding equal derivatives of the closed form") {
  const auto m = testing::network(testing::kBinding);
  const std::map<std::string, double> base = {{"A0", 10.0}, {"B0", 4.0}, {"kon", 0.05}, {"koff", 0.02}};
  const auto p = testing::parameters(m, base);
  const auto t = grid(0.0, 60.0, 13);
  const std::vector<std::string> names = {"A0", "B0", "kon", "koff"};
  OdeOptions o = tight();
  for (const auto& nm : names) o.sensitivity_parameters.push_back(m.model->parameter_index(nm));
  OdeSolver solver(m.model, o);
  std::vector<double> out(t.size() * 3), sens(t.size() * 4 * 3);
  REQUIRE(solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data(), sens.data()).status ==
          SolveStatus::kSuccess);
  for (std::size_t j = 0; j < names.size(); ++j) {
    for (std::size_t i = 1; i < t.size(); ++i) {
      auto plus = base, minus = base;
      const double h = 1e-6 * base.at(names[j]);
      plus[names[j]] += h;
      minus[names[j]] -= h;
      auto ab = [&](const std::map<std::string, double>& v) {
        return testing::binding_ab(t[i], v.at("A0"), v.at("B0"), v.at("kon"), v.at("koff"));
      };
      const double expected = (ab(plus) - ab(minus)) / (2 * h);
      INFO(names[j] << " at t = " << t[i]);
      CHECK(sens[(i * 4 + j) * 3 + 2] == Approx(expected).epsilon(1e-5).margin(1e-9));
    }
  }
}

TEST_CASE("OdeSolver: Robertson's sensitivities agree with finite differences of whole solves") {
  const auto m = testing::network(testing::kRobertson);
  auto p = testing::parameters(m, testing::kRobertsonRates);
  const std::vector<double> t = {0.4, 40.0, 4e4};
  const int k1 = m.model->parameter_index("k1"), k3 = m.model->parameter_index("k3");
  OdeOptions o;
  o.rtol = 1e-10;
  o.atol_per_state = {1e-14, 1e-20, 1e-14};
  OdeOptions with = o;
  with.sensitivity_parameters = {k1, k3};
  OdeSolver solver(m.model, with), plain(m.model, o);
  std::vector<double> out(9), sens(t.size() * 2 * 3), up(9), down(9);
  REQUIRE(solver.solve(p.data(), initial(m, p).data(), 0.0, t, out.data(), sens.data()).status ==
          SolveStatus::kSuccess);
  for (int j = 0; j < 2; ++j) {
    const int idx = j == 0 ? k1 : k3;
    const double saved = p[idx], h = 1e-5 * saved;
    p[idx] = saved + h;
    plain.solve(p.data(), initial(m, p).data(), 0.0, t, up.data());
    p[idx] = saved - h;
    plain.solve(p.data(), initial(m, p).data(), 0.0, t, down.data());
    p[idx] = saved;
    for (std::size_t i = 0; i < t.size(); ++i)
      for (int s = 0; s < 3; ++s) {
        const double fd = (up[3 * i + s] - down[3 * i + s]) / (2 * h);
        INFO("parameter " << j << ", t = " << t[i] << ", state " << s);
        // Finite differences of solves carry the solves' error, about rtol |y| / h.
        const double fd_error = 10.0 * o.rtol * std::max(std::fabs(out[3 * i + s]), 1e-14) / h;
        CHECK(sens[(i * 2 + j) * 3 + s] == Approx(fd).epsilon(1e-4).margin(fd_error));
      }
  }
}
