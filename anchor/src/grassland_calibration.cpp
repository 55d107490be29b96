#include "physynth/anchor/grassland_calibration.h"

#include <ceres/ceres.h>
#include <tbb/parallel_for.h>

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
  crop::LingraOptions options;
  options.water = e.water;
  const auto r = crop::run_lingra(params, e.run, e.weather, options, diags);
  std::vector<double> out(e.obs_abg.size(), std::nan(""));
  if (!r) return out;
  for (std::size_t i = 0; i < e.obs_abg.size(); ++i) {
    const long k = crop::days_between(e.run.calendar.start_year, e.run.calendar.start_day, e.obs_year[i], e.obs_day[i]);
    if (k >= 0 && k < static_cast<long>(r->weight_abg.size())) out[i] = r->weight_abg[static_cast<std::size_t>(k)];
  }
  return out;
}

// Which entry of log theta each experiment's parameters take: the common ones, then each
// calibrated variety's block.
struct ThetaMap {
  std::vector<std::string> common, per_variety, varieties;

  std::size_t size() const { return common.size() + varieties.size() * per_variety.size(); }
  std::vector<std::string> names() const {
    std::vector<std::string> n = common;
    for (const auto& v : varieties)
      for (const auto& q : per_variety) n.push_back(q + "[" + v + "]");
    return n;
  }
  crop::CropParameters apply(const GrasslandExperiment& e, const double* log_theta) const {
    crop::CropParameters p = e.parameters;
    for (std::size_t j = 0; j < common.size(); ++j) p.set_number(common[j], std::exp(log_theta[j]));
    const auto it = std::find(varieties.begin(), varieties.end(), e.variety);
    if (it != varieties.end()) {
      const std::size_t base = common.size() + static_cast<std::size_t>(it - varieties.begin()) * per_variety.size();
      for (std::size_t k = 0; k < per_variety.size(); ++k) p.set_number(per_variety[k], std::exp(log_theta[base + k]));
    }
    return p;
  }
};

