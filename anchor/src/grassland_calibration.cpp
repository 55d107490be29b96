#include "physynth/anchor/grassland_calibration.h"

#include <ceres/ceres.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "physynth/core/text.h"
#include "physynth/domains/crop/pcse_inputs.h"

namespace physynth::anchor {

namespace crop = domains::crop;

namespace {

// Simulated accumulated biomass at each observation day, or NaN when the run failed.
std::vector<double> simulate(const GrasslandExperiment& e, const crop::CropParameters& params) {
  core::Diagnostics diags;
  const auto r = crop::run_lingra(params, e.run, e.weather, {}, diags);
  std::vector<double> out(e.obs_abg.size(), std::nan(""));
  if (!r) return out;
  for (std::size_t i = 0; i < e.obs_abg.size(); ++i) {
    const long k = crop::days_between(e.run.calendar.start_year, e.run.calendar.start_day, e.obs_year[i], e.obs_day[i]);
    if (k >= 0 && k < static_cast<long>(r->weight_abg.size())) out[i] = r->weight_abg[static_cast<std::size_t>(k)];
  }
  return out;
}

crop::CropParameters with_theta(const crop::CropParameters& base, const std::vector<std::string>& names,
                                const double* log_theta) {
  crop::CropParameters p = base;
  for (std::size_t j = 0; j < names.size(); ++j) p.set_number(names[j], std::exp(log_theta[j]));
  return p;
}

struct Residuals {
  const std::vector<const GrasslandExperiment*>& experiments;
  const std::vector<std::string>& names;
  bool operator()(double const* const* x, double* residuals) const {
    std::size_t k = 0;
    for (const GrasslandExperiment* e : experiments) {
      const auto sim = simulate(*e, with_theta(e->parameters, names, x[0]));
      for (std::size_t i = 0; i < sim.size(); ++i)
        residuals[k++] = std::isfinite(sim[i]) ? (sim[i] - e->obs_abg[i]) / 1000.0 : 1e3;  // t/ha
    }
    return true;
  }
};

double rmse(const std::vector<double>& sim, const std::vector<double>& obs) {
  double s = 0.0;
  for (std::size_t i = 0; i < sim.size(); ++i) s += (sim[i] - obs[i]) * (sim[i] - obs[i]);
  return std::sqrt(s / static_cast<double>(sim.size()));
}

}  // namespace

std::vector<GrasslandExperiment> read_grassland_experiments(const std::string& dir, core::Diagnostics& diags) {
  std::vector<GrasslandExperiment> out;
  const std::string list = dir + "/experiments.csv";
  std::ifstream in(list);
  if (!in) {
    diags.error({list, 0, 0}, "cannot open the experiment list");
    return out;
  }
  std::string line;
  std::getline(in, line);
  const auto header = core::split_fields(line, ',');
  auto column = [&](const char* name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) diags.error({list, 1, 0}, std::string("missing column ") + name);
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t c_id = column("experiment_id"), c_site = column("location"), c_year = column("year"),
                    c_weather = column("weather_file");
  if (diags.has_errors()) return out;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto f = core::split_fields(line, ',');
    if (f.size() < header.size()) {
      diags.error({list, n, 0}, "expected " + std::to_string(header.size()) + " columns");
      continue;
    }
    GrasslandExperiment e;
    e.id = f[c_id], e.site = f[c_site], e.year = std::stoi(f[c_year]);
    const std::string setup = dir + "/setup/" + e.id + ".yaml";
    YAML::Node root;
    try {
      root = YAML::LoadFile(setup);
    } catch (const YAML::Exception& ex) {
      diags.error({setup, ex.mark.line + 1, 0}, "cannot read: " + ex.msg);
      continue;
    }
    auto params = crop::parameters_from_yaml(root["ModelParameters"], setup, diags);
    auto agro = crop::agromanagement_from_yaml(root["Agromanagement"], setup, diags);
    auto weather = crop::read_pcse_csv_weather(dir + "/" + f[c_weather], diags);
    if (!params || !agro || !weather) continue;
    e.parameters = *params;
    e.weather = *weather;
    e.run = *agro;
    const std::string obs = dir + "/obs/" + e.id + ".csv";
    std::ifstream oin(obs);
    std::string ol;
    std::getline(oin, ol);
    for (int m = 2; std::getline(oin, ol); ++m) {
      const auto g = core::split_fields(ol, ',');
      int y = 0, d = 0;
      if (g.size() != 2 || !crop::parse_date(g[0], &y, &d)) {
        diags.error({obs, m, 0}, "expected day,WeightABG_kg_per_ha");
        continue;
      }
      e.obs_year.push_back(y), e.obs_day.push_back(d), e.obs_abg.push_back(std::stod(g[1]));
    }
    if (e.obs_abg.empty()) diags.error({obs, 0, 0}, "no observations");
    out.push_back(std::move(e));
  }
  return out;
}

