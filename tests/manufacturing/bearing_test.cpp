#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "physynth/core/signal.h"
#include "physynth/domains/manufacturing/bearing.h"
#include "physynth/domains/manufacturing/yaml_binding.h"
#include "physynth/solvers/ode_solver.h"

using namespace physynth;
using namespace physynth::domains::manufacturing;

TEST_CASE("defect_orders: the CWRU test bearing (SKF 6205) from its geometry") {
  const DefectOrders o = defect_orders(BearingGeometry::skf_6205());
  // CWRU's published multiples of the shaft frequency, to their five digits.
  CHECK(o.bpfo == Approx(3.5848).epsilon(1e-4));
  CHECK(o.bpfi == Approx(5.4152).epsilon(1e-4));
  CHECK(o.bsf == Approx(4.7135).epsilon(1e-4));
  CHECK(o.ftf == Approx(0.39828).epsilon(1e-4));
  CHECK(o.bpfo + o.bpfi == Approx(9.0).epsilon(1e-12));  // n (1 - r)/2 + n (1 + r)/2
}

TEST_CASE("signal: spectrum amplitudes, envelope and kurtosis against closed forms") {
  const double fs = 1000.0;
  std::vector<double> x(1000), am(1000);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / fs;
    x[i] = 0.7 * std::sin(2 * M_PI * 50.0 * t);
    am[i] = (1.0 + 0.5 * std::cos(2 * M_PI * 7.0 * t)) * std::sin(2 * M_PI * 200.0 * t);
  }
  const auto s = core::amplitude_spectrum(x, fs);
  CHECK(s.resolution_hz == 1.0);
  CHECK(s.amplitude[50] == Approx(0.7).epsilon(1e-12));
  CHECK(s.argmax_hz(1, 400) == 50.0);
  const auto env = core::envelope(am, fs);
  for (std::size_t i = 100; i < 900; ++i) {
    const double t = static_cast<double>(i) / fs;
    REQUIRE(env[i] == Approx(1.0 + 0.5 * std::cos(2 * M_PI * 7.0 * t)).margin(1e-9));
  }
  const auto es = core::envelope_spectrum(am, fs);
  CHECK(es.amplitude[7] == Approx(0.5).epsilon(1e-9));
  core::CounterRng rng(9, 0, 0);
  std::vector<double> noise(200000);
  for (auto& v : noise) v = rng.normal();
  const auto w = core::waveform_statistics(noise);
  CHECK(w.rms == Approx(1.0).epsilon(0.01));
  CHECK(w.kurtosis == Approx(3.0).epsilon(0.03));
  CHECK(w.mean_abs == Approx(std::sqrt(2.0 / M_PI)).epsilon(0.01));  // E|z| of a standard normal
  CHECK(core::waveform_statistics(x).crest_factor == Approx(std::sqrt(2.0)).epsilon(1e-6));
}

TEST_CASE("vibration_snapshot: the envelope spectrum of an outer-race fault peaks at BPFO within one bin") {
  const auto g = BearingGeometry::skf_6205();
  SnapshotOptions o;  // 1 s at 20 kHz: 1 Hz bins
  SnapshotState s;
  s.shaft_hz = 1797.0 / 60.0;  // CWRU's 0 hp speed
  s.mode = FaultMode::kOuterRace;
  s.impulse_amplitude = 1.0;
  for (std::uint64_t unit = 0; unit < 5; ++unit) {
    core::CounterRng rng(1, unit, 0);
    const auto x = vibration_snapshot(g, o, s, rng);
    REQUIRE(x.size() == 20000);
    const auto env = core::envelope_spectrum(x, o.sample_rate_hz, 2000.0, 4000.0);
    const double bpfo_hz = defect_orders(g).bpfo * s.shaft_hz;
    // The fundamental's peak; harmonics of BPFO may be as strong, as in measured outer-race spectra.
    CHECK(std::fabs(env.argmax_hz(0.5 * bpfo_hz, 1.5 * bpfo_hz) - bpfo_hz) <= env.resolution_hz);
    const double floor = env.peak_near(0.75 * bpfo_hz, 3.0);
    CHECK(env.peak_near(bpfo_hz, env.resolution_hz) > 5.0 * floor);
    const auto f = snapshot_features(x, g, o, s.shaft_hz);
    CHECK(f.envelope_bpfo > 3.0 * f.envelope_bpfi);
    CHECK(f.kurtosis > 4.0);
  }
}

