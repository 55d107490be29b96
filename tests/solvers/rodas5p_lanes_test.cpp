// Rodas5P and the NDF on several samples stepped together (rodas5p_lanes.h, ndf_lanes.h,
// OdeSolver::solve_many): every sample's rows, status, statistics and final state are the
// one-sample solver's bit for bit, whatever the batch's size, the order of its samples, failures
// among them or a model that depends on t. Each case runs both integrators.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "physynth/core/templated_model.h"
#include "physynth/solvers/ode_solver.h"
#include "physynth/solvers/rosenbrock_solver.h"
#include "stiff_problems.h"
#include "support/test_problems.h"

using namespace physynth;
using solvers::RosenbrockOptions;
using solvers::RosenbrockResult;

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// y0' = -k y0 + a sin(w t), y1' = k y0 - y1 y1: depends on t (df/dt by a central difference);
// evaluates on lanes where Lanes says so.
template <bool Lanes>
class Forced final : public core::TemplatedModel<Forced<Lanes>> {
 public:
  static constexpr bool kEvaluatesLanes = Lanes;
  template <class T>
  void evaluate(const T& t, const T* y, const T* p, T* dydt) const {
    using std::sin;
    dydt[0] = -p[0] * y[0] + p[1] * sin(p[2] * t);
    dydt[1] = p[0] * y[0] - y[1] * y[1];
  }
  const std::string& name() const override { return name_; }
  const std::vector<core::VariableInfo>& states() const override { return states_; }
  const std::vector<core::VariableInfo>& parameters() const override { return parameters_; }
  void initial_state(const double*, double* y0) const override { y0[0] = 1.0, y0[1] = 0.0; }
  void initial_state_jacobian(const double*, double* jac) const override { std::fill(jac, jac + 6, 0.0); }

 private:
  std::string name_ = "forced";
  std::vector<core::VariableInfo> states_ = {{"y0", "", ""}, {"y1", "", ""}};
  std::vector<core::VariableInfo> parameters_ = {{"k", "", ""}, {"a", "", ""}, {"w", "", ""}};
};

// Each sample alone (RosenbrockSolver::solve) and all together (solve_lanes): equal bit for bit.
// Returns the results (of either).
std::vector<RosenbrockResult> check_formula(const core::Model& model, const std::vector<std::vector<double>>& params,
                                            const std::vector<double>& times, const RosenbrockOptions& o,
                                            const std::vector<solvers::Event>& events, solvers::StiffFormula formula) {
  const int n = static_cast<int>(model.num_states());
  const std::size_t T = times.size(), S = params.size();
  solvers::RosenbrockSolver one(n, o, formula), together(n, o, formula);
  REQUIRE(together.can_solve_lanes(model));
  std::vector<std::vector<double>> y0(S, std::vector<double>(static_cast<std::size_t>(n)));
  std::vector<double> a(S * T * static_cast<std::size_t>(n)), b(a.size(), 42.0);
  std::vector<RosenbrockResult> ra(S), rb(S);
  std::vector<solvers::LaneSample> batch(S);
  for (std::size_t s = 0; s < S; ++s) {
    model.initial_state(params[s].data(), y0[s].data());
    ra[s] = one.solve(model, params[s].data(), times.front(), y0[s].data(), times, &a[s * T * n], events);
    batch[s] = {params[s].data(), y0[s].data(), &b[s * T * n], &rb[s]};
  }
  together.solve_lanes(model, times.front(), times, batch.data(), S, events);
  CHECK(same_bits(a, b));
  for (std::size_t s = 0; s < S; ++s) {
    INFO("sample " << s << ": " << solvers::rosenbrock_status_name(ra[s].status) << " / "
                   << solvers::rosenbrock_status_name(rb[s].status));
    CHECK(ra[s].status == rb[s].status);
    CHECK(ra[s].rows_written == rb[s].rows_written);
    CHECK(std::memcmp(&ra[s].t_reached, &rb[s].t_reached, sizeof(double)) == 0);
    CHECK(same_bits(ra[s].final_state, rb[s].final_state));
    CHECK(ra[s].stats.steps == rb[s].stats.steps);
    CHECK(ra[s].stats.rejected == rb[s].stats.rejected);
    CHECK(ra[s].stats.rhs_evals == rb[s].stats.rhs_evals);
    CHECK(ra[s].stats.jacobian_evals == rb[s].stats.jacobian_evals);
    CHECK(ra[s].stats.factorizations == rb[s].stats.factorizations);
    REQUIRE(ra[s].events.size() == rb[s].events.size());
    for (std::size_t e = 0; e < ra[s].events.size(); ++e) {
      CHECK(ra[s].events[e].event == rb[s].events[e].event);
      CHECK(std::memcmp(&ra[s].events[e].t, &rb[s].events[e].t, sizeof(double)) == 0);
    }
  }
  return ra;
}