GrasslandCalibration calibrate_lingra(const std::vector<GrasslandExperiment>& experiments,
                                      const std::vector<std::string>& calibration_ids,
                                      const std::vector<std::string>& theta_names) {
  GrasslandCalibration c;
  c.theta_names = theta_names;
  std::vector<const GrasslandExperiment*> fit_set;
  std::size_t residual_count = 0;
  for (const auto& e : experiments)
    if (std::find(calibration_ids.begin(), calibration_ids.end(), e.id) != calibration_ids.end()) {
      fit_set.push_back(&e);
      residual_count += e.obs_abg.size();
    }
  if (fit_set.empty()) throw std::invalid_argument("no calibration experiment among those read");
  // Start from the first calibration experiment's own parameters.
  core::Diagnostics ignore;
  std::vector<double> x;
  for (const auto& name : theta_names) {
    const double v = fit_set.front()->parameters.number(name, "LINGRA", ignore);
    c.theta_initial.push_back(v);
    x.push_back(std::log(v));
  }
  if (ignore.has_errors()) throw std::invalid_argument(ignore.report("calibration not started"));
  Residuals functor{fit_set, theta_names};
  auto* cost = new ceres::DynamicNumericDiffCostFunction<Residuals, ceres::CENTRAL>(new Residuals(functor),
                                                                                    ceres::TAKE_OWNERSHIP);
  cost->AddParameterBlock(static_cast<int>(x.size()));
  cost->SetNumResiduals(static_cast<int>(residual_count));
  ceres::Problem problem;
  problem.AddResidualBlock(cost, nullptr, x.data());
  ceres::Solver::Options options;
  options.linear_solver_type = ceres::DENSE_QR;
  options.max_num_iterations = 50;
  options.logging_type = ceres::SILENT;
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);
  c.iterations = static_cast<int>(summary.iterations.size());
  c.initial_rmse = std::sqrt(2.0 * summary.initial_cost / static_cast<double>(residual_count)) * 1000.0;
  c.final_rmse = std::sqrt(2.0 * summary.final_cost / static_cast<double>(residual_count)) * 1000.0;
  for (double v : x) c.theta.push_back(std::exp(v));
  for (const auto& e : experiments) {
    GrasslandCalibration::Result r;
    r.id = e.id, r.site = e.site, r.year = e.year;
    r.calibration = std::find(calibration_ids.begin(), calibration_ids.end(), e.id) != calibration_ids.end();
    r.points = e.obs_abg.size();
    const auto sim = simulate(e, with_theta(e.parameters, theta_names, x.data()));
    r.rmse = rmse(sim, e.obs_abg);
    r.rmse_uncalibrated = rmse(simulate(e, e.parameters), e.obs_abg);
    r.final_measured = e.obs_abg.back();
    r.final_predicted = sim.back();
    r.final_relative_error = (r.final_predicted - r.final_measured) / r.final_measured;
    c.results.push_back(r);
  }
  return c;
}

}  // namespace physynth::anchor
