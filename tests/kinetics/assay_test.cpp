// Assays as schedules on a reaction network: a 1:1 SPR sensorgram against its
// closed form, and a two-compartment pharmacokinetic dose schedule against
// its superposition of exponentials.
#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/solvers/ode_solver.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {
std::vector<double> solve(const core::BuiltModel& m, const std::vector<double>& p, const std::vector<double>& times) {
  solvers::OdeOptions options;
  options.rtol = 1e-10;
  options.atol = 1e-12;
  solvers::OdeSolver solver(m.model, options);
  const std::size_t n = m.model->num_states();
  std::vector<double> y0(n), out(times.size() * n);
  m.model->initial_state(p.data(), y0.data());
  const auto r = solver.solve(p.data(), y0.data(), times.front(), times, out.data());
  REQUIRE(r.status == solvers::SolveStatus::kSuccess);
  return out;
}
}  // namespace

TEST_CASE("SPR: a 1:1 sensorgram follows the closed-form association and dissociation curves") {
  // Ligand sites L (RU) bind analyte A (nM), held at C by the flow from t_on to t_off (a boundary species).
  const auto m = testing::network(R"(
species:
  - {name: L,  initial: Rmax}
  - {name: A,  initial: 0, boundary: true}
  - {name: LA, initial: 0}
reactions:
  - {equation: "L + A <-> LA", kf: ka, kr: kd}
schedule:
  - {at: t_on, set: {A: C}}
  - {at: t_off, set: {A: 0}}
)");
  const double ka = 2e-4, kd = 3e-3, Rmax = 120, C = 50, t_on = 60, t_off = 360;
  const auto p =
      testing::parameters(m, {{"ka", ka}, {"kd", kd}, {"Rmax", Rmax}, {"C", C}, {"t_on", t_on}, {"t_off", t_off}});
  std::vector<double> times;
  for (double t = 0; t <= 1200; t += 5) times.push_back(t);
  const auto out = solve(m, p, times);
  const int la = m.model->state_index("LA"), a = m.model->state_index("A");
  const double kobs = ka * C + kd, Req = ka * C * Rmax / kobs;
  const double R_off = Req * (1 - std::exp(-kobs * (t_off - t_on)));
  double worst = 0;
  for (std::size_t r = 0; r < times.size(); ++r) {
    const double t = times[r];
    double expected = 0.0;
    if (t >= t_on && t <= t_off) expected = Req * (1 - std::exp(-kobs * (t - t_on)));
    if (t > t_off) expected = R_off * std::exp(-kd * (t - t_off));
    worst = std::max(worst, std::fabs(out[r * 3 + la] - expected));
    CHECK(out[r * 3 + a] == (t >= t_on && t < t_off ? C : 0.0));  // a record at t_off shows the buffer
  }
  CHECK(worst < 1e-6 * Rmax);
  // L + LA is conserved; A is not (the flow sets it).
  const auto laws = m.model->linear_invariants();
  REQUIRE(laws.size() == 1);
  CHECK(laws[0].description == "L + LA");
}

TEST_CASE("PK: repeated oral doses into a two-compartment model superpose") {
  // gut -ka-> central <-k12/k21-> peripheral, central -kel->; a dose D every tau hours, four times.
  const auto m = testing::network(R"(
species:
  - {name: gut, initial: 0}
  - {name: central, initial: 0}
  - {name: peripheral, initial: 0}
reactions:
  - {equation: "gut -> central", k: ka}
  - {equation: "central <-> peripheral", kf: k12, kr: k21}
  - {equation: "central -> ", k: kel}
schedule:
  - {at: 0, every: tau, count: 4, add: {gut: D}}
)");
  const double ka = 1.2, k12 = 0.3, k21 = 0.2, kel = 0.15, D = 100, tau = 12;
  const auto p = testing::parameters(m, {{"ka", ka}, {"k12", k12}, {"k21", k21}, {"kel", kel}, {"D", D}, {"tau", tau}});
  std::vector<double> times;
  for (double t = 0; t <= 72; t += 0.5) times.push_back(t);
  const auto out = solve(m, p, times);
  // One dose's central amount: D ka sum_i c_i e^{-lambda_i t} with the two disposition rates and ka
  // (the standard closed form: Gibaldi & Perrier, Pharmacokinetics, 2nd ed., ch. 2).
  const double s = k12 + k21 + kel, disc = std::sqrt(s * s - 4 * k21 * kel);
  const double alpha = (s + disc) / 2, beta = (s - disc) / 2;
  auto single = [&](double t) {
    if (t < 0) return 0.0;
    return D * ka *
           ((k21 - ka) / ((alpha - ka) * (beta - ka)) * std::exp(-ka * t) +
            (k21 - alpha) / ((ka - alpha) * (beta - alpha)) * std::exp(-alpha * t) +
            (k21 - beta) / ((ka - beta) * (alpha - beta)) * std::exp(-beta * t));
  };
  const int central = m.model->state_index("central");
  for (std::size_t r = 0; r < times.size(); ++r) {
    double expected = 0;
    for (int k = 0; k < 4; ++k) expected += single(times[r] - k * tau);
    CHECK(out[r * 3 + central] == Approx(expected).margin(1e-6));
  }
}
