#include "physynth/domains/manufacturing/tool_wear.h"

#include <algorithm>

namespace physynth::domains::manufacturing {

ToolWear::ToolWear() {
  states_ = {{"VB", "mm", "flank wear land width"}};
  parameters_.resize(kParameterCount);
  parameters_[kRate] = {"wear_rate", "mm/time", "steady wear rate at the reference conditions"};
  parameters_[kSpeed] = {"cutting_speed", "m/min", "cutting speed"};
  parameters_[kSpeedRef] = {"cutting_speed_ref", "m/min", "reference cutting speed"};
  parameters_[kSpeedExponent] = {"speed_exponent", "1", "exponent of speed in the wear rate"};
  parameters_[kFeed] = {"feed", "mm", "feed"};
  parameters_[kFeedRef] = {"feed_ref", "mm", "reference feed"};
  parameters_[kFeedExponent] = {"feed_exponent", "1", "exponent of feed in the wear rate"};
  parameters_[kDepth] = {"depth_of_cut", "mm", "axial depth of cut"};
  parameters_[kDepthRef] = {"depth_of_cut_ref", "mm", "reference depth of cut"};
  parameters_[kDepthExponent] = {"depth_exponent", "1", "exponent of depth of cut in the wear rate"};
  parameters_[kBreakInGain] = {"breakin_gain", "1", "extra wear rate of the sharp edge, relative"};
  parameters_[kBreakInScale] = {"breakin_scale", "mm", "wear over which break-in fades"};
  parameters_[kForceScale] = {"force_doubling_wear", "mm",
                              "wear land at which the flank force, and so the wear rate, doubles"};
  parameters_[kWear0] = {"VB0", "mm", "initial flank wear"};
}

void ToolWear::initial_state_jacobian(const double*, double* jac) const {
  std::fill(jac, jac + kParameterCount, 0.0);
  jac[kWear0] = 1.0;
}

}  // namespace physynth::domains::manufacturing
