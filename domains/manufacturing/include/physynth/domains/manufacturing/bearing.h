// Rolling-element bearings: kinematics, vibration snapshots and their
// condition-monitoring features, and a degradation model (spall growth by a
// Paris-type law under the operating load, with the bearing's heat balance).
//
// Sources: defect frequencies from bearing kinematics (e.g. Randall & Antoni,
// "Rolling element bearing diagnostics - a tutorial", MSSP 25 (2011) 485-520,
// eq. 1-4); impulse-train vibration model with 1-2 % random slip and load-zone
// modulation (McFadden & Smith, JSV 96 (1984) 69-82; Randall & Antoni 2011);
// Paris-Erdogan crack growth da/dN = C (dK)^m with dK = Y ds sqrt(pi a)
// (Paris & Erdogan 1963); Hertzian contact pressure proportional to P^(1/3).
#pragma once

#include <string>
#include <vector>

#include "physynth/core/random.h"
#include "physynth/core/scalar.h"
#include "physynth/core/signal.h"
#include "physynth/core/templated_model.h"

namespace physynth::domains::manufacturing {

struct BearingGeometry {
  int rolling_elements = 9;
  double ball_diameter = 7.94;    // same length unit as pitch_diameter
  double pitch_diameter = 39.04;  // diameter of the circle through the ball centres
  double contact_angle_rad = 0.0;

  // SKF 6205-2RS JEM, the drive-end bearing of the Case Western Reserve
  // University bearing data: 9 balls of 0.3126 in on a 1.537 in pitch circle.
  static BearingGeometry skf_6205();
};

// Fault frequencies as multiples of the shaft rotation frequency (orders).
struct DefectOrders {
  double ftf = 0.0;   // fundamental train (cage) frequency
  double bpfo = 0.0;  // ball pass frequency, outer race
  double bpfi = 0.0;  // ball pass frequency, inner race
  double bsf = 0.0;   // ball (roller) spin frequency, counted twice per spin: a ball defect strikes both races
};
DefectOrders defect_orders(const BearingGeometry& g);

enum class FaultMode { kNone, kOuterRace, kInnerRace, kRollingElement, kCage, kImbalance };
const char* fault_mode_name(FaultMode m);
// Parses "none", "outer_race", "inner_race", "rolling_element", "cage", "imbalance".
bool parse_fault_mode(const std::string& text, FaultMode* mode);

struct SnapshotOptions {
  double sample_rate_hz = 20000.0;
  double duration_s = 1.0;
  double resonance_hz = 3000.0;  // structural resonance excited by each impact
  double damping_ratio = 0.05;
  double slip_fraction = 0.01;  // sd of the random variation of impulse spacing (rolling elements slip)
  double noise_sd = 0.05;       // broadband sensor and machine noise (g)
};

struct SnapshotState {
  double shaft_hz = 30.0;
  FaultMode mode = FaultMode::kNone;
  double impulse_amplitude = 0.0;    // peak response of one impact (g), grows with the defect
  double imbalance_amplitude = 0.0;  // once-per-revolution component (g)
};

// One snapshot of acceleration (g) at options.sample_rate_hz.
std::vector<double> vibration_snapshot(const BearingGeometry& g, const SnapshotOptions& options,
                                       const SnapshotState& state, core::CounterRng& rng);

struct SnapshotFeatures {
  double rms = 0.0, peak = 0.0, crest_factor = 0.0, kurtosis = 0.0;
  // Envelope-spectrum amplitudes (band around the resonance) at each defect frequency, +-2 %.
  double envelope_bpfo = 0.0, envelope_bpfi = 0.0, envelope_bsf = 0.0, envelope_ftf = 0.0;
  double amplitude_1x = 0.0;  // spectrum at the shaft frequency (imbalance)
  double mean_abs = 0.0;      // mean |x|
};
SnapshotFeatures snapshot_features(const std::vector<double>& x, const BearingGeometry& g,
                                   const SnapshotOptions& options, double shaft_hz);

// The envelope spectrum snapshot_features reads its defect amplitudes from: the snapshot
// band-passed around the resonance (wide enough for the sidebands of the fastest defect
// frequency at this shaft speed) and demodulated.
core::Spectrum defect_envelope_spectrum(const std::vector<double>& x, const BearingGeometry& g,
                                        const SnapshotOptions& options, double shaft_hz);

// Spall growth and temperature of one bearing; time in hours.
//   states:  a  spall size (mm),  T  bearing temperature (deg C)
//   da/dt = H(t) * n_cycles * 1000 C (Y s sqrt(pi a / 1000))^m     (Paris: C in m/cycle, dK in MPa sqrt(m))
//     s = s_ref (P / P_ref)^(1/3)                                  (Hertzian contact stress, MPa)
//     n_cycles = 3600 * bpfo * f_shaft                             (over-rolling stress cycles per hour)
//     H(t) = logistic((t - t_onset) / onset_width)                 (a fault starts growing at its onset)
//   heat_capacity dT/dt = mu (1 + k_d a) P (d_bore / 2) 2 pi f_shaft - hA (T - T_ambient)
//                         (friction power with damage-raised friction; convective loss)
class BearingDegradation : public core::TemplatedModel<BearingDegradation> {
 public:
  enum Parameter {
    kParisC,
    kParisM,
    kGeometryFactor,
    kStressRef,
    kLoadRef,
    kLoad,
    kShaftHz,
    kBpfo,
    kOnset,
    kOnsetWidth,
    kFriction,
    kFrictionGain,
    kBoreDiameter,
    kHeatTransfer,
    kHeatCapacity,
    kAmbient,
    kSpall0,
    kTemperature0,
    // Used by the vibration snapshots only (derived channels), not by the right-hand side:
    kFaultMode,
    kImpulseGain,
    kImbalance,
    kVibrationNoise,
    kResonance,
    kParameterCount
  };
  enum State { kSpall, kTemperature };

