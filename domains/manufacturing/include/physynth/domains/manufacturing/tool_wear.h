// Flank wear VB of a milling tool, three stages in one law (time in the
// experiment's time unit):
//
//   dVB/dt = R (1 + beta exp(-VB / vb_breakin)) (1 + VB / vb_force)
//   R      = k (v / v_ref)^p_v (f / f_ref)^p_f (d / d_ref)^p_d
//
// Archard's law makes the wear rate proportional to the normal force and the
// sliding speed (Archard, J. Appl. Phys. 24 (1953) 981). R is that rate for a
// fresh edge at the cutting conditions, in the power-law form of Taylor-type
// tool-life equations (speed v, feed f, depth of cut d). The flank's rubbing
// force grows in proportion to the wear land, F = F0 (1 + VB / vb_force), so
// the rate does too: the accelerated stage, exponential in time, without the
// finite-time run-away of faster-than-linear laws. The first factor is the
// break-in of the sharp edge, whose rate decays as the land forms. Together:
// break-in, steady and accelerated stages. The tool is worn out at
// VB = 0.3 mm, ISO 8688-2's criterion for uniform flank wear (a scenario's
// event threshold, configurable).
//
// The same force law gives the signals: cutting force
//   F_c = k_c f d (1 + VB / vb_force)     (N; k_c the specific cutting force, N/mm^2),
// spindle power P = F_c v / 60 (W, v in m/min), and vibration in proportion
// to F_c; scenarios write them as observation expressions (domain README).
#pragma once

#include <string>
#include <vector>

#include "physynth/core/templated_model.h"

namespace physynth::domains::manufacturing {

class ToolWear : public core::TemplatedModel<ToolWear> {
 public:
  enum Parameter {
    kRate,
    kSpeed,
    kSpeedRef,
    kSpeedExponent,
    kFeed,
    kFeedRef,
    kFeedExponent,
    kDepth,
    kDepthRef,
    kDepthExponent,
    kBreakInGain,
    kBreakInScale,
    kForceScale,
    kWear0,
    kParameterCount
  };
  enum State { kWear };

  ToolWear();
  const std::string& name() const override { return name_; }
  const std::vector<core::VariableInfo>& states() const override { return states_; }
  const std::vector<core::VariableInfo>& parameters() const override { return parameters_; }
  void initial_state(const double* p, double* y0) const override { y0[kWear] = p[kWear0]; }
  void initial_state_jacobian(const double* p, double* jac) const override;
  bool state_is_nonnegative(std::size_t) const override { return true; }

  static constexpr bool kEvaluatesLanes = true;  // arithmetic and std functions only: runs on core::Lanes
  template <class T>
  void evaluate(const T& /*t*/, const T* y, const T* p, T* dydt) const {
    using std::exp;
    using std::pow;
    const T rate = p[kRate] * pow(p[kSpeed] / p[kSpeedRef], p[kSpeedExponent]) *
                   pow(p[kFeed] / p[kFeedRef], p[kFeedExponent]) * pow(p[kDepth] / p[kDepthRef], p[kDepthExponent]);
    dydt[kWear] =
        rate * (1.0 + p[kBreakInGain] * exp(-y[kWear] / p[kBreakInScale])) * (1.0 + y[kWear] / p[kForceScale]);
  }

 private:
  std::string name_ = "tool_wear";
  std::vector<core::VariableInfo> states_;
  std::vector<core::VariableInfo> parameters_;
};

}  // namespace physynth::domains::manufacturing
