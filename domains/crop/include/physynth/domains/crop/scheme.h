// How a crop model is integrated: PCSE's daily Euler step (one step per day
// with that day's weather, reproducing PCSE), or CVODE within each day with
// the weather interpolated between the middles of days (continuous forcing).
#pragma once

namespace physynth::domains::crop {

enum class CropScheme { kEuler, kCvode };

}  // namespace physynth::domains::crop
