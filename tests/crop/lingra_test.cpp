// LINGRA: mowing, and calibration on irrigated FAO grassland experiments at five sites
// (their first year) predicting the measured biomass at other sites and years.
#include <catch2/catch.hpp>

#include <cmath>
#include <iostream>

#include "physynth/anchor/grassland_calibration.h"

using namespace physynth;

namespace {
const std::string kDir = std::string(PHYSYNTH_SOURCE_DIR) + "/data/crop/lingra";

// The irrigated (potential production) experiments of the FAO set.
std::vector<anchor::GrasslandExperiment> irrigated(core::Diagnostics& diags) {
  auto all = anchor::read_grassland_experiments(kDir, diags);
  std::vector<anchor::GrasslandExperiment> out;
  for (auto& e : all)
    if (e.water == domains::crop::WaterSupply::kPotential) out.push_back(std::move(e));
  return out;
}
}

TEST_CASE("LINGRA: a cut removes the green leaves above the residue and biomass keeps accumulating") {
  core::Diagnostics diags;
  auto experiments = irrigated(diags);
  INFO(diags.report());
  REQUIRE(experiments.size() == 18);
  const auto& e = experiments.front();
  auto r = domains::crop::run_lingra(e.parameters, e.run, e.weather, {}, diags);
  REQUIRE(r);
  for (const auto& m : e.run.mowings) {
    const long k = domains::crop::days_between(e.run.calendar.start_year, e.run.calendar.start_day, m.year, m.day);
    REQUIRE(k + 1 < static_cast<long>(r->weight_abg.size()));
    const auto i = static_cast<std::size_t>(k);
    CHECK(r->weight_lv_green[i + 1] == Approx(m.biomass_remaining).margin(1e-9));  // the day after the cut
    CHECK(r->weight_abg[i + 1] >= r->weight_abg[i] - 1e-9);                        // harvested mass stays counted
  }
  for (std::size_t i = 1; i < r->weight_abg.size(); ++i) CHECK(r->lai[i] >= 0.0);
}

TEST_CASE("LINGRA calibrated on five sites predicts other sites and years") {
  core::Diagnostics diags;
  auto experiments = irrigated(diags);
  INFO(diags.report());
  REQUIRE(experiments.size() == 18);
  const std::vector<std::string> calibration{"000_UK2_1982", "004_SW1_1983", "018_FR2_1984", "050_IT1_1983",
                                             "054_NL1_1983"};
  const auto c = anchor::calibrate_lingra(experiments, calibration);
  std::cout << "LINGRA calibration: LUEmax " << c.theta_initial[0] << " -> " << c.theta[0] << ", RDRbase "
            << c.theta_initial[1] << " -> " << c.theta[1] << "; calibration RMSE " << c.initial_rmse << " -> "
            << c.final_rmse << " kg/ha in " << c.iterations << " iterations\n";
  double sum_pred = 0.0, sum_pred_before = 0.0;
  int n_pred = 0;
  for (const auto& r : c.results) {
    std::cout << "  " << r.id << (r.calibration ? " (fit)    " : " (predict)") << " n=" << r.points << " RMSE "
              << r.rmse << " kg/ha (PCSE parameters " << r.rmse_uncalibrated << "), final " << r.final_predicted
              << " vs " << r.final_measured << " (" << 100.0 * r.final_relative_error << " %)\n";
    if (!r.calibration) sum_pred += r.rmse, sum_pred_before += r.rmse_uncalibrated, ++n_pred;
  }
  std::cout << "  mean prediction RMSE " << sum_pred / n_pred << " kg/ha (PCSE parameters " << sum_pred_before / n_pred
            << ")\n";
  CHECK(c.final_rmse < c.initial_rmse);
  CHECK(n_pred == 13);
  // Out-of-sample skill: the calibrated model must beat its uncalibrated start on the held-out
  // experiments on average, and stay within 25 % of the final measured biomass on most of them.
  CHECK(sum_pred < sum_pred_before);
  int within = 0;
  for (const auto& r : c.results)
    if (!r.calibration && std::abs(r.final_relative_error) < 0.25) ++within;
  CHECK(within >= 9);
}

TEST_CASE("LINGRA: CVODE with continuous forcing against PCSE's daily Euler step, on the 18 FAO experiments") {
  core::Diagnostics diags;
  auto experiments = irrigated(diags);
  REQUIRE(experiments.size() == 18);
  domains::crop::LingraOptions cvode;
  cvode.scheme = domains::crop::CropScheme::kCvode;
  double worst_final = 0.0, worst_green = 0.0, mean_final = 0.0;
  long steps = 0;
  for (const auto& e : experiments) {
    INFO(e.id);
    const auto a = domains::crop::run_lingra(e.parameters, e.run, e.weather, {}, diags);
    const auto b = domains::crop::run_lingra(e.parameters, e.run, e.weather, cvode, diags);
    INFO(diags.report());
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(a->weight_abg.size() == b->weight_abg.size());
    const double rel = b->weight_abg.back() / a->weight_abg.back() - 1.0;
    worst_final = std::max(worst_final, std::fabs(rel));
    mean_final += rel / 18.0;
    for (std::size_t i = 0; i < a->weight_lv_green.size(); ++i)
      worst_green = std::max(worst_green, std::fabs(b->weight_lv_green[i] - a->weight_lv_green[i]));
    steps += b->solver_steps;
    // The cuts are the same discrete events in both schemes.
    for (const auto& m : e.run.mowings) {
      const auto k = static_cast<std::size_t>(
          domains::crop::days_between(e.run.calendar.start_year, e.run.calendar.start_day, m.year, m.day));
      if (k + 1 >= b->weight_lv_green.size()) continue;  // a cut scheduled after the season's end (034 BE1 1985)
      CHECK(b->weight_lv_green[k + 1] == Approx(m.biomass_remaining).margin(1e-9));
    }
  }
  std::cout << "LINGRA CVODE vs Euler over 18 seasons: final WeightABG mean " << 100 * mean_final << " %, worst "
            << 100 * worst_final << " %; worst daily WeightLVgreen difference " << worst_green << " kg/ha; " << steps
            << " CVODE steps\n";
  CHECK(worst_final < 0.05);
}

