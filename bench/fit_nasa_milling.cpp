// Fits the tool-wear model to the NASA milling cases 1-8, predicts 9-16, and
// prints the per-case RMSE table of domains/manufacturing/README.md.
//   fit_nasa_milling LABELS_CSV
#include <cstdio>
#include <iostream>

#include "physynth/anchor/milling_calibration.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fit_nasa_milling milling_labels_with_tool_class.csv\n";
    return 2;
  }
  const auto cal = physynth::anchor::calibrate_milling(physynth::anchor::read_milling_labels(argv[1]));
  std::printf("%s\n\n", cal.fit.message.c_str());
  for (std::size_t j = 0; j < cal.theta_names.size(); ++j)
    std::printf("- %s = %.4g\n", cal.theta_names[j].c_str(), cal.fit.estimate[j]);
  std::printf(
      "\n| case | role | points | RMSE VB, model (mm) | RMSE VB, replicate's measured curve (mm) | last VB measured | "
      "last VB "
      "model |\n|---|---|---|---|---|---|---|\n");
  for (const auto& r : cal.cases)
    std::printf("| %d | %s | %zu | %.3f | %.3f | %.2f | %.2f |\n", r.case_number,
                r.calibration ? "fitted" : "predicted", r.points, r.rmse_mm, r.replicate_rmse_mm, r.final_measured,
                r.final_predicted);
  return cal.fit.converged ? 0 : 1;
}
