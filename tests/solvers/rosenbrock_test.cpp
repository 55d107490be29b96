// Rodas5P against closed forms, the Robertson reference (Hairer & Wanner; Mazzia's test set) and
// CVODES at tight tolerance; fixed-size and dynamic-size give the same numbers; the dense output
// is as accurate as the steps; the observed order is 5.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "physynth/solvers/ode_solver.h"
#include "physynth/solvers/rosenbrock.h"
#include "physynth/solvers/rosenbrock_solver.h"
#include "stiff_problems.h"
#include "support/test_problems.h"

using namespace physynth;
using solvers::Rodas5P;
using solvers::RosenbrockOptions;
using solvers::RosenbrockStatus;

const auto initial = testing::start_of;
const auto grid = testing::evenly;

TEST_CASE("Rodas5P: decay, reversible and binding match their closed forms at every output time") {
  CHECK(testing::check_closed_forms<Rodas5P>() < 200);  // decay's steps
}

TEST_CASE("Rodas5P: Robertson matches the reference at t = 40 and t = 1e11, fixed and dynamic size alike") {
  const auto m = testing::network(testing::kRobertson);
  const auto p = testing::parameters(m, testing::kRobertsonRates);
  const std::vector<double> t = {40.0, 1e11};
  RosenbrockOptions o;
  o.rtol = 1e-10;
  o.atol_per_state = {1e-14, 1e-20, 1e-14};
  const auto y0 = initial(m, p);
  Rodas5P<3> fixed(3, o);
  Rodas5P<Eigen::Dynamic> dynamic(3, o);
  std::vector<double> a(6), b(6);
  const auto ra = fixed.solve(solvers::ModelSystem<3>(*m.model, p.data(), true), 0.0, y0.data(), t, a.data());
  const auto rb =
      dynamic.solve(solvers::ModelSystem<Eigen::Dynamic>(*m.model, p.data(), true), 0.0, y0.data(), t, b.data());
  REQUIRE(ra.status == RosenbrockStatus::kSuccess);
  REQUIRE(rb.status == RosenbrockStatus::kSuccess);
  for (int i = 0; i < 3; ++i) {
    INFO("state " << i << ": " << a[3 + i] << " (fixed) " << b[3 + i] << " (dynamic) diff " << a[3 + i] - b[3 + i]
                  << ", steps " << ra.stats.steps << " " << rb.stats.steps);
    CHECK(a[i] == Approx(testing::kRobertsonAt40[i]).epsilon(1e-8));
    CHECK(a[3 + i] == Approx(testing::kRobertsonAt1e11[i]).epsilon(1e-6));
    // The same method and steps; the sums differ only in the rounding of Eigen's fixed-size
    // vectorisation, which 2,000 steps of a stiff problem carry to within the tolerance asked for.
    const double tol = o.atol_per_state[static_cast<std::size_t>(i)];
    CHECK(std::abs(a[i] - b[i]) <= tol + o.rtol * std::abs(a[i]));
    CHECK(std::abs(a[3 + i] - b[3 + i]) <= tol + o.rtol * std::abs(a[3 + i]));
  }
  CHECK(ra.stats.steps == rb.stats.steps);
  // Conservation: A + B + C = 1, kept by the linear stages.
  CHECK(a[3] + a[4] + a[5] == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("Rodas5P: agrees with CVODES at tight tolerance within the tolerance asked for") {
  const auto m = testing::network(testing::kRobertson);
  const auto p = testing::parameters(m, testing::kRobertsonRates);
  const auto y0 = initial(m, p);
  std::vector<double> t;
  for (int k = -4; k <= 8; ++k) t.push_back(std::pow(10.0, k));
  solvers::OdeOptions co;
  co.rtol = 1e-12;
  co.atol_per_state = {1e-16, 1e-22, 1e-16};
  solvers::OdeSolver cvodes(m.model, co);
  std::vector<double> ref(t.size() * 3), out(t.size() * 3);
  REQUIRE(cvodes.solve(p.data(), y0.data(), 0.0, t, ref.data()).status == solvers::SolveStatus::kSuccess);
  for (double rtol : {1e-4, 1e-6, 1e-8}) {
    RosenbrockOptions o;
    o.rtol = rtol;
    o.atol_per_state = {rtol * 1e-4, rtol * 1e-10, rtol * 1e-4};
    Rodas5P<3> ros(3, o);
    REQUIRE(ros.solve(solvers::ModelSystem<3>(*m.model, p.data()), 0.0, y0.data(), t, out.data()).status ==
            RosenbrockStatus::kSuccess);
    double worst = 0.0;
    for (std::size_t i = 0; i < out.size(); ++i)
      worst = std::max(worst, std::abs(out[i] - ref[i]) / (o.atol_per_state[i % 3] + rtol * std::abs(ref[i])));
    INFO("rtol " << rtol << ": worst error in units of the tolerance " << worst);
    CHECK(worst < 10.0);  // a global error within a few local tolerances
  }
}

TEST_CASE("Rodas5P: the error falls with the fifth power of the step (observed order)") {
  // y' = -y + sin(t) (non-autonomous: df/dt enters through d), y(0) = 1; closed form below.
  struct Forced {
    using Vec = Eigen::Matrix<double, 1, 1>;
    using Mat = Eigen::Matrix<double, 1, 1>;
    void rhs(double t, const Vec& y, Vec& f) const { f[0] = -y[0] + std::sin(t); }
    void jacobian(double, const Vec&, Mat& J) const { J(0, 0) = -1.0; }
    void time_derivative(double t, const Vec&, const Vec&, Vec& ft) const { ft[0] = std::cos(t); }
  };
  const auto exact = [](double t) { return 1.5 * std::exp(-t) + 0.5 * (std::sin(t) - std::cos(t)); };
  std::vector<double> errors;
  for (double h : {0.2, 0.1, 0.05}) {
    RosenbrockOptions o;
    o.rtol = 1.0;  // every step accepted: a fixed step h
    o.atol = 1.0;
    o.initial_step_size = h;
    o.max_step_size = h;
    Rodas5P<1> ros(1, o);
    const double y0 = 1.0;
    double y = 0.0;
    REQUIRE(ros.solve(Forced{}, 0.0, &y0, {2.0}, &y).status == RosenbrockStatus::kSuccess);
    errors.push_back(std::abs(y - exact(2.0)));
  }
  const double order1 = std::log2(errors[0] / errors[1]), order2 = std::log2(errors[1] / errors[2]);
  INFO("errors " << errors[0] << ", " << errors[1] << ", " << errors[2]);
  CHECK(order1 > 4.5);
  CHECK(order2 > 4.5);
}

TEST_CASE("Rodas5P: a blow-up is reported, not returned as numbers") {
  RosenbrockOptions o;
  o.max_steps = 5000;
  Rodas5P<1> ros(1, o);
  const double y0 = 1.0;
  std::vector<double> out(2);
  const auto r = ros.solve(testing::BlowUp{}, 0.0, &y0, {0.5, 2.0}, out.data());
  CHECK(r.status != RosenbrockStatus::kSuccess);
  CHECK(r.rows_written == 1);
  CHECK(out[0] == Approx(2.0).epsilon(1e-5));  // y(0.5) = 1 / (1 - 0.5)
  CHECK(std::isnan(out[1]));
  CHECK(r.t_reached < 1.01);  // it stops at the singularity, within its steps' resolution
}

TEST_CASE("Rodas5P: a step the error test shortens near the end is not put back to the end (no endless rejections)") {
  // The right-hand side is not finite past T, just short of the end: a step to the end is
  // rejected, and the shortened step still ends within the time's resolution of the end. The
  // solver used to put that step back to the end and reject it again, forever (Crauste 2017).
  const double t_end = 1.0, resolution = 16.0 * std::numeric_limits<double>::epsilon();
  const double t0 = t_end - 1.1 * resolution, T = t0 + 0.05 * resolution;
  struct Wall {
    double T;
    using Vec = Eigen::Matrix<double, 1, 1>;
    using Mat = Eigen::Matrix<double, 1, 1>;
    void rhs(double t, const Vec&, Vec& f) const { f[0] = t > T ? std::numeric_limits<double>::quiet_NaN() : 1.0; }
    void jacobian(double, const Vec&, Mat& J) const { J(0, 0) = 0.0; }
    void time_derivative(double, const Vec&, const Vec&, Vec& ft) const { ft[0] = 0.0; }
  };
  Rodas5P<1> ros(1, RosenbrockOptions{});
  const double y0 = 0.0;
  std::vector<double> out(2);
  const auto r = ros.solve(Wall{T}, t0, &y0, {t0, t_end}, out.data());
  CHECK(r.status == RosenbrockStatus::kStepTooSmall);
  CHECK(r.stats.rejected < 10);
  CHECK(r.rows_written == 1);
  CHECK(std::isnan(out[1]));
}

using testing::Oscillator;

TEST_CASE("Rodas5P: events are located on the dense output, recorded or terminal, by direction") {
  RosenbrockOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  const double y0[] = {0.0, 1.0};
  const auto t = grid(0.0, 10.0, 21);
  std::vector<double> out(t.size() * 2);
  // y = sin t crosses 0 at k pi (rising at even k, falling at odd); y = 0.5 first at pi/6. The
  // root at t = 0 itself is not an event (inactive until it moves away, as in CVODES).
  std::vector<solvers::Event> events(3);
  events[0] = {"zero", [](double, const double* y, const double*) { return y[0]; }, 0, false};
  events[1] = {"rising zero", [](double, const double* y, const double*) { return y[0]; }, +1, false};
  events[2] = {"half", [](double, const double* y, const double*) { return y[0] - 0.5; }, +1, false};
  Rodas5P<2> ros(2, o);
  auto r = ros.solve(Oscillator{}, 0.0, y0, t, out.data(), events);
  REQUIRE(r.status == RosenbrockStatus::kSuccess);
  std::vector<double> zero, rising, half;
  for (const auto& e : r.events) (e.event == 0 ? zero : e.event == 1 ? rising : half).push_back(e.t);
  REQUIRE(zero.size() == 3);  // pi, 2 pi, 3 pi
  for (int k = 0; k < 3; ++k) CHECK(zero[k] == Approx((k + 1) * M_PI).epsilon(1e-9));
  REQUIRE(rising.size() == 1);
  CHECK(rising[0] == Approx(2 * M_PI).epsilon(1e-9));
  REQUIRE(half.size() == 2);  // pi/6 and 2 pi + pi/6
  CHECK(half[0] == Approx(M_PI / 6).epsilon(1e-9));
  CHECK(half[1] == Approx(2 * M_PI + M_PI / 6).epsilon(1e-9));
  for (std::size_t k = 1; k < r.events.size(); ++k) CHECK(r.events[k].t >= r.events[k - 1].t);

  // Terminal: stops at the first falling crossing of 0.5 (t = 5 pi / 6); outputs before it are
  // written, the rest NaN, and the final state is the state at the event.
  std::vector<solvers::Event> stop(1);
  stop[0] = {"down", [](double, const double* y, const double*) { return y[0] - 0.5; }, -1, true};
  r = ros.solve(Oscillator{}, 0.0, y0, t, out.data(), stop);
  REQUIRE(r.status == RosenbrockStatus::kStoppedByEvent);
  CHECK(r.t_reached == Approx(5 * M_PI / 6).epsilon(1e-10));
  REQUIRE(r.events.size() == 1);
  CHECK(r.rows_written == 6);  // t = 0, 0.5, ..., 2.5 < 5 pi / 6 = 2.618
  CHECK(out[2 * 5] == Approx(std::sin(2.5)).epsilon(1e-8));
  CHECK(std::isnan(out[2 * 6]));
  REQUIRE(r.final_state.size() == 2);
  CHECK(r.final_state[0] == Approx(0.5).epsilon(1e-9));
  CHECK(r.final_state[1] == Approx(std::cos(5 * M_PI / 6)).epsilon(1e-8));
}

TEST_CASE("Rodas5P: event times agree with CVODES' root finding on the engine's events") {
  // Decay to a threshold: A0 e^(-k t) = A0 / 2 at ln 2 / k, through the same Event objects.
  const auto m = testing::network(testing::kDecay);
  const auto p = testing::parameters(m, {{"A0", 2.0}, {"k", 0.7}});
  std::vector<solvers::Event> events(1);
  events[0] = {"half", [](double, const double* y, const double*) { return y[0] - 1.0; }, -1, true};
  const auto t = grid(0.0, 10.0, 11);
  std::vector<double> a(t.size()), b(t.size());
  RosenbrockOptions o;
  o.rtol = 1e-8;
  o.atol = 1e-12;
  Rodas5P<1> ros(1, o);
  const auto r =
      ros.solve(solvers::ModelSystem<1>(*m.model, p.data()), 0.0, initial(m, p).data(), t, a.data(), events, p.data());
  solvers::OdeOptions co;
  co.rtol = 1e-8;
  co.atol = 1e-12;
  solvers::OdeSolver cvodes(m.model, co, events);
  const auto c = cvodes.solve(p.data(), initial(m, p).data(), 0.0, t, b.data());
  REQUIRE(r.status == RosenbrockStatus::kStoppedByEvent);
  REQUIRE(c.status == solvers::SolveStatus::kStoppedByEvent);
  CHECK(r.t_reached == Approx(std::log(2.0) / 0.7).epsilon(1e-7));  // the solution's own accuracy (rtol 1e-8)
  CHECK(r.t_reached == Approx(c.t_reached).epsilon(1e-7));
  CHECK(r.rows_written == c.rows_written);
}

namespace {
// Every parameter's index, in order.
std::vector<int> all_parameters(const core::BuiltModel& m) {
  std::vector<int> c(m.model->num_parameters());
  for (std::size_t k = 0; k < c.size(); ++k) c[k] = static_cast<int>(k);
  return c;
}
}  // namespace

TEST_CASE("Rodas5P sensitivities: decay against the closed form, initial-value parameter included") {
  const auto m = testing::network(testing::kDecay);
  const auto p = testing::parameters(m, {{"A0", 2.0}, {"k", 0.7}});
  const auto cols = all_parameters(m);  // A0 (sets y0) and k
  const auto t = grid(0.0, 10.0, 41);
  RosenbrockOptions o;
  o.rtol = 1e-9;
  o.atol = 1e-13;
  solvers::RosenbrockSolver ros(1, o);
  std::vector<double> out(t.size()), sens(t.size() * 2);
  const auto r =
      ros.solve(*m.model, p.data(), 0.0, initial(m, p).data(), t, out.data(), {}, cols, nullptr, sens.data());
  REQUIRE(r.status == RosenbrockStatus::kSuccess);
  const auto a0 = static_cast<std::size_t>(m.model->parameter_index("A0"));
  const auto k = static_cast<std::size_t>(m.model->parameter_index("k"));
  for (std::size_t i = 0; i < t.size(); ++i) {
    CHECK(sens[i * 2 + a0] == Approx(std::exp(-0.7 * t[i])).epsilon(1e-7).margin(1e-12));
    CHECK(sens[i * 2 + k] == Approx(-t[i] * 2.0 * std::exp(-0.7 * t[i])).epsilon(1e-7).margin(1e-12));
  }
}

TEST_CASE("Rodas5P sensitivities: agree with CVODES' and with finite differences of Rodas5P itself") {
  // Stiff and nonlinear (Robertson), and every rate law with y-dependent Jacobians (Hill, MM),
  // so the coupling term X k of the extended W matters.
  struct Case {
    const char* model;
    std::map<std::string, double> values;
    std::vector<double> times;
    double rtol;
    std::vector<double> atol;
  };
  std::vector<double> rob_t, enz_t = grid(0.0, 20.0, 41);
  for (int e = -3; e <= 6; ++e) rob_t.push_back(std::pow(10.0, e));
  const std::vector<Case> cases = {
      {testing::kRobertson, testing::kRobertsonRates, rob_t, 1e-8, {1e-12, 1e-18, 1e-12}},
      {testing::kEnzymeWithHill, testing::kEnzymeValues, enz_t, 1e-8, {1e-12, 1e-12, 1e-12, 1e-12, 1e-12}}};
  for (const Case& c : cases) {
    const auto m = testing::network(c.model);
    const auto p = testing::parameters(m, c.values);
    const std::size_t n = m.model->num_states(), T = c.times.size();
    const auto cols = all_parameters(m);
    const std::size_t K = cols.size();
    const auto y0 = initial(m, p);
    // CVODES at 100 times tighter tolerances, its own sensitivities.
    solvers::OdeOptions co;
    co.rtol = c.rtol * 1e-2;
    co.atol_per_state = c.atol;
    for (auto& a : co.atol_per_state) a *= 1e-2;
    co.sensitivity_parameters = cols;
    co.max_steps = 1000000;
    solvers::OdeSolver cvodes(m.model, co);
    std::vector<double> ref(T * n), ref_s(T * K * n);
    REQUIRE(cvodes.solve(p.data(), y0.data(), 0.0, c.times, ref.data(), ref_s.data()).status ==
            solvers::SolveStatus::kSuccess);
    RosenbrockOptions o;
    o.rtol = c.rtol;
    o.atol_per_state = c.atol;
    solvers::RosenbrockSolver ros(static_cast<int>(n), o);
    std::vector<double> out(T * n), sens(T * K * n);
    REQUIRE(ros.solve(*m.model, p.data(), 0.0, y0.data(), c.times, out.data(), {}, cols, nullptr, sens.data()).status ==
            RosenbrockStatus::kSuccess);
    // The states are those of a run without sensitivities, within its tolerance.
    std::vector<double> plain(T * n);
    solvers::RosenbrockSolver(static_cast<int>(n), o).solve(*m.model, p.data(), 0.0, y0.data(), c.times, plain.data());
    for (std::size_t i = 0; i < plain.size(); ++i)
      CHECK(out[i] == Approx(plain[i]).epsilon(1e-6).margin(10 * c.atol[i % n]));
    // Each sensitivity column against CVODES', relative to that column's largest value.
    for (std::size_t k = 0; k < K; ++k) {
      for (std::size_t i = 0; i < n; ++i) {
        double scale = 0.0, worst = 0.0;
        for (std::size_t r = 0; r < T; ++r) scale = std::max(scale, std::abs(ref_s[(r * K + k) * n + i]));
        for (std::size_t r = 0; r < T; ++r)
          worst = std::max(worst, std::abs(sens[(r * K + k) * n + i] - ref_s[(r * K + k) * n + i]));
        INFO(m.model->parameters()[k].name << ", state " << m.model->states()[i].name << ": largest |dy/dp| " << scale
                                           << ", largest difference from CVODES " << worst);
        CHECK(worst <= 1e-5 * scale + 1e-3 * c.atol[i] / c.rtol);
      }
      // A central difference of Rodas5P itself, at 10^3 tighter tolerances, in the same norm
      // (parameters at 0, initial values that cannot go below 0, are checked against CVODES alone).
      if (p[k] == 0.0) continue;
      RosenbrockOptions tight = o;
      tight.rtol *= 1e-3;
      for (auto& a : tight.atol_per_state) a *= 1e-3;
      const double h = 1e-5 * std::abs(p[k]);
      std::vector<double> pp = p, pm = p, yp(T * n), ym(T * n), y0p(n), y0m(n);
      pp[k] += h;
      pm[k] -= h;
      const double span = pp[k] - pm[k];
      m.model->initial_state(pp.data(), y0p.data());
      m.model->initial_state(pm.data(), y0m.data());
      solvers::RosenbrockSolver a(static_cast<int>(n), tight), b(static_cast<int>(n), tight);
      REQUIRE(a.solve(*m.model, pp.data(), 0.0, y0p.data(), c.times, yp.data()).status == RosenbrockStatus::kSuccess);
      REQUIRE(b.solve(*m.model, pm.data(), 0.0, y0m.data(), c.times, ym.data()).status == RosenbrockStatus::kSuccess);
      for (std::size_t i = 0; i < n; ++i) {
        double scale = 0.0, worst = 0.0;
        for (std::size_t r = 0; r < T; ++r) scale = std::max(scale, std::abs(ref_s[(r * K + k) * n + i]));
        for (std::size_t r = 0; r < T; ++r)
          worst = std::max(worst, std::abs(sens[(r * K + k) * n + i] - (yp[r * n + i] - ym[r * n + i]) / span));
        INFO(m.model->parameters()[k].name << ", state " << m.model->states()[i].name
                                           << ": largest difference from the central difference " << worst);
        CHECK(worst <= 1e-4 * scale + 1e-2 * c.atol[i] / c.rtol);
      }
    }
  }
}

TEST_CASE("Rodas5P sensitivities: above 8 states (one directional difference per stage) agree with CVODES'") {
  // Robertson's stiff kinetics feeding a chain of 7 more species: C -> D1 -> ... -> D7.
  std::string yaml = R"(species: [{name: A, initial: 1}, {name: B, initial: 0}, {name: C, initial: 0})";
  for (int i = 1; i <= 7; ++i) yaml += ", {name: D" + std::to_string(i) + ", initial: 0}";
  yaml +=
      "]\nreactions:\n  - {equation: \"A -> B\", k: k1}\n  - {equation: \"2 B -> B + C\", k: k2}\n"
      "  - {equation: \"B + C -> A + C\", k: k3}\n  - {equation: \"C -> D1\", k: c0}\n";
  for (int i = 1; i < 7; ++i)
    yaml += "  - {equation: \"D" + std::to_string(i) + " -> D" + std::to_string(i + 1) + "\", k: c" +
            std::to_string(i) + "}\n";
  const auto m = testing::network(yaml);
  std::map<std::string, double> values = testing::kRobertsonRates;
  for (int i = 0; i < 7; ++i) values["c" + std::to_string(i)] = 0.01 * (i + 1);
  const auto p = testing::parameters(m, values);
  const std::size_t n = 10, K = 3;
  REQUIRE(m.model->num_states() == n);
  const std::vector<int> cols = {m.model->parameter_index("k1"), m.model->parameter_index("k2"),
                                 m.model->parameter_index("k3")};
  std::vector<double> t;
  for (int e = -3; e <= 3; ++e) t.push_back(std::pow(10.0, e));
  const auto y0 = initial(m, p);
  solvers::OdeOptions co;
  co.rtol = 1e-11;
  co.atol = 1e-16;
  co.sensitivity_parameters = cols;
  co.max_steps = 1000000;
  std::vector<double> ref(t.size() * n), ref_s(t.size() * K * n), out(t.size() * n), sens(t.size() * K * n);
  REQUIRE(solvers::OdeSolver(m.model, co).solve(p.data(), y0.data(), 0.0, t, ref.data(), ref_s.data()).status ==
          solvers::SolveStatus::kSuccess);
  RosenbrockOptions o;
  o.rtol = 1e-8;
  o.atol = 1e-14;
  solvers::RosenbrockSolver ros(static_cast<int>(n), o);
  REQUIRE(ros.solve(*m.model, p.data(), 0.0, y0.data(), t, out.data(), {}, cols, nullptr, sens.data()).status ==
          RosenbrockStatus::kSuccess);
  // Per parameter and state, relative to that sensitivity's largest value over time.
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < n; ++i) {
      double scale = 0.0, worst = 0.0;
      for (std::size_t r = 0; r < t.size(); ++r) {
        const std::size_t at = (r * K + k) * n + i;
        scale = std::max(scale, std::abs(ref_s[at]));
        worst = std::max(worst, std::abs(sens[at] - ref_s[at]));
      }
      INFO(m.model->parameters()[static_cast<std::size_t>(cols[k])].name
           << ", " << m.model->states()[i].name << ": largest |dy/dp| " << scale << ", largest difference " << worst);
      CHECK(worst <= 1e-5 * scale + 1e-16);
    }
}
