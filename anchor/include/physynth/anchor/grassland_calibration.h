// Calibration of LINGRA (domains/crop/lingra.h) against the FAO lowland
// grassland network experiments (Corrall 1984, 1988; the layout of
// shared/data/crop/pcse-lingra-fao-grassland): perennial ryegrass, cut five
// times a season, with weekly measured accumulated above-ground dry matter.
//
// theta (light-use efficiency LUEmax and base leaf death rate RDRbase by
// default, log-transformed, Levenberg-Marquardt in Ceres with central
// differences: LINGRA is a daily discrete-time model) is fitted on some
// experiments and every experiment is then simulated with it, so experiments
// at other sites and years are true predictions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"
#include "physynth/domains/crop/lingra.h"
#include "physynth/domains/crop/parameters.h"
#include "physynth/domains/crop/weather.h"

namespace physynth::anchor {

struct GrasslandExperiment {
  std::string id, site;
  int year = 0;
  domains::crop::CropParameters parameters;
  domains::crop::Agromanagement run;
  domains::crop::WeatherRecord weather;
  std::vector<int> obs_year, obs_day;
  std::vector<double> obs_abg;  // kg DM/ha, accumulated
};

// Reads experiments.csv and, for each listed experiment, setup/<id>.yaml, obs/<id>.csv and its
// weather file, under `dir`. Problems are errors in `diags` (file, line, what is wrong).
std::vector<GrasslandExperiment> read_grassland_experiments(const std::string& dir, core::Diagnostics& diags);

struct GrasslandCalibration {
  std::vector<std::string> theta_names;
  std::vector<double> theta_initial, theta;
  double initial_rmse = 0.0, final_rmse = 0.0;  // over the calibration observations, kg/ha
  int iterations = 0;
  struct Result {
    std::string id, site;
    int year = 0;
    bool calibration = false;
    std::size_t points = 0;
    double rmse = 0.0;               // kg/ha, calibrated model
    double rmse_uncalibrated = 0.0;  // kg/ha, the experiment's own PCSE parameters
    double final_measured = 0.0, final_predicted = 0.0;
    double final_relative_error = 0.0;  // (predicted - measured) / measured at the last observation
  };
  std::vector<Result> results;
};

GrasslandCalibration calibrate_lingra(const std::vector<GrasslandExperiment>& experiments,
                                      const std::vector<std::string>& calibration_ids,
                                      const std::vector<std::string>& theta_names = {"LUEmax", "RDRbase"});

}  // namespace physynth::anchor