// One experiment's residuals, t/ha, scaled by 1/sqrt(n) so that each experiment weighs the
// same whatever its number of readings (its block's squared norm is its mean squared error).
struct ExperimentResiduals {
  const GrasslandExperiment* e;
  const ThetaMap& map;
  bool operator()(double const* const* x, double* residuals) const {
    const auto sim = simulate(*e, map.apply(*e, x[0]));
    const double w = 1.0 / (1000.0 * std::sqrt(static_cast<double>(sim.size())));
    for (std::size_t i = 0; i < sim.size(); ++i)
      residuals[i] = std::isfinite(sim[i]) ? (sim[i] - e->obs_abg[i]) * w : 1e3;
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
    e.variety = agro->calendar.variety_name;
    const std::string model = root["Model"] && root["Model"]["model"] ? root["Model"]["model"].Scalar() : "LINGRA_PP";
    if (model == "LINGRA_WLP_FD") {
      e.water = crop::WaterSupply::kWaterLimited;
    } else if (model != "LINGRA_PP") {
      diags.error({setup, 0, 0}, "Model.model is '" + model +
                                     "'; LINGRA_PP (irrigated) and LINGRA_WLP_FD (rainfed) run here, nitrogen-limited "
                                     "LINGRA does not");
      continue;
    }
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

namespace {

// RMSE over every reading of the experiments, kg/ha, at theta (log theta when `log_scale`).
double pooled_rmse(const std::vector<const GrasslandExperiment*>& set, const ThetaMap& map, std::vector<double> theta,
                   bool log_scale) {
  if (!log_scale)
    for (double& v : theta) v = std::log(v);
  double s = 0.0;
  std::size_t n = 0;
  for (const GrasslandExperiment* e : set) {
    const auto sim = simulate(*e, map.apply(*e, theta.data()));
    for (std::size_t i = 0; i < sim.size(); ++i) s += (sim[i] - e->obs_abg[i]) * (sim[i] - e->obs_abg[i]), ++n;
  }
  return std::sqrt(s / static_cast<double>(n));
}

// Fits log theta on fit_set (Levenberg-Marquardt, central differences), filling c's theta,
// RMSEs and iterations; returns log theta.
std::vector<double> fit(const std::vector<const GrasslandExperiment*>& fit_set, ThetaMap& map,
                        GrasslandCalibration& c) {
  if (fit_set.empty()) throw std::invalid_argument("no calibration experiment among those read");
  for (const GrasslandExperiment* e : fit_set) {
    if (!e->variety.empty() && std::find(map.varieties.begin(), map.varieties.end(), e->variety) == map.varieties.end() &&
        !map.per_variety.empty())
      map.varieties.push_back(e->variety);
  }
  // Start from the first calibration experiment's own parameters (of that variety, per variety).
  core::Diagnostics ignore;
  std::vector<double> x;
  for (const auto& name : map.common) x.push_back(fit_set.front()->parameters.number(name, "LINGRA", ignore));
  for (const auto& v : map.varieties) {
    const auto first = *std::find_if(fit_set.begin(), fit_set.end(), [&](const auto* e) { return e->variety == v; });
    for (const auto& name : map.per_variety) x.push_back(first->parameters.number(name, "LINGRA", ignore));
  }
  if (ignore.has_errors()) throw std::invalid_argument(ignore.report("calibration not started"));
  c.theta_names = map.names();
  c.theta_initial = x;
  for (double& v : x) v = std::log(v);
  if (x.empty()) {  // nothing to fit: the experiments' own parameters
    c.initial_rmse = c.final_rmse = pooled_rmse(fit_set, map, x, true);
    return x;
  }
  ceres::Problem problem;
  for (const GrasslandExperiment* e : fit_set) {
    auto* cost = new ceres::DynamicNumericDiffCostFunction<ExperimentResiduals, ceres::CENTRAL>(
        new ExperimentResiduals{e, map}, ceres::TAKE_OWNERSHIP);
    cost->AddParameterBlock(static_cast<int>(x.size()));
    cost->SetNumResiduals(static_cast<int>(e->obs_abg.size()));
    problem.AddResidualBlock(cost, nullptr, x.data());
  }
  ceres::Solver::Options options;
  options.linear_solver_type = ceres::DENSE_QR;
  options.max_num_iterations = 50;
  options.logging_type = ceres::SILENT;
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);
  c.iterations = static_cast<int>(summary.iterations.size());
  c.initial_rmse = pooled_rmse(fit_set, map, c.theta_initial, false);
  c.final_rmse = pooled_rmse(fit_set, map, x, true);
  c.theta.clear();
  for (double v : x) c.theta.push_back(std::exp(v));
  return x;
}

GrasslandCalibration::Result predict(const GrasslandExperiment& e, const ThetaMap& map, const std::vector<double>& x,
                                     bool calibration) {
  GrasslandCalibration::Result r;
  r.id = e.id, r.site = e.site, r.year = e.year;
  r.calibration = calibration;
  r.points = e.obs_abg.size();
  const auto sim = simulate(e, map.apply(e, x.data()));
  r.rmse = rmse(sim, e.obs_abg);
  r.rmse_uncalibrated = rmse(simulate(e, e.parameters), e.obs_abg);
  r.final_measured = e.obs_abg.back();
  r.final_predicted = sim.back();
  r.final_relative_error = (r.final_predicted - r.final_measured) / r.final_measured;
  return r;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

GrasslandCalibration calibrate_lingra(const std::vector<GrasslandExperiment>& experiments,
                                      const std::vector<std::string>& calibration_ids,
                                      const std::vector<std::string>& theta_names,
                                      const std::vector<std::string>& per_variety) {
  GrasslandCalibration c;
  std::vector<const GrasslandExperiment*> fit_set;
  for (const auto& e : experiments)
    if (contains(calibration_ids, e.id)) fit_set.push_back(&e);
  ThetaMap map{theta_names, per_variety, {}};
  const std::vector<double> x = fit(fit_set, map, c);
  for (const auto& e : experiments) c.results.push_back(predict(e, map, x, contains(calibration_ids, e.id)));
  return c;
}

std::vector<SiteValidation> leave_one_site_out_lingra(const std::vector<GrasslandExperiment>& experiments,
                                                      const std::vector<std::string>& theta_names,
                                                      const std::vector<std::string>& per_variety) {
  std::vector<std::string> sites;
  for (const auto& e : experiments)
    if (!contains(sites, e.site)) sites.push_back(e.site);
  std::vector<SiteValidation> out(sites.size());
  tbb::parallel_for(std::size_t{0}, sites.size(), [&](std::size_t s) {
    std::vector<const GrasslandExperiment*> fit_set;
    for (const auto& e : experiments)
      if (e.site != sites[s] && e.water == crop::WaterSupply::kPotential) fit_set.push_back(&e);
    GrasslandCalibration c;
    ThetaMap map{theta_names, per_variety, {}};
    const std::vector<double> x = fit(fit_set, map, c);
    out[s].site = sites[s];
    out[s].theta_names = c.theta_names;
    out[s].theta = c.theta;
    for (const auto& e : experiments)
      if (e.site == sites[s]) out[s].results.push_back(predict(e, map, x, false));
  });
  return out;
}

}  // namespace physynth::anchor