// check_formula for Rodas5P and for the NDF; Rodas5P's results.
std::vector<RosenbrockResult> check_lanes_equal_one_by_one(const core::Model& model,
                                                           const std::vector<std::vector<double>>& params,
                                                           const std::vector<double>& times, const RosenbrockOptions& o,
                                                           const std::vector<solvers::Event>& events = {}) {
  {
    INFO("the NDF");
    check_formula(model, params, times, o, events, solvers::StiffFormula::kNdf);
  }
  INFO("Rodas5P");
  return check_formula(model, params, times, o, events, solvers::StiffFormula::kRodas5P);
}

}  // namespace

TEST_CASE("Rodas5P on lanes: Robertson samples equal the one-sample solver bit for bit, any batch size") {
  const auto m = testing::network(testing::kRobertson);
  RosenbrockOptions o;
  o.rtol = 1e-6;
  o.atol_per_state = {1e-8, 1e-14, 1e-8};
  const std::vector<double> times = {0, 0.4, 4, 40, 400, 4e3, 4e4, 4e5, 4e6, 4e7, 4e8, 4e9, 4e10};
  for (std::size_t count : {1u, 3u, 4u, 5u, 11u}) {
    std::vector<std::vector<double>> params;
    for (std::size_t s = 0; s < count; ++s) {
      const double f = 0.8 + 0.4 * static_cast<double>(s) / 11.0;  // rate constants +-20 %
      params.push_back(testing::parameters(m, {{"k1", 0.04 * f}, {"k2", 3.0e7 / f}, {"k3", 1.0e4 * f * f}}));
    }
    INFO(count << " samples");
    check_lanes_equal_one_by_one(*m.model, params, times, o);
  }
  SECTION("the NDF's failed Newton iterations (a fresh Jacobian, then a halved step) and rejected steps, on lanes") {
    std::vector<std::vector<double>> params;
    for (std::size_t s = 0; s < 11; ++s) {
      const double f = 0.8 + 0.4 * static_cast<double>(s) / 11.0;
      params.push_back(testing::parameters(m, {{"k1", 0.04 * f}, {"k2", 3.0e7 / f}, {"k3", 1.0e4 * f * f}}));
    }
    const auto r = check_formula(*m.model, params, times, o, {}, solvers::StiffFormula::kNdf);
    long refreshed = 0, rejected = 0;
    for (const auto& x : r) {
      refreshed += x.stats.jacobian_evals - 1;  // beyond the first: each after a Newton iteration failed
      rejected += x.stats.rejected;
    }
    CHECK(refreshed > 0);
    CHECK(rejected > 0);
  }
  SECTION("a step budget that one sample meets exactly at its last step and others exceed") {
    std::vector<std::vector<double>> params;
    for (int s = 0; s < 6; ++s)
      params.push_back(testing::parameters(m, {{"k1", 0.04 * (0.8 + 0.08 * s)}, {"k2", 3.0e7}, {"k3", 1.0e4}}));
    solvers::RosenbrockSolver one(3, o);
    std::vector<double> y0(3), out(times.size() * 3);
    m.model->initial_state(params[3].data(), y0.data());
    auto budget = o;
    budget.max_steps = one.solve(*m.model, params[3].data(), 0.0, y0.data(), times, out.data()).stats.steps;
    check_lanes_equal_one_by_one(*m.model, params, times, budget);
  }
}

