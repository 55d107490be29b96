// Calibration of LINGRA (domains/crop/lingra.h) against the FAO lowland
// grassland network experiments (Corrall 1984, 1988; the layout of
// shared/data/crop/pcse-lingra-fao-grassland): perennial ryegrass, cut five
// times a season, with weekly measured accumulated above-ground dry matter.
//
// theta (light-use efficiency LUEmax and base leaf death rate RDRbase by
// default, optionally per variety; log-transformed, Levenberg-Marquardt in
// Ceres with central differences: LINGRA is a daily discrete-time model) is
// fitted on some experiments, each weighing the same (its residuals scaled by
// 1/sqrt(readings)), and every experiment is then simulated with it, so
// experiments at other sites and years are true predictions. Irrigated
// experiments run LINGRA_PP, rainfed ones LINGRA_WLP_FD.
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
  std::string variety;  // the crop calendar's variety_name (Northern_RyeGrass, Southern_RyeGrass)
  // Irrigated experiments run potential production (LINGRA_PP), rainfed ones the free-draining
  // water balance (LINGRA_WLP_FD), as the list's pcse_model column says.
  domains::crop::WaterSupply water = domains::crop::WaterSupply::kPotential;
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
  std::vector<std::string> theta_names;  // per-variety ones as NAME[variety]
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

// theta_names: parameters common to every experiment; per_variety: parameters fitted once per
// variety (each experiment takes its variety's value; a variety with no calibration experiment
// keeps each experiment's own value). theta lists the common ones, then per_variety for each
// variety in the order the calibration experiments first name it.
GrasslandCalibration calibrate_lingra(const std::vector<GrasslandExperiment>& experiments,
                                      const std::vector<std::string>& calibration_ids,
                                      const std::vector<std::string>& theta_names = {"LUEmax", "RDRbase"},
                                      const std::vector<std::string>& per_variety = {});

// Leave one site out: for each site, LINGRA is calibrated on the irrigated experiments of every
// other site (parameters as calibrate_lingra takes them) and predicts every experiment at the
// site, irrigated ones with potential production and rainfed ones with the water balance.
struct SiteValidation {
  std::string site;
  std::vector<std::string> theta_names;
  std::vector<double> theta;          // fitted without the site
  std::vector<GrasslandCalibration::Result> results;  // the site's experiments, predicted
};
std::vector<SiteValidation> leave_one_site_out_lingra(const std::vector<GrasslandExperiment>& experiments,
                                                      const std::vector<std::string>& theta_names,
                                                      const std::vector<std::string>& per_variety);

}  // namespace physynth::anchor
