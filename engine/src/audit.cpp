#include "audit.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "journal.h"
#include "physynth/core/diagnostics.h"

namespace physynth::engine {

SampleAudit audit_sample(const std::vector<core::LinearInvariant>& invariants, std::size_t n, const double* states,
                         std::size_t rows, const double* p) {
  SampleAudit a;
  a.invariant_abs.assign(invariants.size(), 0.0);
  a.invariant_rel.assign(invariants.size(), 0.0);
  a.min_state.assign(n, std::numeric_limits<double>::infinity());
  a.max_abs_state.assign(n, 0.0);
  if (rows == 0) return a;
  // Each maximum and minimum runs in locals, over even and odd rows apart (the same bits as one
  // pass in row order; tests/engine/audit_sample_test.cpp), rather than in the result's vectors.
  std::vector<double> w(n);
  for (std::size_t k = 0; k < invariants.size(); ++k) {
    for (std::size_t i = 0; i < n; ++i) w[i] = invariants[k].weight(i, p);
    double initial = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      initial += w[i] * states[i];
      scale += std::fabs(w[i] * states[i]);
    }
    scale = std::max({std::fabs(initial), scale, std::numeric_limits<double>::min()});
    // Two running maxima, even and odd rows, so that consecutive rows do not wait on each other;
    // a NaN row never enters either (std::max keeps the first argument), so the order is free.
    const auto deviation = [&](std::size_t r) {
      double value = 0.0;
      for (std::size_t i = 0; i < n; ++i) value += w[i] * states[r * n + i];
      return std::fabs(value - initial);
    };
    double worst_odd = 0.0, worst_even = 0.0;
    std::size_t r = 1;
    for (; r + 1 < rows; r += 2) {
      worst_odd = std::max(worst_odd, deviation(r));
      worst_even = std::max(worst_even, deviation(r + 1));
    }
    if (r < rows) worst_odd = std::max(worst_odd, deviation(r));
    a.invariant_abs[k] = std::max(worst_odd, worst_even);
    a.invariant_rel[k] = a.invariant_abs[k] / scale;
  }
  for (std::size_t i = 0; i < n; ++i) {
    double lowest[2] = {a.min_state[i], a.min_state[i]}, largest[2] = {a.max_abs_state[i], a.max_abs_state[i]};
    const double* x = states + i;
    std::size_t r = 0;
    for (; r + 1 < rows; r += 2) {
      lowest[0] = std::min(lowest[0], x[r * n]);
      lowest[1] = std::min(lowest[1], x[(r + 1) * n]);
      largest[0] = std::max(largest[0], std::fabs(x[r * n]));
      largest[1] = std::max(largest[1], std::fabs(x[(r + 1) * n]));
    }
    if (r < rows) {
      lowest[0] = std::min(lowest[0], x[r * n]);
      largest[0] = std::max(largest[0], std::fabs(x[r * n]));
    }
    a.min_state[i] = std::min(lowest[0], lowest[1]);
    // One pass in row order keeps the first of equal minima; equal doubles differ only as -0 and
    // +0, so where the two disagree on a zero's sign the first zero in row order is the answer.
    if (lowest[0] == lowest[1] && std::signbit(lowest[0]) != std::signbit(lowest[1]))
      for (std::size_t row = 0; row < rows; ++row)
        if (x[row * n] == 0.0) {
          a.min_state[i] = x[row * n];
          break;
        }
    a.max_abs_state[i] = std::max(largest[0], largest[1]);
  }
  return a;
}

namespace {
constexpr std::uint64_t kExponentBits = 0x7FF0000000000000ull;  // of an IEEE double: all set for inf and NaN
}  // namespace

double invariant_tolerance(double rtol) { return std::max(rtol, 1e-6); }

double negative_tolerance(double atol, double rtol, double max_abs) { return atol + rtol * max_abs; }