TEST_CASE("Rodas5P on lanes: every rate law, outputs inside steps, and samples that fail among those that do not") {
  const auto m = testing::network(testing::kEnzymeWithHill);
  const auto base = testing::parameters(m, testing::kEnzymeValues);
  std::vector<std::vector<double>> params;
  for (int s = 0; s < 9; ++s) {
    auto p = base;
    for (std::size_t j = 0; j < p.size(); ++j) p[j] *= 1.0 + 0.05 * ((s * 7 + static_cast<int>(j) * 3) % 11 - 5);
    params.push_back(p);
  }
  params[2][0] = std::numeric_limits<double>::quiet_NaN();  // a sample whose right-hand side is NaN at once
  RosenbrockOptions o;
  o.rtol = 1e-8;
  o.atol = 1e-12;
  SECTION("all run to the end but one") {
    check_lanes_equal_one_by_one(*m.model, params, testing::evenly(0, 20, 41), o);
  }
  SECTION("a step budget some samples exhaust") {
    o.max_steps = 60;
    check_lanes_equal_one_by_one(*m.model, params, testing::evenly(0, 20, 41), o);
  }
  SECTION("a largest step and outputs before the start") {
    o.max_step_size = 0.7;
    auto t = testing::evenly(0, 20, 41);
    t.insert(t.begin(), 0.0);
    check_lanes_equal_one_by_one(*m.model, params, t, o);
  }
}

TEST_CASE("Rodas5P on lanes: events, recorded and terminal, in some samples and not others, bit for bit") {
  const auto m = testing::network(testing::kRobertson);
  RosenbrockOptions o;
  o.rtol = 1e-6;
  o.atol_per_state = {1e-8, 1e-14, 1e-8};
  const std::vector<double> times = {0, 0.4, 4, 40, 100, 200, 400};
  std::vector<std::vector<double>> params;
  for (int s = 0; s < 10; ++s)
    params.push_back(testing::parameters(m, {{"k1", 0.02 + 0.005 * s}, {"k2", 3.0e7}, {"k3", 1.0e4}}));
  // C passes 0.2 (recorded); A falls below 0.5 (terminal: the samples with larger k1 before
  // t = 400, the others not); B through 3e-5, both ways (recorded).
  const std::vector<solvers::Event> events = {
      {"C 0.2", [](double, const double* y, const double*) { return y[2] - 0.2; }, +1, false},
      {"A low", [](double, const double* y, const double*) { return y[0] - 0.5; }, -1, true},
      {"B 3e-5", [](double, const double* y, const double*) { return y[1] - 3e-5; }, 0, false}};
  const auto r = check_lanes_equal_one_by_one(*m.model, params, times, o, events);
  int stopped = 0, recorded = 0;
  for (const auto& x : r) {
    stopped += x.status == solvers::RosenbrockStatus::kStoppedByEvent;
    recorded += static_cast<int>(x.events.size());
  }
  CHECK(stopped > 0);
  CHECK(stopped < static_cast<int>(r.size()));
  CHECK(recorded > stopped);
}

TEST_CASE("Rodas5P on lanes: a model that depends on t (df/dt) equals the one-sample solver bit for bit") {
  const Forced<true> model;
  REQUIRE(model.has_lane_rhs());
  REQUIRE_FALSE(model.is_autonomous());
  std::vector<std::vector<double>> params;
  for (int s = 0; s < 7; ++s) params.push_back({0.5 + 0.3 * s, 1.0 + 0.1 * s, 2.0 + s});
  RosenbrockOptions o;
  o.rtol = 1e-7;
  o.atol = 1e-10;
  check_lanes_equal_one_by_one(model, params, testing::evenly(0, 5, 26), o);
}

