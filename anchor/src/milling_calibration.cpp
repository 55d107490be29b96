#include "physynth/anchor/milling_calibration.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "physynth/domains/manufacturing/tool_wear.h"

namespace physynth::anchor {

using domains::manufacturing::ToolWear;

std::vector<MillingCase> read_milling_labels(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) header.push_back(f);
  }
  auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw std::runtime_error(path + ":1: missing column '" + name + "'");
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t c_case = column("case"), c_vb = column("VB"), c_time = column("time"), c_doc = column("DOC"),
                    c_feed = column("feed"), c_mat = column("material");
  std::map<int, MillingCase> cases;
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string v;
    while (std::getline(ss, v, ',')) f.push_back(v);
    if (!line.empty() && line.back() == ',') f.push_back("");
    if (f.size() != header.size())
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": " + std::to_string(f.size()) +
                               " fields, expected " + std::to_string(header.size()));
    auto number = [&](std::size_t c) {
      try {
        std::size_t used = 0;
        const double x = std::stod(f[c], &used);
        if (used != f[c].size()) throw std::invalid_argument("trailing text");
        return x;
      } catch (const std::exception&) {
        throw std::runtime_error(path + ":" + std::to_string(line_no) + ": column '" + header[c] +
                                 "' must be a number, got '" + f[c] + "'");
      }
    };
    const int id = static_cast<int>(number(c_case));
    MillingCase& mc = cases[id];
    mc.case_number = id;
    mc.depth_of_cut = number(c_doc);
    mc.feed = number(c_feed);
    mc.material = static_cast<int>(number(c_mat));
    if (f[c_vb].empty()) continue;  // not measured in this run: never imputed
    const double t = number(c_time);
    if (!mc.times.empty() && !(t > mc.times.back()))
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": time " + f[c_time] +
                               " does not increase within case " + std::to_string(id));
    mc.times.push_back(t);
    mc.wear.push_back(number(c_vb));
  }
  std::vector<MillingCase> out;
  for (auto& [id, mc] : cases) out.push_back(std::move(mc));
  return out;
}

namespace {
enum Theta { kRateCastIron, kRateSteel, kFeedExp, kDepthExp, kGain, kBreakScale, kForceWear, kThetaCount };

Experiment experiment_for(const MillingCase& c) {
  Experiment e;
  e.name = "case " + std::to_string(c.case_number);
  e.parameters.assign(ToolWear::kParameterCount, 0.0);
  e.parameters[ToolWear::kSpeed] = 200.0;  // m/min, the same in every case of this data set
  e.parameters[ToolWear::kSpeedRef] = 200.0;
  e.parameters[ToolWear::kSpeedExponent] = 0.0;  // speed does not vary here, so its exponent is not identifiable
  e.parameters[ToolWear::kFeed] = c.feed;
  e.parameters[ToolWear::kFeedRef] = 0.25;
  e.parameters[ToolWear::kDepth] = c.depth_of_cut;
  e.parameters[ToolWear::kDepthRef] = 0.75;
  e.parameters[ToolWear::kWear0] = 0.0;  // a new tool
  e.bindings = {{c.material == 1 ? kRateCastIron : kRateSteel, ToolWear::kRate},
                {kFeedExp, ToolWear::kFeedExponent},
                {kDepthExp, ToolWear::kDepthExponent},
                {kGain, ToolWear::kBreakInGain},
                {kBreakScale, ToolWear::kBreakInScale},
                {kForceWear, ToolWear::kForceScale}};
  e.t0 = 0.0;
  e.state = ToolWear::kWear;
  // A measurement at t = 0 is the initial state itself, not a residual.
  for (std::size_t i = 0; i < c.times.size(); ++i)
    if (c.times[i] > 0.0) {
      e.times.push_back(c.times[i]);
      e.values.push_back(c.wear[i]);
    }
  return e;
}
// The data set's replicate pairs: the same depth of cut, feed and material.
int replicate_of(int case_number) {
  static const int pairs[8][2] = {{1, 9}, {2, 12}, {3, 11}, {4, 10}, {5, 16}, {6, 15}, {7, 13}, {8, 14}};
  for (const auto& p : pairs) {
    if (p[0] == case_number) return p[1];
    if (p[1] == case_number) return p[0];
  }
  return 0;
}

// How well the twin's measured curve (linearly interpolated) predicts this case, over their common times:
// the spread between replicates, which no model of the conditions alone can beat.
double replicate_rmse(const MillingCase& c, const std::vector<MillingCase>& cases) {
  const int twin_number = replicate_of(c.case_number);
  const auto twin =
      std::find_if(cases.begin(), cases.end(), [&](const MillingCase& x) { return x.case_number == twin_number; });
  if (twin == cases.end() || twin->times.size() < 2) return std::nan("");
  double sum = 0.0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < c.times.size(); ++i) {
    const double t = c.times[i];
    if (t <= 0.0 || t < twin->times.front() || t > twin->times.back()) continue;
    const auto hi = std::upper_bound(twin->times.begin(), twin->times.end(), t) - twin->times.begin();
    const auto k = static_cast<std::size_t>(std::min<long>(hi, static_cast<long>(twin->times.size()) - 1));
    const double t0 = twin->times[k - 1], t1 = twin->times[k];
    const double v = twin->wear[k - 1] + (twin->wear[k] - twin->wear[k - 1]) * (t - t0) / (t1 - t0);
    sum += (v - c.wear[i]) * (v - c.wear[i]);
    ++n;
  }
  return n ? std::sqrt(sum / static_cast<double>(n)) : std::nan("");
}

}  // namespace