std::string physics_violation(const core::Model& model, const std::vector<core::LinearInvariant>& invariants,
                              const SampleAudit& a, const double* states, std::size_t rows, double rtol,
                              const std::vector<double>& atol, bool nan_is_missing, std::string* message) {
  const std::size_t n = model.num_states();
  // Whether any value is not finite (its exponent bits all set), over all values at once; only
  // then which.
  std::uint64_t any_not_finite = 0;
  for (std::size_t k = 0; k < rows * n; ++k) {
    std::uint64_t bits;
    std::memcpy(&bits, states + k, sizeof bits);
    any_not_finite |= static_cast<std::uint64_t>((bits & kExponentBits) == kExponentBits);
  }
  for (std::size_t r = 0; any_not_finite != 0 && r < rows; ++r)
    for (std::size_t i = 0; i < n; ++i)
      if (std::isinf(states[r * n + i]) || (std::isnan(states[r * n + i]) && !nan_is_missing)) {
        *message = "state " + model.states()[i].name + " is " + core::format_number(states[r * n + i]) +
                   " at output row " + std::to_string(r);
        return "NONFINITE_STATE";
      }
  const double tol = invariant_tolerance(rtol);
  for (std::size_t k = 0; k < invariants.size(); ++k)
    if (!(a.invariant_rel[k] <= tol)) {
      *message = "conservation law " + invariants[k].description + " = const is off by " +
                 core::format_number(a.invariant_abs[k]) + " (relative " + core::format_number(a.invariant_rel[k]) +
                 ", tolerance max(rtol, 1e-6) = " + core::format_number(tol) + ")";
      return "INVARIANT_VIOLATED";
    }
  for (std::size_t i = 0; i < n; ++i) {
    if (!model.state_is_nonnegative(i)) continue;
    const double floor = -negative_tolerance(atol[i], rtol, a.max_abs_state[i]);
    if (a.min_state[i] < floor) {
      *message = "amount " + model.states()[i].name + " reaches " + core::format_number(a.min_state[i]) +
                 ", below its tolerance " + core::format_number(floor) + " (atol + rtol * max |" +
                 model.states()[i].name + "|)";
      return "NEGATIVE_AMOUNT";
    }
  }
  return "";
}

AuditAccumulator::AuditAccumulator(const core::Model& model, double rtol, std::vector<double> atol,
                                   std::vector<std::string> event_names)
    : invariants_(model.linear_invariants()),
      rtol_(rtol),
      atol_(std::move(atol)),
      event_names_(std::move(event_names)) {
  for (std::size_t i = 0; i < model.num_states(); ++i) {
    state_names_.push_back(model.states()[i].name);
    nonnegative_.push_back(model.state_is_nonnegative(i));
  }
  worst_abs_.assign(invariants_.size(), 0.0);
  worst_rel_.assign(invariants_.size(), 0.0);
  worst_sample_.assign(invariants_.size(), -1);
  min_state_.assign(state_names_.size(), std::numeric_limits<double>::infinity());
  min_sample_.assign(state_names_.size(), -1);
  negative_samples_.assign(state_names_.size(), 0);
  event_counts_.assign(event_names_.size(), 0);
}

void AuditAccumulator::add(std::uint64_t sample, const SampleAudit& a, SampleStatus status, const std::int64_t* stats,
                           const std::vector<int>& events_fired) {
  ++samples_;
  if (status == SampleStatus::kFailed) {
    failed_.push_back(static_cast<std::int64_t>(sample));
  } else {
    if (status == SampleStatus::kOk)
      ++ok_;
    else
      ++stopped_;
    for (std::size_t k = 0; k < invariants_.size(); ++k)
      if (a.invariant_rel[k] > worst_rel_[k]) {
        worst_rel_[k] = a.invariant_rel[k];
        worst_abs_[k] = a.invariant_abs[k];
        worst_sample_[k] = static_cast<std::int64_t>(sample);
      }
    for (std::size_t i = 0; i < state_names_.size(); ++i) {
      if (a.min_state[i] < min_state_[i]) {
        min_state_[i] = a.min_state[i];
        min_sample_[i] = static_cast<std::int64_t>(sample);
      }
      if (nonnegative_[i] && a.min_state[i] < -negative_tolerance(atol_[i], rtol_, a.max_abs_state[i]))
        ++negative_samples_[i];
    }
  }
  if (stat_sum_.empty()) {
    stat_sum_.assign(solvers::SolverStats::kCount, 0.0L);
    stat_max_.assign(solvers::SolverStats::kCount, 0);
  }
  for (std::size_t k = 0; k < stat_sum_.size(); ++k) {
    stat_sum_[k] += stats[k];
    stat_max_[k] = std::max(stat_max_[k], stats[k]);
  }
  for (int e : events_fired) ++event_counts_[static_cast<std::size_t>(e)];
}

