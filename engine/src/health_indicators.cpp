#include "physynth/engine/health_indicators.h"
#include "physynth/core/constants.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "physynth/engine/dataset.h"

namespace physynth::engine {

namespace {

// x resampled to n points, linear in the fraction of its length.
std::vector<double> resample(const std::vector<double>& x, std::size_t n) {
  if (x.size() == n) return x;
  std::vector<double> out(n);
  for (std::size_t k = 0; k < n; ++k) {
    const double at =
        n == 1 ? 0.0 : static_cast<double>(k) * static_cast<double>(x.size() - 1) / static_cast<double>(n - 1);
    const auto lo = static_cast<std::size_t>(std::floor(at));
    const std::size_t hi = std::min(lo + 1, x.size() - 1);
    out[k] = x[lo] + (at - static_cast<double>(lo)) * (x[hi] - x[lo]);
  }
  return out;
}

// Pearson's correlation; 0 where either is constant (no shape to share).
double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const auto n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) ma += a[k], mb += b[k];
  ma /= n, mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    sab += (a[k] - ma) * (b[k] - mb);
    saa += (a[k] - ma) * (a[k] - ma);
    sbb += (b[k] - mb) * (b[k] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace

IndicatorQuality indicator_quality(const std::vector<std::vector<double>>& trajectories) {
  std::vector<std::vector<double>> units;
  for (const auto& t : trajectories) {
    std::vector<double> x;
    for (double v : t)
      if (!std::isnan(v)) x.push_back(v);
    if (x.size() >= 2) units.push_back(std::move(x));
  }
  IndicatorQuality q;
  q.units = units.size();
  if (units.size() < 2) {
    q.monotonicity = q.prognosability = q.trendability = kNaN;
    return q;
  }
  const auto U = static_cast<double>(units.size());
  double monotonic = 0.0, end_mean = 0.0, range = 0.0;
  for (const auto& x : units) {
    double signs = 0.0;
    for (std::size_t k = 0; k + 1 < x.size(); ++k) signs += (x[k + 1] > x[k]) - (x[k + 1] < x[k]);
    monotonic += std::fabs(signs) / static_cast<double>(x.size() - 1);
    end_mean += x.back();
    range += std::fabs(x.front() - x.back());
  }
  q.monotonicity = monotonic / U;
  end_mean /= U;
  double end_var = 0.0;
  for (const auto& x : units) end_var += (x.back() - end_mean) * (x.back() - end_mean);
  const double end_sd = std::sqrt(end_var / (U - 1.0));
  q.prognosability = range > 0 ? std::exp(-end_sd / (range / U)) : 0.0;
  q.trendability = 1.0;
  for (std::size_t i = 0; i < units.size(); ++i)
    for (std::size_t j = i + 1; j < units.size(); ++j) {
      const std::size_t n = std::min(units[i].size(), units[j].size());
      q.trendability = std::min(q.trendability, std::fabs(correlation(resample(units[i], n), resample(units[j], n))));
    }
  return q;
}

nlohmann::ordered_json health_indicator_quality(const std::vector<std::string>& hdf5_shards, std::size_t max_units) {
  std::map<std::string, std::vector<std::vector<double>>> channels;
  std::vector<std::string> order;
  std::size_t units = 0;
  for (const auto& path : hdf5_shards) {
    if (units >= max_units) break;
    const Shard s = read_hdf5(path, false);  // the channels only: snapshots stay on disk
    for (std::size_t i = 0; i < s.samples && units < max_units; ++i) {
      if (s.status[i] != static_cast<std::int8_t>(SampleStatus::kStoppedByEvent)) continue;
      ++units;
      for (const auto& o : s.observations) {
        if (!channels.count(o.name)) order.push_back(o.name);
        std::vector<double> x;
        for (std::size_t j = 0; j < o.times.size() && o.times[j] <= s.t_reached[i]; ++j)
          x.push_back(o.values[i * o.times.size() + j]);
        channels[o.name].push_back(std::move(x));
      }
    }
  }
  nlohmann::ordered_json out;
  out["method"] = "Coble and Hines (2009): monotonicity, prognosability, trendability, each in [0, 1], 1 best";
  out["units"] = units;
  out["units_at_most"] = max_units;
  nlohmann::ordered_json per = nlohmann::ordered_json::object();
  for (const auto& name : order) {
    const IndicatorQuality q = indicator_quality(channels[name]);
    auto number = [](double v) { return std::isnan(v) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v); };
    per[name] = {{"units", q.units},
                 {"monotonicity", number(q.monotonicity)},
                 {"prognosability", number(q.prognosability)},
                 {"trendability", number(q.trendability)}};
  }
  out["channels"] = per;
  return out;
}

}  // namespace physynth::engine
