#include "physynth/core/scheduled_model.h"

#include <algorithm>
#include <set>

namespace physynth::core {

ScheduledModel::ScheduledModel(std::shared_ptr<const Model> inner, std::vector<VariableInfo> extra_parameters,
                               std::vector<ScheduledChange> changes)
    : inner_(std::move(inner)), parameters_(inner_->parameters()), changes_(std::move(changes)) {
  parameters_.insert(parameters_.end(), extra_parameters.begin(), extra_parameters.end());
}

void ScheduledModel::initial_state_jacobian(const double* p, double* jac) const {
  const std::size_t n = num_states();
  std::fill(jac, jac + n * num_parameters(), 0.0);
  inner_->initial_state_jacobian(p, jac);  // the inner model's columns come first
}

void ScheduledModel::parameter_jacobian(double t, const double* y, const double* p, double* jac) const {
  const std::size_t n = num_states();
  std::fill(jac, jac + n * num_parameters(), 0.0);
  inner_->parameter_jacobian(t, y, p, jac);
}

void ScheduledModel::parameter_jacobian_columns(double t, const double* y, const double* p,
                                                const std::vector<int>& columns, double* jac) const {
  // The inner model's columns; the schedule's own parameters (after them) do not enter f.
  const std::size_t n = num_states(), inner = inner_->num_parameters();
  std::vector<int> own;
  std::vector<std::size_t> at;
  for (std::size_t k = 0; k < columns.size(); ++k) {
    std::fill(jac + n * k, jac + n * (k + 1), 0.0);
    if (static_cast<std::size_t>(columns[k]) < inner) own.push_back(columns[k]), at.push_back(k);
  }
  std::vector<double> part(n * own.size());
  inner_->parameter_jacobian_columns(t, y, p, own, part.data());
  for (std::size_t k = 0; k < own.size(); ++k) std::copy(&part[n * k], &part[n * (k + 1)], jac + n * at[k]);
}

std::vector<LinearInvariant> ScheduledModel::linear_invariants() const {
  std::set<int> scheduled;
  for (const auto& c : changes_)
    for (const auto& target : c.targets) scheduled.insert(target.state);
  std::vector<LinearInvariant> kept;
  for (auto& law : inner_->linear_invariants()) {
    bool touched = false;
    for (int i : scheduled) touched = touched || law.weights[static_cast<std::size_t>(i)] != 0.0;
    if (!touched) kept.push_back(std::move(law));
  }
  return kept;
}

namespace {
// The times of change c: at, at + every, ... (count of them).
template <class F>
void for_each_time(const ScheduledChange& c, const double* p, F&& f) {
  const double at = p[c.at];
  const double every = c.every >= 0 ? p[c.every] : 0.0;
  for (int j = 0; j < c.count; ++j) f(at + j * every);
}
}  // namespace

std::vector<double> ScheduledModel::jump_times(const double* p) const {
  std::vector<double> times = inner_->jump_times(p);
  for (const auto& c : changes_) for_each_time(c, p, [&](double t) { times.push_back(t); });
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  return times;
}

void ScheduledModel::apply_jumps(double t, double* y, const double* p) const {
  // The inner model's own jumps first, then the schedule's in the order written.
  inner_->apply_jumps(t, y, p);
  for (const auto& c : changes_)
    for_each_time(c, p, [&](double when) {
      if (when != t) return;
      for (const auto& target : c.targets) {
        const auto i = static_cast<std::size_t>(target.state);
        y[i] = target.add ? y[i] + p[target.value] : p[target.value];
      }
    });
}

double ScheduledModel::derived_partials(std::size_t k, double t, const double* y, const double* p, double* dh_dy,
                                        double* dh_dp) const {
  // The schedule's own parameters come after the inner model's; no derived channel reads them.
  const double h = inner_->derived_partials(k, t, y, p, dh_dy, dh_dp);
  if (dh_dp)
    for (std::size_t j = inner_->num_parameters(); j < parameters_.size(); ++j) dh_dp[j] = 0.0;
  return h;
}

}  // namespace physynth::core