  // Vibration features at each reading come from a snapshot of this geometry
  // and length; the fault mode, impulse gain (g per mm of spall), imbalance,
  // noise and resonance are parameters.
  explicit BearingDegradation(BearingGeometry geometry = BearingGeometry::skf_6205(), SnapshotOptions snapshot = {});
  const std::string& name() const override { return name_; }
  const std::vector<core::VariableInfo>& states() const override { return states_; }
  const std::vector<core::VariableInfo>& parameters() const override { return parameters_; }
  void initial_state(const double* p, double* y0) const override;
  void initial_state_jacobian(const double* p, double* jac) const override;
  bool state_is_nonnegative(std::size_t i) const override { return i == kSpall; }
  // vib_rms, vib_peak, vib_crest, vib_kurtosis, env_bpfo, env_bpfi, env_bsf, env_ftf, vib_1x,
  // vib_mean_abs
  const std::vector<core::VariableInfo>& derived_channels() const override { return derived_; }
  void evaluate_derived(double t, const double* y, const double* p, core::CounterRng& rng, double* out) const override;
  // The waveform statistics (RMS, peak, crest, kurtosis, mean |x|) without the spectra.
  double evaluate_derived_channel(std::size_t k, double t, const double* y, const double* p,
                                  core::CounterRng& rng) const override;
  const BearingGeometry& geometry() const { return geometry_; }
  // The accelerometer snapshot (g) at the snapshot's sample rate.
  SignalInfo derived_signal_info() const override;
  std::vector<double> derived_signal(double t, const double* y, const double* p, core::CounterRng& rng) const override;
  void evaluate_derived_with_signal(double t, const double* y, const double* p, core::CounterRng& rng, double* out,
                                    std::vector<double>& signal) const override;

  // The accelerometer snapshot behind the derived channels at states y and parameters p, and
  // the options it was synthesised with (resonance and noise from p). With the rng that
  // evaluate_derived is given at a reading, this is the signal whose features were recorded.
  struct Snapshot {
    SnapshotOptions options;
    SnapshotState state;
    std::vector<double> signal;
  };
  Snapshot snapshot(const double* y, const double* p, core::CounterRng& rng) const;

  static constexpr bool kEvaluatesLanes = true;  // arithmetic and std functions only: runs on core::Lanes
  template <class T>
  void evaluate(const T& t, const T* y, const T* p, T* dydt) const {
    using std::pow;
    using std::sqrt;
    const T stress = p[kStressRef] * pow(p[kLoad] / p[kLoadRef], 1.0 / 3.0);
    const T delta_k = p[kGeometryFactor] * stress * sqrt(M_PI * y[kSpall] / 1000.0);
    const T cycles_per_hour = 3600.0 * p[kBpfo] * p[kShaftHz];
    const T active = core::logistic((t - p[kOnset]) / p[kOnsetWidth]);
    dydt[kSpall] = active * cycles_per_hour * 1000.0 * p[kParisC] * pow(delta_k, p[kParisM]);
    const T friction_power = p[kFriction] * (1.0 + p[kFrictionGain] * y[kSpall]) * p[kLoad] * 1000.0 *
                             (p[kBoreDiameter] / 2000.0) * (2.0 * M_PI * p[kShaftHz]);
    // W -> K/h: the heat capacity is in J/K and time in hours.
    dydt[kTemperature] =
        3600.0 * (friction_power - p[kHeatTransfer] * (y[kTemperature] - p[kAmbient])) / p[kHeatCapacity];
  }

 private:
  std::string name_ = "bearing_degradation";
  std::vector<core::VariableInfo> states_;
  std::vector<core::VariableInfo> parameters_;
  std::vector<core::VariableInfo> derived_;
  BearingGeometry geometry_;
  SnapshotOptions snapshot_;
};

}  // namespace physynth::domains::manufacturing