MillingCalibration calibrate_milling(const std::vector<MillingCase>& cases, const std::vector<int>& calibration_cases) {
  auto model = std::make_shared<ToolWear>();
  MillingCalibration result;
  result.theta_names = {"wear_rate_cast_iron", "wear_rate_steel", "feed_exponent",      "depth_exponent",
                        "breakin_gain",        "breakin_scale",   "force_doubling_wear"};
  std::vector<Experiment> fit_on;
  for (const auto& c : cases)
    if (std::find(calibration_cases.begin(), calibration_cases.end(), c.case_number) != calibration_cases.end()) {
      auto e = experiment_for(c);
      if (!e.times.empty()) fit_on.push_back(std::move(e));
    }
  FitOptions options;
  options.log_scale = {true, true, false, false, true, true, true};
  // Weak priors (one e-fold either way, in log space) on the shape of the break-in and accelerated
  // stages: runs that end before the accelerated stage cannot pin those down on their own.
  options.priors = {{kGain, std::log(0.5), 1.0}, {kBreakScale, std::log(0.1), 1.0}, {kForceWear, std::log(0.5), 1.0}};
  options.ode.rtol = 1e-8;
  options.ode.atol = 1e-10;
  // Start from the data's rough slopes: cast iron ~0.005 mm per time unit, steel ~4x faster.
  const std::vector<double> initial = {0.005, 0.02, 0.5, 0.5, 0.5, 0.1, 0.5};
  result.fit = fit_least_squares(model, fit_on, initial, options);
  for (const auto& c : cases) {
    const auto e = experiment_for(c);
    if (e.times.size() < 2) continue;
    const auto prediction = predict(model, e, result.fit.estimate, options.ode);
    MillingCalibration::CaseResult r;
    r.case_number = c.case_number;
    r.calibration =
        std::find(calibration_cases.begin(), calibration_cases.end(), c.case_number) != calibration_cases.end();
    r.points = e.times.size();
    r.rmse_mm = rmse(prediction, e.values);
    r.final_measured = e.values.back();
    r.final_predicted = prediction.back();
    r.replicate_rmse_mm = replicate_rmse(c, cases);
    result.cases.push_back(r);
  }
  return result;
}

}  // namespace physynth::anchor