TEST_CASE("Rodas5P on lanes: a user's equations (their tape: max, sqrt, exp, pow, a comparison, t) bit for bit") {
  const auto m = testing::equations(R"Y(
states: [{name: x, initial: x0}, {name: v, initial: 0}]
definitions:
  drive: {value: "max(1 - x, 0)"}
equations:
  dx/dt: "v"
  dv/dt: "-k * x - c * v + a * sqrt(drive) + if(x > 0.5, 0.1 * exp(-x), 0) + (x^2 + 1)^0.3 * sin(w * t)"
)Y");
  REQUIRE(m.model->has_lane_rhs());
  std::vector<std::vector<double>> params;
  for (int s = 0; s < 9; ++s)
    params.push_back(testing::parameters(
        m, {{"x0", 0.2 + 0.1 * s}, {"k", 4.0 + s}, {"c", 0.3}, {"a", 1.0 + 0.2 * s}, {"w", 1.5 + 0.5 * s}}));
  RosenbrockOptions o;
  o.rtol = 1e-7;
  o.atol = 1e-10;
  check_lanes_equal_one_by_one(*m.model, params, testing::evenly(0, 8, 33), o);
}

TEST_CASE("OdeSolver::solve_many: the same rows and results as solve(), lanes or not, and only where it can") {
  const auto method_name = [](solvers::Method m) { return m == solvers::Method::kNdf ? "the NDF" : "Rodas5P"; };
  const auto m = testing::network(testing::kRobertson);
  solvers::OdeOptions o;
  o.method = solvers::Method::kRosenbrock;
  o.rtol = 1e-6;
  o.atol_per_state = {1e-8, 1e-14, 1e-8};
  const std::vector<double> times = {0, 0.4, 4, 40, 400, 4e3, 4e4, 4e5};
  const std::size_t S = 6, n = 3, T = times.size();
  std::vector<double> p, y0(S * n);
  for (std::size_t s = 0; s < S; ++s) {
    const auto ps = testing::parameters(m, {{"k1", 0.04 + 0.002 * s}, {"k2", 3.0e7}, {"k3", 1.0e4 - 100.0 * s}});
    p.insert(p.end(), ps.begin(), ps.end());
    m.model->initial_state(ps.data(), &y0[s * n]);
  }
  y0[4 * n + 1] = std::numeric_limits<double>::infinity();  // refused as solve() refuses it
  for (const auto method : {solvers::Method::kRosenbrock, solvers::Method::kNdf}) {
    INFO(method_name(method));
    o.method = method;
    solvers::OdeSolver alone(m.model, o), together(m.model, o);
    REQUIRE(together.steps_samples_together());
    std::vector<double> a(S * T * n), b(S * T * n);
    std::vector<solvers::SolveResult> rb(S);
    together.solve_many(S, p.data(), y0.data(), 0.0, times, b.data(), rb.data());
    for (std::size_t s = 0; s < S; ++s) {
      const auto ra = alone.solve(&p[s * m.model->num_parameters()], &y0[s * n], 0.0, times, &a[s * T * n]);
      INFO("sample " << s << ": " << ra.flag_name << " / " << rb[s].flag_name);
      CHECK(ra.status == rb[s].status);
      CHECK(ra.flag_name == rb[s].flag_name);
      CHECK(ra.message == rb[s].message);
      CHECK(ra.rows_written == rb[s].rows_written);
      CHECK(ra.stats.values() == rb[s].stats.values());
      CHECK(same_bits(ra.final_state, rb[s].final_state));
    }
    CHECK(same_bits(a, b));
    CHECK(alone.steps_taken() == together.steps_taken());
  }
  o.method = solvers::Method::kRosenbrock;
  // Not where it cannot: CVODES, a model without a lane right-hand side, sensitivities, events.
  solvers::OdeOptions bdf = o;
  bdf.method = solvers::Method::kBdf;
  CHECK_FALSE(solvers::OdeSolver(m.model, bdf).steps_samples_together());
  solvers::OdeOptions off = o;
  off.lanes = false;
  CHECK_FALSE(solvers::OdeSolver(m.model, off).steps_samples_together());
  solvers::OdeOptions sens = o;
  sens.sensitivity_parameters = {0};
  CHECK_FALSE(solvers::OdeSolver(m.model, sens).steps_samples_together());
  solvers::Event e{"B high", [](double, const double* y, const double*) { return y[1] - 1e-5; }, 0, false};
  CHECK(solvers::OdeSolver(m.model, o, {e}).steps_samples_together());  // events lane by lane
  solvers::OdeOptions two = o;
  two.atol_per_state.clear();
  CHECK_FALSE(solvers::OdeSolver(std::make_shared<Forced<false>>(), two).steps_samples_together());
  CHECK(solvers::OdeSolver(std::make_shared<Forced<true>>(), two).steps_samples_together());
}

