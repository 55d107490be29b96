// How a crop model is integrated: PCSE's daily Euler step (one step per day
// with that day's weather, reproducing PCSE), or CVODE within each day with
// the weather interpolated between the middles of days (continuous forcing).
#pragma once

namespace physynth::domains::crop {

enum class CropScheme { kEuler, kCvode };

// Where a crop's water comes from: potential production keeps the soil at field capacity
// (PCSE's WaterbalancePP); water-limited production runs the free-draining soil water balance
// (WaterbalanceFD, water_balance_fd.h) on the weather's rain.
enum class WaterSupply { kPotential, kWaterLimited };

}  // namespace physynth::domains::crop