TEST_CASE("vibration_snapshot: an inner-race fault shows BPFI with sidebands at the shaft frequency") {
  const auto g = BearingGeometry::skf_6205();
  SnapshotOptions o;
  SnapshotState s;
  s.shaft_hz = 30.0;
  s.mode = FaultMode::kInnerRace;
  s.impulse_amplitude = 1.0;
  core::CounterRng rng(2, 0, 0);
  const auto x = vibration_snapshot(g, o, s, rng);
  const auto env = core::envelope_spectrum(x, o.sample_rate_hz, 2000.0, 4000.0);
  const double bpfi_hz = defect_orders(g).bpfi * s.shaft_hz;
  CHECK(std::fabs(env.argmax_hz(bpfi_hz - 10.0, bpfi_hz + 10.0) - bpfi_hz) <= env.resolution_hz);
  const double floor = env.peak_near(bpfi_hz - 15.0, 2.0);
  CHECK(env.peak_near(bpfi_hz - s.shaft_hz, 1.0) > 2.0 * floor);
  CHECK(env.peak_near(bpfi_hz + s.shaft_hz, 1.0) > 2.0 * floor);
  CHECK(env.peak_near(s.shaft_hz, 1.0) > 2.0 * floor);  // the load-zone modulation itself
}

TEST_CASE("vibration_snapshot: imbalance is the 1x component, a healthy bearing is Gaussian") {
  const auto g = BearingGeometry::skf_6205();
  SnapshotOptions o;
  SnapshotState s;
  s.shaft_hz = 25.0;
  s.mode = FaultMode::kImbalance;
  s.imbalance_amplitude = 0.4;
  core::CounterRng rng(3, 0, 0);
  auto f = snapshot_features(vibration_snapshot(g, o, s, rng), g, o, s.shaft_hz);
  CHECK(f.amplitude_1x == Approx(0.4).epsilon(0.03));
  s.mode = FaultMode::kNone;
  s.imbalance_amplitude = 0.0;
  f = snapshot_features(vibration_snapshot(g, o, s, rng), g, o, s.shaft_hz);
  CHECK(f.rms == Approx(o.noise_sd).epsilon(0.03));
  CHECK(f.kurtosis == Approx(3.0).epsilon(0.1));
}

namespace {
// The binding's documented defaults, with a faster spall (C = 1e-13) growing from the start.
std::vector<double> nominal_bearing() {
  using B = BearingDegradation;
  auto p = defaults_for("bearing");
  p[B::kParisC] = 1e-13;
  p[B::kLoad] = 7.0;
  p[B::kShaftHz] = 30.0;
  p[B::kBpfo] = 3.5848;
  p[B::kOnset] = -1000.0;
  p[B::kSpall0] = 0.1;
  return p;
}
}  // namespace

TEST_CASE("BearingDegradation: spall growth follows the closed-form Paris solution and fails at the threshold") {
  using B = BearingDegradation;
  auto model = std::make_shared<B>();
  const auto p = nominal_bearing();
  // da/dt = K a^(m/2):  a(t) = [a0^(1-m/2) - (m/2-1) K t]^(1/(1-m/2)).
  const double m = p[B::kParisM];
  const double stress = p[B::kStressRef] * std::cbrt(p[B::kLoad] / p[B::kLoadRef]);
  const double K = 3600.0 * p[B::kBpfo] * p[B::kShaftHz] * 1000.0 * p[B::kParisC] *
                   std::pow(p[B::kGeometryFactor] * stress * std::sqrt(M_PI / 1000.0), m);
  auto spall = [&](double t) { return std::pow(std::pow(0.1, 1 - m / 2) - (m / 2 - 1) * K * t, 1.0 / (1 - m / 2)); };
  const double threshold = 2.0;
  const double t_fail = (std::pow(0.1, 1 - m / 2) - std::pow(threshold, 1 - m / 2)) / ((m / 2 - 1) * K);
  std::vector<double> times;
  for (int i = 0; i <= 40; ++i) times.push_back(t_fail * 1.2 * i / 40.0);
  solvers::OdeOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  solvers::OdeSolver solver(
      model, o,
      {{"failure", [threshold](double, const double* y, const double*) { return y[0] - threshold; }, +1, true}});
  std::vector<double> y0(2), out(times.size() * 2);
  model->initial_state(p.data(), y0.data());
  const auto r = solver.solve(p.data(), y0.data(), 0.0, times, out.data());
  REQUIRE(r.status == solvers::SolveStatus::kStoppedByEvent);
  CHECK(r.t_reached == Approx(t_fail).epsilon(1e-7));
  CHECK(r.final_state[0] == Approx(threshold).epsilon(1e-9));
  double previous = 0.0;
  for (std::size_t i = 0; i < r.rows_written; ++i) {
    CHECK(out[2 * i] == Approx(spall(times[i])).epsilon(1e-7));
    CHECK(out[2 * i] >= previous);  // monotone
    previous = out[2 * i];
  }
}