TEST_CASE("core::Lanes: a constant in every lane keeps its sign and bits, arithmetic is lane by lane") {
  const core::Lanes z(-0.0);
  for (int l = 0; l < core::kLanes; ++l) CHECK(std::signbit(z[l]));
  core::Lanes a, b;
  for (int l = 0; l < core::kLanes; ++l) a.v[l] = 1.0 + l, b.v[l] = std::ldexp(1.0, -l) / 3.0;
  const core::Lanes c = pow(a, b) * 0.1 - 1.0 / (a + b);
  for (int l = 0; l < core::kLanes; ++l) {
    const double x = 1.0 + l, y = std::ldexp(1.0, -l) / 3.0, expected = std::pow(x, y) * 0.1 - 1.0 / (x + y);
    const double got = c[l];
    CHECK(std::memcmp(&got, &expected, sizeof(double)) == 0);
  }
}

TEST_CASE("Model::rhs_lanes: a model without a lane evaluate() gets each lane from rhs(), bit for bit") {
  const Forced<false> plain;
  const Forced<true> lanes;
  REQUIRE_FALSE(plain.has_lane_rhs());
  core::Lanes t, y[2], p[3], a[2], b[2];
  for (int l = 0; l < core::kLanes; ++l) {
    t.v[l] = 0.3 + l;
    y[0].v[l] = 1.0 / (l + 1), y[1].v[l] = 0.1 * l;
    p[0].v[l] = 0.5 + l, p[1].v[l] = 1.1, p[2].v[l] = 2.0 + 0.25 * l;
  }
  plain.rhs_lanes(t, y, p, a);
  lanes.rhs_lanes(t, y, p, b);
  for (int l = 0; l < core::kLanes; ++l) {
    const double yl[2] = {y[0][l], y[1][l]}, pl[3] = {p[0][l], p[1][l], p[2][l]};
    double f[2];
    plain.rhs(t[l], yl, pl, f);
    for (int i = 0; i < 2; ++i) {
      const double from_default = a[i][l], from_lanes = b[i][l];
      CHECK(std::memcmp(&from_default, &f[i], sizeof(double)) == 0);
      CHECK(std::memcmp(&from_lanes, &f[i], sizeof(double)) == 0);
    }
  }
}

TEST_CASE("OdeSolver::solve_many: samples whose right-hand side switches inside the span go one by one, the same") {
  // An input switched on at t_on: inside the span for some samples (solve() restarts there), past
  // its end for the others (they take the lanes).
  const auto m = testing::equations(R"Y(
states: [{name: x, initial: 1}]
equations: {dx/dt: "-k * x + if(t < t_on, 0, u)"}
)Y");
  REQUIRE(m.model->has_lane_rhs());
  solvers::OdeOptions o;
  o.method = solvers::Method::kRosenbrock;
  o.rtol = 1e-8;
  o.atol = 1e-12;
  const std::vector<double> times = testing::evenly(0, 10, 21);
  const std::size_t S = 7, T = times.size(), M = m.model->num_parameters();
  std::vector<double> p, y0(S, 1.0);
  for (std::size_t s = 0; s < S; ++s) {
    const auto ps = testing::parameters(m, {{"k", 0.5 + 0.1 * s}, {"u", 2.0}, {"t_on", s % 2 ? 3.0 + s : 20.0}});
    p.insert(p.end(), ps.begin(), ps.end());
  }
  solvers::OdeSolver alone(m.model, o), together(m.model, o);
  REQUIRE(together.steps_samples_together());
  std::vector<double> a(S * T), b(S * T);
  std::vector<solvers::SolveResult> rb(S);
  together.solve_many(S, p.data(), y0.data(), 0.0, times, b.data(), rb.data());
  for (std::size_t s = 0; s < S; ++s) {
    const auto ra = alone.solve(&p[s * M], &y0[s], 0.0, times, &a[s * T]);
    CHECK(ra.status == rb[s].status);
    CHECK(ra.stats.values() == rb[s].stats.values());
  }
  CHECK(same_bits(a, b));
}
