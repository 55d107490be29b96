#include "rows.h"
#include "physynth/core/constants.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "physynth/core/diagnostics.h"
#include "physynth/core/text.h"
#include "physynth/engine/feed.h"

namespace physynth::active::detail {

namespace {

constexpr std::size_t kBlock = 2048;

// A real series' value at t: the mean of its readings at t, else linear between the neighbouring
// readings, else NaN (before the first or after the last: no extrapolation). `how`: 0 read,
// 1 interpolated, 2 missing.
double value_at(const anchor::RealSeries& series, double t, int* how) {
  const auto& r = series.readings;
  const double tol = 1e-9 * std::max(1.0, std::abs(t));
  double sum = 0.0;
  int count = 0;
  for (const auto& reading : r)
    if (std::abs(reading.time - t) <= tol) {
      sum += reading.value;
      ++count;
    }
  if (count > 0) {
    *how = 0;
    return sum / count;
  }
  for (std::size_t j = 1; j < r.size(); ++j)
    if (r[j - 1].time < t && t < r[j].time) {
      *how = 1;
      const double w = (t - r[j - 1].time) / (r[j].time - r[j - 1].time);
      return r[j - 1].value + w * (r[j].value - r[j - 1].value);
    }
  *how = 2;
  return kNaN;
}

}  // namespace

Simulator::Simulator(const engine::Scenario& s, const std::string& target, const std::vector<std::string>& covariates,
                     int threads)
    : s_(s), generator_(s, threads), covariates_(covariates), target_(target) {
  windows_ = s.feed.present && target == s.feed.target;
  for (std::size_t l = 0; l < s.labels.size(); ++l)
    if (s.labels[l].name == target) label_ = l;
  if (label_ == std::numeric_limits<std::size_t>::max() && !windows_) {
    std::vector<std::string> names;
    for (const auto& l : s.labels) names.push_back(l.name);
    if (s.feed.present) names.push_back(s.feed.target + " (the feed's windows)");
    throw std::invalid_argument("--target '" + target + "' is not a label of the scenario; its labels are " +
                                (names.empty() ? "none" : core::join(names)));
  }
  if (windows_)
    for (const auto& r : s.record_labels)
      if (r.name == target && r.clip) clip_ = *r.clip;
  if (s.observations.empty())
    throw std::invalid_argument("the scenario has no observations: the model has nothing to learn from");
  std::vector<std::string> parameters;
  for (const auto& p : s.parameters) parameters.push_back(p.name);
  for (const auto& c : covariates_)
    if (std::find(parameters.begin(), parameters.end(), c) == parameters.end())
      throw std::invalid_argument("--covariates: '" + c + "' is not a parameter of the scenario; its parameters are " +
                                  core::join(parameters));
}

Rows Simulator::operator()(const std::vector<double>& unit, const std::vector<std::uint64_t>& keys) {
  const std::size_t d = dimension(), n = keys.size();
  Rows out;
  for (std::size_t first = 0; first < n; first += kBlock) {
    const std::size_t count = std::min(kBlock, n - first);
    const engine::Shard sh = generator_.at(unit.data() + first * d, keys.data() + first, count);
    std::vector<std::size_t> cov;
    for (const auto& c : covariates_)
      cov.push_back(static_cast<std::size_t>(
          std::find(sh.parameter_names.begin(), sh.parameter_names.end(), c) - sh.parameter_names.begin()));
    const std::size_t P = sh.parameter_names.size();
    auto append_covariates = [&](std::size_t i) {
      for (std::size_t c : cov) out.x.push_back(sh.parameters[i * P + c]);
    };
    if (channels_.empty()) {
      const std::vector<std::string> names =
          windows_ ? s_.feed.channels : [&] {
            std::vector<std::string> all;
            for (const auto& ob : sh.observations) all.push_back(ob.name);
            return all;
          }();
      for (const auto& name : names) {
        const auto& ob = sh.observation(name);
        channels_.push_back({ob.name, ob.units, ob.times});
      }
    }
    if (windows_) {
      engine::WindowBatch wb;
      for (auto split : {engine::Split::kTrain, engine::Split::kValidation, engine::Split::kTest})
        engine::append_windows(s_, sh, split, &wb);
      const std::size_t per = wb.window * wb.channels;
      features_ = per + cov.size();
      for (std::size_t w = 0; w < wb.size; ++w) {
        for (std::size_t k = 0; k < per; ++k) {
          const float v = wb.features[w * per + k];
          out.x.push_back(std::isfinite(v) ? static_cast<double>(v) : 0.0);
        }
        const auto i = static_cast<std::size_t>(wb.samples[w]) - sh.first_sample;
        append_covariates(i);
        out.y.push_back(static_cast<double>(wb.targets[w]));
        out.owner.push_back(first + i);
      }
      continue;
    }
    std::size_t f = 0;
    for (const auto& ob : sh.observations) f += ob.times.size();
    features_ = f + cov.size();
    for (std::size_t i = 0; i < count; ++i) {
      for (const auto& ob : sh.observations)
        for (std::size_t j = 0; j < ob.times.size(); ++j) {
          const double v = ob.values[i * ob.times.size() + j];
          out.x.push_back(std::isfinite(v) ? v : 0.0);
        }
      append_covariates(i);
      const bool ok = sh.status[i] != static_cast<std::int8_t>(engine::SampleStatus::kFailed);
      out.y.push_back(ok ? sh.labels[i * sh.num_labels() + label_] : kNaN);
      out.owner.push_back(first + i);
    }
  }
  return out;
}

Rows Simulator::real(const anchor::RealData& data, RealDataSummary* summary) const {
  const std::string& file = data.file;
  // Which real observable feeds each channel: the channel's own name, or an anchor mapping to it.
  std::map<std::string, std::size_t> source;  // observable -> channel
  for (std::size_t c = 0; c < channels_.size(); ++c) source[channels_[c].name] = c;
  if (s_.anchor.present)
    for (const auto& a : s_.anchor.observables)
      for (std::size_t c = 0; c < channels_.size(); ++c)
        if (a.observation == channels_[c].name) source[a.name] = c;
  const auto observables = data.observables();
  std::vector<std::string> channel_names;
  for (const auto& c : channels_) channel_names.push_back(c.name);
  if (std::find(observables.begin(), observables.end(), target_) == observables.end())
    throw std::invalid_argument(file + ": no reading of the target '" + target_ +
                                "' (an observable of that name); the file's observables are " +
                                core::join(observables));
  if (std::none_of(observables.begin(), observables.end(), [&](const std::string& o) { return source.count(o); }))
    throw std::invalid_argument(file + ": no observable is a channel the model sees (" + core::join(channel_names) +
                                (s_.anchor.present ? ", or an anchor.observables name of one" : "") +
                                "); the file's observables are " + core::join(observables));
  for (const auto& c : covariates_)
    if (std::find(data.covariate_columns.begin(), data.covariate_columns.end(), c) == data.covariate_columns.end())
      throw std::invalid_argument(file + ": no covariate column '" + c + "' (--covariates); the file's are " +
                                  (data.covariate_columns.empty() ? "none" : core::join(data.covariate_columns)));
  RealDataSummary sum;
  sum.file = file;
  sum.units = data.units.size();
  for (const auto& o : observables)
    if (o != target_ && !source.count(o)) sum.unused_observables.push_back(o);
  Rows out;
  for (std::size_t u = 0; u < data.units.size(); ++u) {
    const auto& unit = data.units[u];
    std::vector<const anchor::RealSeries*> series(channels_.size(), nullptr);
    const anchor::RealSeries* target = nullptr;
    for (const auto& sr : unit.series) {
      if (sr.observable == target_) target = &sr;
      const auto it = source.find(sr.observable);
      if (it == source.end()) continue;
      const auto& ch = channels_[it->second];
      if (!sr.units.empty() && !ch.units.empty() && sr.units != ch.units)
        throw std::invalid_argument(file + ":" + std::to_string(sr.readings.front().line) + ": observable '" +
                                    sr.observable + "' is in " + sr.units + ", the channel '" + ch.name +
                                    "' it feeds is in " + ch.units);
      series[it->second] = &sr;
    }
    const std::size_t before = out.y.size();
    auto place = [&](std::size_t c, std::size_t j) {
      int how = 2;
      const double v = series[c] ? value_at(*series[c], channels_[c].times[j], &how) : kNaN;
      (how == 0 ? sum.direct : how == 1 ? sum.interpolated : sum.missing) += 1;
      return v;
    };
    auto append_covariates = [&] {
      for (const auto& c : covariates_) out.x.push_back(unit.covariates.at(c));
    };
    const bool seen = std::any_of(series.begin(), series.end(), [](const anchor::RealSeries* p) { return p; });
    if (target && seen && !windows_) {
      for (std::size_t c = 0; c < channels_.size(); ++c)
        for (std::size_t j = 0; j < channels_[c].times.size(); ++j) {
          const double v = place(c, j);
          out.x.push_back(std::isfinite(v) ? v : 0.0);
        }
      append_covariates();
      out.y.push_back(target->readings.back().value);
      out.owner.push_back(u);
    } else if (target && seen) {
      const std::size_t W = s_.feed.window, C = channels_.size(), R = channels_.front().times.size();
      for (std::size_t end = W - 1; end < R; end += s_.feed.stride) {
        int how = 2;
        const double y = value_at(*target, channels_.front().times[end], &how);
        if (!std::isfinite(y)) continue;
        // Every reading of the window within the unit's readings (no extrapolation).
        bool inside = true;
        for (std::size_t c = 0; c < C && inside; ++c)
          for (std::size_t k = end + 1 - W; k <= end && inside; ++k) {
            int h = 2;
            inside = series[c] && std::isfinite(value_at(*series[c], channels_[c].times[k], &h));
          }
        if (!inside) continue;
        for (std::size_t k = end + 1 - W; k <= end; ++k)
          for (std::size_t c = 0; c < C; ++c) out.x.push_back(place(c, k));
        append_covariates();
        out.y.push_back(std::min(y, clip_));
        out.owner.push_back(u);
      }
    }
    if (out.y.size() == before) ++sum.units_without_rows;
  }
  sum.rows = out.y.size();
  if (out.y.empty())
    throw std::invalid_argument(
        file + ": no unit gives a row for the model" +
        (windows_ ? " (a window needs " + std::to_string(s_.feed.window) + " readings of " +
                        core::join(channel_names) + " at the scenario's reading times within the unit's span, and "
                        "the target known at its last one)"
                  : " (a unit needs a reading of the target '" + target_ + "')"));
  if (summary) *summary = sum;
  return out;
}

}  // namespace physynth::active::detail
