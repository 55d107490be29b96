#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <memory>

#include "physynth/anchor/milling_calibration.h"
#include "physynth/domains/manufacturing/tool_wear.h"
#include "physynth/domains/manufacturing/yaml_binding.h"
#include "physynth/solvers/ode_solver.h"
#include "support/test_problems.h"

using namespace physynth;
using domains::manufacturing::ToolWear;

namespace {
// The binding's documented defaults, without break-in and with round numbers for closed forms.
std::vector<double> nominal_tool() {
  auto p = domains::manufacturing::defaults_for("tool_wear");
  p[ToolWear::kRate] = 0.01;
  p[ToolWear::kFeedExponent] = 0.3;
  p[ToolWear::kDepthExponent] = 0.6;
  p[ToolWear::kBreakInGain] = 0.0;
  p[ToolWear::kBreakInScale] = 0.1;
  p[ToolWear::kForceScale] = 0.5;
  return p;
}
}  // namespace

TEST_CASE("ToolWear: without break-in, VB = a (exp(R t / a) - 1), and the tool fails at ISO 8688's 0.3 mm") {
  auto model = std::make_shared<ToolWear>();
  auto p = nominal_tool();
  const double R = 0.01 * std::pow(1.2, 2.0), a = 0.5;
  p[ToolWear::kSpeed] = 240.0;  // 20 % faster than the reference: R grows by 1.2^2
  const double t_fail = a / R * std::log(1.0 + 0.3 / a);
  std::vector<double> times;
  for (int i = 0; i <= 20; ++i) times.push_back(1.5 * t_fail * i / 20.0);
  solvers::OdeOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  solvers::OdeSolver solver(
      model, o, {{"worn_out", [](double, const double* y, const double*) { return y[0] - 0.3; }, +1, true}});
  std::vector<double> y0(1), out(times.size());
  model->initial_state(p.data(), y0.data());
  const auto r = solver.solve(p.data(), y0.data(), 0.0, times, out.data());
  REQUIRE(r.status == solvers::SolveStatus::kStoppedByEvent);
  CHECK(r.t_reached == Approx(t_fail).epsilon(1e-8));
  for (std::size_t i = 0; i < r.rows_written; ++i)
    CHECK(out[i] == Approx(a * std::expm1(R * times[i] / a)).epsilon(1e-8).margin(1e-13));
}

TEST_CASE("ToolWear: wear is monotone with break-in, steady and accelerated stages") {
  auto model = std::make_shared<ToolWear>();
  auto p = nominal_tool();
  p[ToolWear::kBreakInGain] = 3.0;
  p[ToolWear::kBreakInScale] = 0.05;
  std::vector<double> times;
  for (int i = 0; i <= 200; ++i) times.push_back(i * 0.5);
  solvers::OdeSolver solver(model, solvers::OdeOptions{});
  std::vector<double> y0(1), out(times.size());
  model->initial_state(p.data(), y0.data());
  REQUIRE(solver.solve(p.data(), y0.data(), 0.0, times, out.data()).status == solvers::SolveStatus::kSuccess);
  std::vector<double> rate(times.size());
  for (std::size_t i = 0; i < times.size(); ++i) model->rhs(times[i], &out[i], p.data(), &rate[i]);
  const auto slowest = static_cast<std::size_t>(std::min_element(rate.begin(), rate.end()) - rate.begin());
  CHECK(slowest > 0);                 // break-in: the rate first falls ...
  CHECK(slowest < times.size() - 1);  // ... then rises: accelerated stage
  CHECK(rate.front() > 2.0 * rate[slowest]);
  CHECK(rate.back() > 1.5 * rate[slowest]);
  for (std::size_t i = 1; i < times.size(); ++i) REQUIRE(out[i] > out[i - 1]);
}

TEST_CASE("ToolWear: autodiff Jacobians equal finite differences") {
  ToolWear model;
  auto p = nominal_tool();
  p[ToolWear::kBreakInGain] = 2.0;
  p[ToolWear::kSpeed] = 230.0;
  const double y = 0.17;
  double jac = 0.0, fp = 0.0, fm = 0.0;
  std::vector<double> pjac(ToolWear::kParameterCount);
  model.jacobian(0.0, &y, p.data(), &jac);
  model.parameter_jacobian(0.0, &y, p.data(), pjac.data());
  double yp = y * (1 + 1e-6), ym = y * (1 - 1e-6);
  model.rhs(0.0, &yp, p.data(), &fp);
  model.rhs(0.0, &ym, p.data(), &fm);
  CHECK(jac == Approx((fp - fm) / (yp - ym)).epsilon(1e-6));
  for (std::size_t k = 0; k < p.size(); ++k) {
    auto pp = p, pm = p;
    const double h = 1e-6 * std::max(1e-3, std::fabs(p[k]));
    pp[k] += h;
    pm[k] -= h;
    model.rhs(0.0, &y, pp.data(), &fp);
    model.rhs(0.0, &y, pm.data(), &fm);
    INFO(model.parameters()[k].name);
    CHECK(pjac[k] == Approx((fp - fm) / (2 * h)).epsilon(1e-5).margin(1e-12));
  }
}

TEST_CASE("NASA milling: fitted on cases 1-8, the model predicts the replicates 9-16", "[slow]") {
  const auto cases =
      anchor::read_milling_labels(testing::fixture("fixtures/nasa-milling/milling_labels_with_tool_class.csv"));
  REQUIRE(cases.size() == 16);
  std::size_t measured = 0;
  for (const auto& c : cases) measured += c.wear.size();
  CHECK(measured == 146);  // 167 runs, 21 without a VB reading
  const auto cal = anchor::calibrate_milling(cases);
  INFO(cal.fit.message);
  REQUIRE(cal.fit.converged);
  double predicted_sum = 0.0;
  int predicted = 0;
  for (const auto& r : cal.cases) {
    INFO("case " << r.case_number);
    if (r.calibration) {
      CHECK(r.rmse_mm < 0.18);
    } else {
      CHECK(r.rmse_mm < 0.20);
      predicted_sum += r.rmse_mm;
      ++predicted;
    }
  }
  CHECK(predicted == 8);
  CHECK(predicted_sum / predicted < 0.11);  // the replicates' own spread is about 0.09 mm
  // Steel wears several times faster than cast iron, as the data set's description says.
  CHECK(cal.fit.estimate[1] / cal.fit.estimate[0] > 3.0);
}

TEST_CASE("read_milling_labels: malformed files are refused with file, line and column") {
  const std::string path = std::string(PHYSYNTH_TEST_OUTPUT) + "/bad_milling.csv";
  std::ofstream(path) << "case,run,VB,time,DOC,feed,material\n1,1,0.1,2,1.5,0.5,1\n1,2,abc,4,1.5,0.5,1\n";
  CHECK_THROWS_WITH(anchor::read_milling_labels(path), path + ":3: column 'VB' must be a number, got 'abc'");
  std::ofstream(path) << "case,run,VB,time,DOC,feed,material\n1,1,0.1,5,1.5,0.5,1\n1,2,0.2,4,1.5,0.5,1\n";
  CHECK_THROWS_WITH(anchor::read_milling_labels(path), path + ":3: time 4 does not increase within case 1");
  std::ofstream(path) << "case,run,time,DOC,feed,material\n";
  CHECK_THROWS_WITH(anchor::read_milling_labels(path), path + ":1: missing column 'VB'");
}
