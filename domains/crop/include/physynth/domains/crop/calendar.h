// When a crop starts and ends in a season (PCSE's CropCalendar), shared by the crop models.
#pragma once

namespace physynth::domains::crop {

enum class CropEnd { kMaturity, kHarvest, kEarliest };

// When a crop starts and ends (PCSE's CropCalendar).
struct CropCalendar {
  int start_year = 0, start_day = 0;  // day of year
  bool start_at_emergence = false;    // else at sowing
  CropEnd end = CropEnd::kMaturity;
  int end_year = 0, end_day = 0;  // for harvest and earliest
  int max_duration = 365;         // days
};

}  // namespace physynth::domains::crop