nlohmann::ordered_json AuditAccumulator::to_json(const std::vector<std::string>& stat_names) const {
  nlohmann::ordered_json j;
  j["samples"] = samples_;
  j["ok"] = ok_;
  j["stopped_by_event"] = stopped_;
  j["failed"] = failed_.size();
  j["failed_samples"] = failed_;
  nlohmann::ordered_json laws = nlohmann::ordered_json::array();
  double worst = 0.0;
  for (std::size_t k = 0; k < invariants_.size(); ++k) {
    laws.push_back({{"law", invariants_[k].description + " = const"},
                    {"weights", invariants_[k].weights},
                    {"worst_relative_violation", worst_rel_[k]},
                    {"worst_absolute_violation", worst_abs_[k]},
                    {"worst_sample", worst_sample_[k]}});
    worst = std::max(worst, worst_rel_[k]);
  }
  j["conservation"] = {{"laws", laws}, {"worst_relative_violation", worst}};
  nlohmann::ordered_json states = nlohmann::ordered_json::array();
  std::int64_t negative_total = 0;
  for (std::size_t i = 0; i < state_names_.size(); ++i) {
    nlohmann::ordered_json s = {{"state", state_names_[i]}, {"must_be_nonnegative", bool(nonnegative_[i])}};
    s["minimum"] =
        std::isfinite(min_state_[i]) ? nlohmann::ordered_json(min_state_[i]) : nlohmann::ordered_json(nullptr);
    s["minimum_sample"] = min_sample_[i];
    s["tolerance"] =
        "atol + rtol * max|y|, atol = " + core::format_number(atol_[i]) + ", rtol = " + core::format_number(rtol_);
    s["samples_below_minus_tolerance"] = negative_samples_[i];
    negative_total += negative_samples_[i];
    states.push_back(s);
  }
  j["negative_amounts"] = {{"samples_below_minus_tolerance", negative_total}, {"states", states}};
  nlohmann::ordered_json stats = nlohmann::ordered_json::object();
  for (std::size_t k = 0; k < stat_sum_.size() && k < stat_names.size(); ++k)
    stats[stat_names[k]] = {{"total", static_cast<double>(stat_sum_[k])},
                            {"mean", samples_ ? static_cast<double>(stat_sum_[k] / samples_) : 0.0},
                            {"max", stat_max_[k]}};
  j["solver_statistics"] = stats;
  nlohmann::ordered_json events = nlohmann::ordered_json::object();
  for (std::size_t e = 0; e < event_names_.size(); ++e) events[event_names_[e]] = event_counts_[e];
  j["events_fired"] = events;
  return j;
}

nlohmann::json AuditAccumulator::state() const {
  std::vector<std::int64_t> sums(stat_sum_.size());
  for (std::size_t k = 0; k < sums.size(); ++k) sums[k] = static_cast<std::int64_t>(stat_sum_[k]);  // integer counts
  return {{"samples", samples_},
          {"ok", ok_},
          {"stopped", stopped_},
          {"failed", failed_},
          {"worst_abs", exact_doubles(worst_abs_)},
          {"worst_rel", exact_doubles(worst_rel_)},
          {"worst_sample", worst_sample_},
          {"min_state", exact_doubles(min_state_)},
          {"min_sample", min_sample_},
          {"negative_samples", negative_samples_},
          {"stat_sum", sums},
          {"stat_max", stat_max_},
          {"event_counts", event_counts_}};
}

void AuditAccumulator::merge(const nlohmann::json& j) {
  const auto worst_abs = read_exact_doubles(j.at("worst_abs")), worst_rel = read_exact_doubles(j.at("worst_rel"));
  const auto worst_sample = j.at("worst_sample").get<std::vector<std::int64_t>>();
  const auto min_state = read_exact_doubles(j.at("min_state"));
  const auto min_sample = j.at("min_sample").get<std::vector<std::int64_t>>();
  const auto negative = j.at("negative_samples").get<std::vector<std::int64_t>>();
  const auto events = j.at("event_counts").get<std::vector<std::uint64_t>>();
  if (worst_rel.size() != worst_rel_.size() || min_state.size() != min_state_.size() ||
      events.size() != event_counts_.size())
    throw std::runtime_error("a shard's audit record does not match the scenario's model");
  samples_ += j.at("samples").get<std::uint64_t>();
  ok_ += j.at("ok").get<std::uint64_t>();
  stopped_ += j.at("stopped").get<std::uint64_t>();
  for (auto f : j.at("failed")) failed_.push_back(f.get<std::int64_t>());
  // Strictly better replaces: the earlier sample wins a tie, as add() in sample order does.
  for (std::size_t k = 0; k < worst_rel_.size(); ++k)
    if (worst_rel[k] > worst_rel_[k]) {
      worst_rel_[k] = worst_rel[k];
      worst_abs_[k] = worst_abs[k];
      worst_sample_[k] = worst_sample[k];
    }
  for (std::size_t i = 0; i < min_state_.size(); ++i) {
    if (min_state[i] < min_state_[i]) {
      min_state_[i] = min_state[i];
      min_sample_[i] = min_sample[i];
    }
    negative_samples_[i] += negative[i];
  }
  const auto sums = j.at("stat_sum").get<std::vector<std::int64_t>>();
  const auto maxes = j.at("stat_max").get<std::vector<std::int64_t>>();
  if (!sums.empty()) {
    if (stat_sum_.empty()) {
      stat_sum_.assign(sums.size(), 0.0L);
      stat_max_.assign(sums.size(), 0);
    }
    for (std::size_t k = 0; k < stat_sum_.size() && k < sums.size(); ++k) {
      stat_sum_[k] += static_cast<long double>(sums[k]);
      stat_max_[k] = std::max(stat_max_[k], maxes[k]);
    }
  }
  for (std::size_t e = 0; e < events.size(); ++e) event_counts_[e] += events[e];
}

}  // namespace physynth::engine
