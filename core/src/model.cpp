#include "physynth/core/model.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace physynth::core {

void Model::parameter_jacobian_columns(double t, const double* y, const double* p, const std::vector<int>& columns,
                                       double* jac) const {
  const std::size_t n = num_states();
  std::vector<double> all(n * num_parameters());
  parameter_jacobian(t, y, p, all.data());
  for (std::size_t k = 0; k < columns.size(); ++k)
    std::copy(&all[n * static_cast<std::size_t>(columns[k])], &all[n * static_cast<std::size_t>(columns[k])] + n,
              jac + n * k);
}

void Model::sensitivity_rhs(double t, const double* y, const double* p, const double* S,
                            const std::vector<int>& columns, double* out) const {
  const std::size_t n = num_states(), K = columns.size();
  thread_local std::vector<double> jac;
  jac.resize(n * n);
  jacobian(t, y, p, jac.data());
  parameter_jacobian_columns(t, y, p, columns, out);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < n; ++j) {
      const double s = S[j + n * k];
      if (s == 0.0) continue;
      for (std::size_t i = 0; i < n; ++i) out[i + n * k] += jac[i + n * j] * s;
    }
}

SparsityPattern SparsityPattern::dense(int n) {
  SparsityPattern s;
  s.size = n;
  s.column_start.resize(n + 1);
  for (int j = 0; j <= n; ++j) s.column_start[j] = j * n;
  s.row_index.reserve(static_cast<std::size_t>(n) * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) s.row_index.push_back(i);
  return s;
}

void Model::rhs_and_jacobian(double t, const double* y, const double* p, double* dydt, double* jac) const {
  rhs(t, y, p, dydt);
  jacobian(t, y, p, jac);
}

void Model::rhs_lanes(const Lanes& t, const Lanes* y, const Lanes* p, Lanes* dydt) const {
  const std::size_t n = num_states(), m = num_parameters();
  std::vector<double> yl(n), pl(m), fl(n);
  for (int l = 0; l < kLanes; ++l) {
    for (std::size_t i = 0; i < n; ++i) yl[i] = y[i][l];
    for (std::size_t j = 0; j < m; ++j) pl[j] = p[j][l];
    rhs(t[l], yl.data(), pl.data(), fl.data());
    for (std::size_t i = 0; i < n; ++i) dydt[i].v[l] = fl[i];
  }
}

void Model::rhs_and_jacobian_lanes(const Lanes& t, const Lanes* y, const Lanes* p, Lanes* dydt, Lanes* jac) const {
  const std::size_t n = num_states(), m = num_parameters();
  // Scratch that lives with the thread: a Newton loop calls this for every group of rows.
  thread_local std::vector<double> yl, pl, fl, jl;
  yl.resize(n), pl.resize(m), fl.resize(n), jl.resize(n * n);
  for (int l = 0; l < kLanes; ++l) {
    for (std::size_t i = 0; i < n; ++i) yl[i] = y[i][l];
    for (std::size_t j = 0; j < m; ++j) pl[j] = p[j][l];
    rhs_and_jacobian(t[l], yl.data(), pl.data(), fl.data(), jl.data());
    for (std::size_t i = 0; i < n; ++i) dydt[i].v[l] = fl[i];
    for (std::size_t i = 0; i < n * n; ++i) jac[i].v[l] = jl[i];
  }
}

SparsityPattern Model::jacobian_sparsity() const { return SparsityPattern::dense(static_cast<int>(num_states())); }

const std::vector<VariableInfo>& Model::derived_channels() const {
  static const std::vector<VariableInfo> none;
  return none;
}

double Model::evaluate_derived_channel(std::size_t k, double t, const double* y, const double* p,
                                       CounterRng& rng) const {
  std::vector<double> out(derived_channels().size());
  evaluate_derived(t, y, p, rng, out.data());
  return out.at(k);
}

double Model::derived_partials(std::size_t k, double, const double*, const double*, double*, double*) const {
  throw std::logic_error("model '" + name() + "': derived channel " + std::to_string(k) +
                         " is random (a new draw at each reading); it has no partial derivatives");
}

namespace {
int find_name(const std::vector<VariableInfo>& list, const std::string& name) {
  for (std::size_t i = 0; i < list.size(); ++i)
    if (list[i].name == name) return static_cast<int>(i);
  return -1;
}
}  // namespace

int Model::state_index(const std::string& name) const { return find_name(states(), name); }
int Model::parameter_index(const std::string& name) const { return find_name(parameters(), name); }

namespace {
[[noreturn]] void not_an_ode(const Model& m, const char* what) {
  throw std::logic_error("model '" + m.name() + "' advances itself (SteppedModel::simulate); it has no " + what);
}
}  // namespace

void SteppedModel::initial_state(const double*, double*) const { not_an_ode(*this, "initial state"); }
void SteppedModel::initial_state_jacobian(const double*, double*) const { not_an_ode(*this, "initial-state Jacobian"); }
void SteppedModel::rhs(double, const double*, const double*, double*) const { not_an_ode(*this, "right-hand side"); }
void SteppedModel::jacobian(double, const double*, const double*, double*) const { not_an_ode(*this, "Jacobian"); }
void SteppedModel::parameter_jacobian(double, const double*, const double*, double*) const {
  not_an_ode(*this, "parameter Jacobian");
}

}  // namespace physynth::core
