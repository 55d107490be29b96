#include "physynth/domains/manufacturing/bearing.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <iterator>

#include "physynth/core/signal.h"

namespace physynth::domains::manufacturing {

BearingGeometry BearingGeometry::skf_6205() {
  BearingGeometry g;
  g.rolling_elements = 9;
  g.ball_diameter = 0.3126;  // inch, as the CWRU documentation gives them
  g.pitch_diameter = 1.537;
  g.contact_angle_rad = 0.0;
  return g;
}

DefectOrders defect_orders(const BearingGeometry& g) {
  const double r = g.ball_diameter / g.pitch_diameter * std::cos(g.contact_angle_rad);
  DefectOrders o;
  o.ftf = 0.5 * (1.0 - r);
  o.bpfo = 0.5 * g.rolling_elements * (1.0 - r);
  o.bpfi = 0.5 * g.rolling_elements * (1.0 + r);
  o.bsf = g.pitch_diameter / g.ball_diameter * (1.0 - r * r);
  return o;
}

const char* fault_mode_name(FaultMode m) {
  switch (m) {
    case FaultMode::kNone:
      return "none";
    case FaultMode::kOuterRace:
      return "outer_race";
    case FaultMode::kInnerRace:
      return "inner_race";
    case FaultMode::kRollingElement:
      return "rolling_element";
    case FaultMode::kCage:
      return "cage";
    case FaultMode::kImbalance:
      return "imbalance";
  }
  return "?";
}

bool parse_fault_mode(const std::string& text, FaultMode* mode) {
  for (FaultMode m : {FaultMode::kNone, FaultMode::kOuterRace, FaultMode::kInnerRace, FaultMode::kRollingElement,
                      FaultMode::kCage, FaultMode::kImbalance})
    if (text == fault_mode_name(m)) {
      *mode = m;
      return true;
    }
  return false;
}

std::vector<double> vibration_snapshot(const BearingGeometry& g, const SnapshotOptions& o, const SnapshotState& s,
                                       core::CounterRng& rng) {
  const auto n = static_cast<std::size_t>(std::llround(o.sample_rate_hz * o.duration_s));
  std::vector<double> x(n, 0.0);
  const double fr = s.shaft_hz;
  const DefectOrders orders = defect_orders(g);

  // Impulse rate and the amplitude modulation that goes with the fault's path through the load zone.
  double rate = 0.0, modulation_hz = 0.0;
  switch (s.mode) {
    case FaultMode::kOuterRace:
      rate = orders.bpfo * fr;
      break;  // fixed in the load zone
    case FaultMode::kInnerRace:
      rate = orders.bpfi * fr;
      modulation_hz = fr;
      break;  // turns with the shaft
    case FaultMode::kRollingElement:
      rate = orders.bsf * fr;
      modulation_hz = orders.ftf * fr;
      break;  // turns with the cage
    case FaultMode::kCage:
      rate = orders.ftf * fr;
      break;
    case FaultMode::kNone:
    case FaultMode::kImbalance:
      break;
  }
  if (rate > 0.0 && s.impulse_amplitude > 0.0) {
    const double wn = 2.0 * M_PI * o.resonance_hz;
    const double wd = wn * std::sqrt(1.0 - o.damping_ratio * o.damping_ratio);
    const double decay = o.damping_ratio * wn;
    const auto ring = static_cast<std::size_t>(std::ceil(std::log(1000.0) / decay * o.sample_rate_hz));
    // The ring e^(-decay tau) sin(wd tau) at tau = tau0 + j / fs is Im(e^(s tau0) z^j) with
    // s = -decay + i wd and z = e^(s / fs): one complex exponential per impulse, and z^j tabulated
    // once, instead of an exp and a sin per sample.
    const std::complex<double> s_pole(-decay, wd);
    std::vector<std::complex<double>> zj(ring);
    for (std::size_t j = 0; j < ring; ++j) zj[j] = std::exp(s_pole * (static_cast<double>(j) / o.sample_rate_hz));
    const double period = 1.0 / rate;
    const double phase = rng.uniform() * 2.0 * M_PI;
    for (double tk = rng.uniform() * period; tk < o.duration_s; tk += period * (1.0 + o.slip_fraction * rng.normal())) {
      const double amplitude =
          s.impulse_amplitude *
          (modulation_hz > 0.0 ? 0.5 * (1.0 + std::cos(2.0 * M_PI * modulation_hz * tk + phase)) : 1.0);
      const auto first = static_cast<std::size_t>(std::ceil(tk * o.sample_rate_hz));
      const std::complex<double> c =
          amplitude * std::exp(s_pole * (static_cast<double>(first) / o.sample_rate_hz - tk));
      for (std::size_t i = first; i < std::min(n, first + ring); ++i) {
        const std::complex<double>& z = zj[i - first];
        x[i] += c.real() * z.imag() + c.imag() * z.real();
      }
    }
  }
  if (s.imbalance_amplitude > 0.0) {
    const double phase = rng.uniform() * 2.0 * M_PI, w = 2.0 * M_PI * fr / o.sample_rate_hz;
    // A * sin(w i + phase) by rotation, restarted exactly every 256 samples (rounding stays ~1e-14).
    const std::complex<double> step = std::polar(1.0, w);
    std::complex<double> z;
    for (std::size_t i = 0; i < n; ++i, z *= step) {
      if (i % 256 == 0) z = std::polar(s.imbalance_amplitude, w * static_cast<double>(i) + phase);
      x[i] += z.imag();
    }
  }
  if (o.noise_sd > 0.0)
    for (double& v : x) v += o.noise_sd * rng.normal();
  return x;
}

core::Spectrum defect_envelope_spectrum(const std::vector<double>& x, const BearingGeometry& g,
                                        const SnapshotOptions& o, double shaft_hz) {
  const double half_band = std::max(0.3 * o.resonance_hz, 4.0 * defect_orders(g).bpfi * shaft_hz);
  return core::envelope_spectrum(x, o.sample_rate_hz, std::max(0.0, o.resonance_hz - half_band),
                                 std::min(0.5 * o.sample_rate_hz, o.resonance_hz + half_band));
}

SnapshotFeatures snapshot_features(const std::vector<double>& x, const BearingGeometry& g, const SnapshotOptions& o,
                                   double shaft_hz) {
  SnapshotFeatures f;
  const auto stats = core::waveform_statistics(x);
  f.rms = stats.rms;
  f.mean_abs = stats.mean_abs;
  f.peak = stats.peak;
  f.crest_factor = stats.crest_factor;
  f.kurtosis = stats.kurtosis;
  const DefectOrders orders = defect_orders(g);
  const auto env = defect_envelope_spectrum(x, g, o, shaft_hz);
  auto at = [&](double order) { return env.peak_near(order * shaft_hz, 0.02 * order * shaft_hz); };
  f.envelope_bpfo = at(orders.bpfo);
  f.envelope_bpfi = at(orders.bpfi);
  f.envelope_bsf = at(orders.bsf);
  f.envelope_ftf = at(orders.ftf);
  const auto spectrum = core::amplitude_spectrum(x, o.sample_rate_hz);
  f.amplitude_1x = spectrum.peak_near(shaft_hz, spectrum.resolution_hz);
  return f;
}

BearingDegradation::BearingDegradation(BearingGeometry geometry, SnapshotOptions snapshot)
    : geometry_(geometry), snapshot_(snapshot) {
  states_ = {{"spall", "mm", "spall (defect) size"}, {"temperature", "degC", "bearing outer-ring temperature"}};
  parameters_.resize(kParameterCount);
  parameters_[kParisC] = {"paris_c", "m/cycle/(MPa*m^0.5)^m", "Paris coefficient"};
  parameters_[kParisM] = {"paris_m", "1", "Paris exponent"};
  parameters_[kGeometryFactor] = {"geometry_factor", "1", "stress-intensity geometry factor Y"};
  parameters_[kStressRef] = {"stress_ref", "MPa", "cyclic contact stress at the reference load"};
  parameters_[kLoadRef] = {"load_ref", "kN", "reference load"};
  parameters_[kLoad] = {"load", "kN", "radial load"};
  parameters_[kShaftHz] = {"shaft_hz", "Hz", "shaft rotation frequency"};
  parameters_[kBpfo] = {"bpfo", "1", "stress cycles per shaft revolution (BPFO order)"};
  parameters_[kOnset] = {"onset", "h", "time the defect starts to grow"};
  parameters_[kOnsetWidth] = {"onset_width", "h", "width of the smooth onset"};
  parameters_[kFriction] = {"friction", "1", "friction coefficient of the healthy bearing"};
  parameters_[kFrictionGain] = {"friction_gain", "1/mm", "relative friction increase per mm of spall"};
  parameters_[kBoreDiameter] = {"bore_diameter", "mm", "bore diameter"};
  parameters_[kHeatTransfer] = {"heat_transfer", "W/K", "heat transfer coefficient times area"};
  parameters_[kHeatCapacity] = {"heat_capacity", "J/K", "heat capacity of bearing and housing"};
  parameters_[kAmbient] = {"ambient", "degC", "ambient temperature"};
  parameters_[kSpall0] = {"spall0", "mm", "initial defect size"};
  parameters_[kTemperature0] = {"temperature0", "degC", "initial temperature"};
  parameters_[kFaultMode] = {"fault_mode", "1",
                             "0 none, 1 outer race, 2 inner race, 3 rolling element, 4 cage, 5 imbalance"};
  parameters_[kImpulseGain] = {"impulse_gain", "g/mm", "peak response of one impact per mm of spall"};
  parameters_[kImbalance] = {"imbalance", "g", "once-per-revolution vibration of the healthy machine"};
  parameters_[kVibrationNoise] = {"vibration_noise", "g", "broadband noise of the accelerometer signal"};
  parameters_[kResonance] = {"resonance_hz", "Hz", "structural resonance excited by the impacts"};
  derived_ = {{"vib_rms", "g", "RMS of the snapshot"},
              {"vib_peak", "g", "peak of the snapshot"},
              {"vib_crest", "1", "crest factor"},
              {"vib_kurtosis", "1", "kurtosis (3 for Gaussian noise)"},
              {"env_bpfo", "g", "envelope spectrum at BPFO"},
              {"env_bpfi", "g", "envelope spectrum at BPFI"},
              {"env_bsf", "g", "envelope spectrum at BSF"},
              {"env_ftf", "g", "envelope spectrum at FTF"},
              {"vib_1x", "g", "spectrum at the shaft frequency"},
              {"vib_mean_abs", "g", "mean absolute amplitude of the snapshot"}};
}

BearingDegradation::Snapshot BearingDegradation::snapshot(const double* y, const double* p,
                                                          core::CounterRng& rng) const {
  Snapshot snap;
  snap.options = snapshot_;
  snap.options.resonance_hz = p[kResonance];
  snap.options.noise_sd = p[kVibrationNoise];
  SnapshotState& state = snap.state;
  state.shaft_hz = p[kShaftHz];
  const int mode = static_cast<int>(std::lround(p[kFaultMode]));
  state.mode = mode >= 0 && mode <= 5 ? static_cast<FaultMode>(mode) : FaultMode::kNone;
  const double severity = p[kImpulseGain] * std::max(0.0, y[kSpall]);
  state.imbalance_amplitude = p[kImbalance];
  if (state.mode == FaultMode::kImbalance)
    state.imbalance_amplitude += severity;  // a growing imbalance (wear, loosening)
  else
    state.impulse_amplitude = severity;
  snap.signal = vibration_snapshot(geometry_, snap.options, state, rng);
  return snap;
}

void BearingDegradation::evaluate_derived(double t, const double* y, const double* p, core::CounterRng& rng,
                                          double* out) const {
  std::vector<double> signal;
  evaluate_derived_with_signal(t, y, p, rng, out, signal);
}

void BearingDegradation::evaluate_derived_with_signal(double, const double* y, const double* p, core::CounterRng& rng,
                                                      double* out, std::vector<double>& signal) const {
  Snapshot snap = snapshot(y, p, rng);
  const auto f = snapshot_features(snap.signal, geometry_, snap.options, snap.state.shaft_hz);
  const double values[] = {f.rms,           f.peak,         f.crest_factor, f.kurtosis,     f.envelope_bpfo,
                           f.envelope_bpfi, f.envelope_bsf, f.envelope_ftf, f.amplitude_1x, f.mean_abs};
  std::copy(std::begin(values), std::end(values), out);
  signal = std::move(snap.signal);
}

core::Model::SignalInfo BearingDegradation::derived_signal_info() const {
  return {static_cast<std::size_t>(std::llround(snapshot_.sample_rate_hz * snapshot_.duration_s)),
          snapshot_.sample_rate_hz, "g"};
}

std::vector<double> BearingDegradation::derived_signal(double, const double* y, const double* p,
                                                       core::CounterRng& rng) const {
  return snapshot(y, p, rng).signal;
}

double BearingDegradation::evaluate_derived_channel(std::size_t k, double t, const double* y, const double* p,
                                                    core::CounterRng& rng) const {
  const std::string& name = derived_.at(k).name;
  if (name != "vib_rms" && name != "vib_peak" && name != "vib_crest" && name != "vib_kurtosis" &&
      name != "vib_mean_abs")
    return Model::evaluate_derived_channel(k, t, y, p, rng);
  const auto w = core::waveform_statistics(snapshot(y, p, rng).signal);
  return name == "vib_rms"        ? w.rms
         : name == "vib_peak"     ? w.peak
         : name == "vib_crest"    ? w.crest_factor
         : name == "vib_kurtosis" ? w.kurtosis
                                  : w.mean_abs;
}

void BearingDegradation::initial_state(const double* p, double* y0) const {
  y0[kSpall] = p[kSpall0];
  y0[kTemperature] = p[kTemperature0];
}

void BearingDegradation::initial_state_jacobian(const double*, double* jac) const {
  std::fill(jac, jac + 2 * static_cast<int>(kParameterCount), 0.0);
  jac[kSpall + 2 * kSpall0] = 1.0;
  jac[kTemperature + 2 * kTemperature0] = 1.0;
}

}  // namespace physynth::domains::manufacturing
