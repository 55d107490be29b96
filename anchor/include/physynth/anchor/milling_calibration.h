// Calibration of the milling tool-wear model (domains/manufacturing/tool_wear.h)
// against the NASA / UC Berkeley milling data set (Agogino & Goebel 2007):
// 16 cases, a 2 x 2 x 2 design in depth of cut, feed and workpiece material,
// run twice. The model is fitted on one replicate of each condition (cases
// 1-8) and predicts the other (cases 9-16).
#pragma once

#include <string>
#include <vector>

#include "physynth/anchor/least_squares.h"

namespace physynth::anchor {

struct MillingCase {
  int case_number = 0;
  double depth_of_cut = 0.0;  // mm
  double feed = 0.0;
  int material = 0;           // 1 cast iron, 2 steel
  std::vector<double> times;  // the data set's time units
  std::vector<double> wear;   // VB, mm; runs without a measurement are left out
};

// Reads milling_labels_with_tool_class.csv. Throws std::runtime_error naming
// the file, line and column of anything malformed.
std::vector<MillingCase> read_milling_labels(const std::string& path);

struct MillingCalibration {
  std::vector<std::string> theta_names;
  FitSummary fit;
  struct CaseResult {
    int case_number = 0;
    bool calibration = false;  // fitted on (true) or predicted (false)
    std::size_t points = 0;
    double rmse_mm = 0.0;
    double final_measured = 0.0, final_predicted = 0.0;
    double replicate_rmse_mm = 0.0;  // the twin case's measured curve as the prediction (NaN: no overlap)
  };
  std::vector<CaseResult> cases;
};

// Fits theta = (wear rate on cast iron, wear rate on steel, feed exponent,
// depth exponent, break-in gain, break-in scale, force-doubling wear) on
// `calibration_cases` and evaluates every case with at least two measurements.
MillingCalibration calibrate_milling(const std::vector<MillingCase>& cases,
                                     const std::vector<int>& calibration_cases = {1, 2, 3, 4, 5, 6, 7, 8});

}  // namespace physynth::anchor