TEST_CASE("BearingDegradation: temperature relaxes to the heat balance's closed form") {
  using B = BearingDegradation;
  auto model = std::make_shared<B>();
  auto p = nominal_bearing();
  p[B::kParisC] = 0.0;  // frozen defect: constant friction power
  const double power = p[B::kFriction] * (1 + p[B::kFrictionGain] * p[B::kSpall0]) * p[B::kLoad] * 1000.0 *
                       p[B::kBoreDiameter] / 2000.0 * 2 * M_PI * p[B::kShaftHz];
  const double steady = p[B::kAmbient] + power / p[B::kHeatTransfer];
  const double tau_h = p[B::kHeatCapacity] / p[B::kHeatTransfer] / 3600.0;
  std::vector<double> times;
  for (int i = 0; i <= 50; ++i) times.push_back(tau_h * i * 0.4);
  solvers::OdeOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-10;
  solvers::OdeSolver solver(model, o);
  std::vector<double> y0(2), out(times.size() * 2);
  model->initial_state(p.data(), y0.data());
  REQUIRE(solver.solve(p.data(), y0.data(), 0.0, times, out.data()).status == solvers::SolveStatus::kSuccess);
  for (std::size_t i = 0; i < times.size(); ++i)
    CHECK(out[2 * i + 1] ==
          Approx(steady + (p[B::kTemperature0] - steady) * std::exp(-times[i] / tau_h)).epsilon(1e-8));
  CHECK(out.back() == Approx(steady).epsilon(1e-8));
}

TEST_CASE("BearingDegradation: a fault does not grow before its onset") {
  using B = BearingDegradation;
  auto model = std::make_shared<B>();
  auto p = nominal_bearing();
  p[B::kOnset] = 500.0;
  p[B::kOnsetWidth] = 2.0;
  solvers::OdeSolver solver(model, solvers::OdeOptions{});
  std::vector<double> y0(2), out(4);
  model->initial_state(p.data(), y0.data());
  // Paris growth with m > 2 runs away in finite time (~17 h after onset here):
  // scenarios stop at a failure threshold; this test looks before that.
  const std::vector<double> times = {400.0, 510.0};
  REQUIRE(solver.solve(p.data(), y0.data(), 0.0, times, out.data()).status == solvers::SolveStatus::kSuccess);
  CHECK(out[0] == Approx(0.1).margin(1e-9));  // logistic(-50) ~ 2e-22: no growth beyond the solver's atol
  CHECK(out[2] > 0.1);
}

