// Inputs in PCSE's YAML layout (its WOFOST and LINGRA test cases and
// experiment files): AgroManagement (one crop calendar), ModelParameters,
// WeatherVariables (daily weather with E0, ES0 and ET0) and ExternalStates
// (a forced soil moisture). Every problem names the file, line and key.
#pragma once

#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "physynth/core/diagnostics.h"
#include "physynth/domains/crop/calendar.h"
#include "physynth/domains/crop/parameters.h"
#include "physynth/domains/crop/weather.h"

namespace physynth::domains::crop {

struct PcseInputs {
  CropParameters parameters;
  Agromanagement agromanagement;
  WeatherRecord weather;                       // empty when the file has no WeatherVariables
  std::optional<double> forced_soil_moisture;  // the ExternalStates SM, when constant
  YAML::Node root;                             // the whole document, for other sections
};

std::optional<PcseInputs> read_pcse_yaml_inputs(const std::string& path, core::Diagnostics& diags);

// PCSE's agromanagement list (the value of AgroManagement, spelled Agromanagement in some
// files): one campaign, optionally followed by the end marker {date: null}, with its
// CropCalendar and TimedEvents apply_n (amount g N/m2 and recovery, or N_amount kg N/ha and
// N_recovery) and mowing (biomass_remaining).
std::optional<Agromanagement> agromanagement_from_yaml(const YAML::Node& list, const std::string& file,
                                                       core::Diagnostics& diags);
// The ModelParameters of a PCSE YAML file.
std::optional<CropParameters> read_pcse_yaml_parameters(const std::string& path, core::Diagnostics& diags);
// The agromanagement section of a PCSE YAML file (AgroManagement or Agromanagement).
std::optional<Agromanagement> read_pcse_agromanagement(const std::string& path, core::Diagnostics& diags);
// A PCSE setup file's Model.model (LINGRA_PP, LINGRA_WLP_FD ...); "" when it names none or
// cannot be read (its reader reports that).
std::string pcse_model_of(const std::string& path);

}  // namespace physynth::domains::crop
