// Crop management of one season (PCSE's agromanagement): when the simulation
// and the crop start and end, and the timed events (nitrogen applications,
// mowing). Shared by the crop models.
#pragma once

#include <string>
#include <vector>

namespace physynth::domains::crop {

enum class CropEnd { kMaturity, kHarvest, kEarliest };

// When a crop starts and ends (PCSE's CropCalendar).
struct CropCalendar {
  int start_year = 0, start_day = 0;  // day of year
  bool start_at_emergence = false;    // else at sowing
  CropEnd end = CropEnd::kMaturity;
  int end_year = 0, end_day = 0;  // for harvest and earliest
  int max_duration = 365;         // days
  std::string crop_name, variety_name;  // as the file names them ("" when it does not)
};

struct NitrogenApplication {
  int year = 0, day = 0;
  double amount = 0.0;    // g N/m2
  double recovery = 1.0;  // fraction that becomes available
};

struct Mowing {
  int year = 0, day = 0;
  double biomass_remaining = 0.0;  // kg DM/ha of green leaves left standing
};

// One campaign: the simulation starts on (start_year, start_day), the campaign's date, which
// may precede the crop's start (the soil runs alone until then).
struct Agromanagement {
  int start_year = 0, start_day = 0;
  CropCalendar calendar;
  std::vector<NitrogenApplication> nitrogen;  // PCSE event signal apply_n
  std::vector<Mowing> mowings;                // PCSE event signal mowing
  std::string pcse_model;  // a PCSE setup file's Model.model (LINGRA_PP, LINGRA_WLP_FD ...), when it names one
};

}  // namespace physynth::domains::crop