TEST_CASE("BearingDegradation: autodiff Jacobians equal finite differences") {
  using B = BearingDegradation;
  B model;
  auto p = nominal_bearing();
  p[B::kOnset] = 10.0;
  const double t = 9.0;
  const std::vector<double> y = {0.4, 41.0};
  std::vector<double> jac(4), pjac(2 * B::kParameterCount), fp(2), fm(2);
  model.jacobian(t, y.data(), p.data(), jac.data());
  model.parameter_jacobian(t, y.data(), p.data(), pjac.data());
  for (std::size_t k = 0; k < p.size(); ++k) {
    auto pp = p, pm = p;
    const double h = 1e-6 * std::max(1e-12, std::fabs(p[k]));
    pp[k] += h;
    pm[k] -= h;
    model.rhs(t, y.data(), pp.data(), fp.data());
    model.rhs(t, y.data(), pm.data(), fm.data());
    for (int i = 0; i < 2; ++i) {
      INFO("parameter " << model.parameters()[k].name << ", state " << i);
      CHECK(pjac[i + 2 * k] == Approx((fp[i] - fm[i]) / (2 * h)).epsilon(1e-5).margin(1e-12));
    }
  }
  for (int j = 0; j < 2; ++j) {
    auto yp = y, ym = y;
    const double h = 1e-6 * y[j];
    yp[j] += h;
    ym[j] -= h;
    model.rhs(t, yp.data(), p.data(), fp.data());
    model.rhs(t, ym.data(), p.data(), fm.data());
    for (int i = 0; i < 2; ++i) CHECK(jac[i + 2 * j] == Approx((fp[i] - fm[i]) / (2 * h)).epsilon(1e-5).margin(1e-12));
  }
}

TEST_CASE("logistic: exact, and finite with finite derivatives far from its step") {
  CHECK(core::logistic(0.0) == 0.5);
  CHECK(core::logistic(2.0) == Approx(1.0 / (1.0 + std::exp(-2.0))).epsilon(1e-15));
  for (double x : {-7063.0, -800.0, 800.0, 7063.0}) {
    core::Dual d(x);
    d.v[0] = 1.0;
    const core::Dual y = core::logistic(d);
    CHECK(std::isfinite(y.a));
    CHECK(std::isfinite(y.v[0]));
    CHECK(y.v[0] >= 0.0);
  }
}

TEST_CASE("BearingDegradation: a unit whose onset lies far beyond the horizon stays healthy and solves") {
  using B = BearingDegradation;
  auto model = std::make_shared<B>();
  auto p = nominal_bearing();
  p[B::kOnset] = 7063.0;  // e^7063 overflows: the smooth step must not
  solvers::OdeSolver solver(model, solvers::OdeOptions{});
  std::vector<double> y0(2), out(4);
  model->initial_state(p.data(), y0.data());
  const auto r = solver.solve(p.data(), y0.data(), 0.0, {0.0, 3000.0}, out.data());
  REQUIRE(r.status == solvers::SolveStatus::kSuccess);
  CHECK(out[2] == Approx(0.1).margin(1e-9));
}

TEST_CASE("BearingDegradation: derived vibration channels grow with the spall at the fault's frequency") {
  using B = BearingDegradation;
  const B model;
  REQUIRE(model.derived_channels().size() == 10);
  CHECK(model.derived_channels()[4].name == "env_bpfo");
  auto p = nominal_bearing();
  std::vector<double> small(10), large(10), again(10);
  const double y_small[2] = {0.1, 40.0}, y_large[2] = {1.5, 60.0};
  core::CounterRng a(1, 0, 7), b(1, 0, 7), c(1, 0, 7);
  model.evaluate_derived(0.0, y_small, p.data(), a, small.data());
  model.evaluate_derived(0.0, y_large, p.data(), b, large.data());
  model.evaluate_derived(0.0, y_small, p.data(), c, again.data());
  CHECK(small == again);             // deterministic for its RNG key
  for (std::size_t k = 0; k < small.size(); ++k) {
    core::CounterRng e(1, 0, 7);  // one channel alone (calibration's path) is the same number
    CHECK(model.evaluate_derived_channel(k, 0.0, y_small, p.data(), e) == small[k]);
  }
  CHECK(large[0] > 2.0 * small[0]);  // RMS
  CHECK(large[4] > 5.0 * small[4]);  // envelope at BPFO
  CHECK(large[4] > 3.0 * large[5]);  // BPFO dominates BPFI for an outer-race fault
  CHECK(large[3] > 3.5);             // impulsive: kurtosis above Gaussian
  p[B::kFaultMode] = 2.0;            // inner race
  core::CounterRng d(1, 0, 7);
  model.evaluate_derived(0.0, y_large, p.data(), d, large.data());
  CHECK(large[5] > 3.0 * large[4]);
}