TEST_CASE("Water-limited LINGRA predicts the rainfed FAO experiments better than potential production") {
  // Each file's own parameters, rainfed experiments only: the water balance against the same
  // season run as if irrigated.
  core::Diagnostics diags;
  auto all = anchor::read_grassland_experiments(kDir, diags);
  INFO(diags.report());
  REQUIRE(all.size() == 57);
  double rmse[2] = {0, 0};
  int n = 0, better = 0;
  for (auto e : all) {
    if (e.water != domains::crop::WaterSupply::kWaterLimited) continue;
    double r[2];
    for (int k = 0; k < 2; ++k) {
      e.water = k == 0 ? domains::crop::WaterSupply::kWaterLimited : domains::crop::WaterSupply::kPotential;
      const auto c = anchor::calibrate_lingra({e}, {e.id}, {}, {});  // no theta: each file's own parameters
      r[k] = c.results.front().rmse_uncalibrated;
      rmse[k] += r[k];
    }
    ++n;
    if (r[0] < r[1]) ++better;
  }
  std::cout << "rainfed FAO experiments, own parameters: water-limited mean RMSE " << rmse[0] / n
            << " kg/ha, as potential production " << rmse[1] / n << "; water-limited better on " << better << " of " << n
            << "\n";
  CHECK(n == 39);
  CHECK(rmse[0] < rmse[1]);
  CHECK(better > n / 2);
}

TEST_CASE("LINGRA with LUEmax per variety, leave one site out: irrigated and rainfed FAO experiments predicted") {
  core::Diagnostics diags;
  const auto experiments = anchor::read_grassland_experiments(kDir, diags);
  INFO(diags.report());
  REQUIRE(!diags.has_errors());
  REQUIRE(experiments.size() == 57);
  // In sample (all 18 irrigated experiments), the fit must beat the files' own parameters.
  std::vector<std::string> irrigated_ids;
  for (const auto& e : experiments)
    if (e.water == domains::crop::WaterSupply::kPotential) irrigated_ids.push_back(e.id);
  const auto in_sample = anchor::calibrate_lingra(experiments, irrigated_ids, {}, {"LUEmax"});
  double fit = 0, own = 0;
  for (const auto& r : in_sample.results)
    if (r.calibration) fit += r.rmse / 18.0, own += r.rmse_uncalibrated / 18.0;
  std::cout << "in sample, 18 irrigated: mean RMSE " << fit << " kg/ha, own parameters " << own << "\n";
  CHECK(fit < own);

  const auto folds = anchor::leave_one_site_out_lingra(experiments, {}, {"LUEmax"});
  double sum[2] = {0, 0}, sum_own[2] = {0, 0};
  int n[2] = {0, 0}, better[2] = {0, 0};
  for (const auto& f : folds) {
    std::cout << f.site << ":";
    for (std::size_t j = 0; j < f.theta.size(); ++j) std::cout << " " << f.theta_names[j] << " " << f.theta[j];
    std::cout << "\n";
    for (const auto& r : f.results) {
      const bool rainfed = std::find_if(experiments.begin(), experiments.end(), [&](const auto& e) {
                             return e.id == r.id;
                           })->water == domains::crop::WaterSupply::kWaterLimited;
      std::cout << "  " << r.id << (rainfed ? " rainfed  " : " irrigated") << " RMSE " << r.rmse
                << " (own parameters " << r.rmse_uncalibrated << "), final " << r.final_predicted << " vs "
                << r.final_measured << "\n";
      CHECK(std::isfinite(r.rmse));
      CHECK(!r.calibration);
      sum[rainfed] += r.rmse, sum_own[rainfed] += r.rmse_uncalibrated, ++n[rainfed];
      if (r.rmse < r.rmse_uncalibrated) ++better[rainfed];
    }
    // A fold never fits on the site it predicts: each variety's LUEmax comes from other sites.
    CHECK(f.theta.size() == 2);
  }
  std::cout << "leave one site out, mean RMSE kg/ha: irrigated " << sum[0] / n[0] << " (own parameters "
            << sum_own[0] / n[0] << ", better on " << better[0] << " of " << n[0] << "), rainfed " << sum[1] / n[1]
            << " (own " << sum_own[1] / n[1] << ", better on " << better[1] << " of " << n[1] << ")\n";
  CHECK(folds.size() == 16);
  CHECK(n[0] == 18);
  CHECK(n[1] == 39);
}
