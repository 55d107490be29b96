#include "physynth/domains/kinetics/reaction_network.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include <Eigen/LU>

#include "physynth/core/diagnostics.h"

namespace physynth::domains::kinetics {

ReactionNetwork::ReactionNetwork(std::string name, std::vector<core::VariableInfo> species,
                                 std::vector<int> initial_parameter, std::vector<core::VariableInfo> parameters,
                                 std::vector<Reaction> reactions, std::vector<char> boundary)
    : name_(std::move(name)),
      species_(std::move(species)),
      initial_parameter_(std::move(initial_parameter)),
      parameters_(std::move(parameters)),
      reactions_(std::move(reactions)) {
  const std::size_t n = species_.size(), r = reactions_.size();
  stoichiometry_ = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(r));
  boundary.resize(n, 0);
  for (std::size_t k = 0; k < r; ++k) {
    for (const auto& s : reactions_[k].reactants)
      if (!boundary[static_cast<std::size_t>(s.species)]) stoichiometry_(s.species, k) -= s.coefficient;
    for (const auto& s : reactions_[k].products)
      if (!boundary[static_cast<std::size_t>(s.species)]) stoichiometry_(s.species, k) += s.coefficient;
  }
  term_start_.assign(1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < r; ++k)
      if (stoichiometry_(i, k) != 0.0) {
        term_reaction_.push_back(static_cast<int>(k));
        term_coefficient_.push_back(stoichiometry_(i, k));
      }
    term_start_.push_back(static_cast<int>(term_reaction_.size()));
  }
  for (const Reaction& rx : reactions_) {
    FlatReaction f;
    f.law = rx.law;
    f.reversible = rx.reversible;
    f.k_forward = rx.k_forward, f.k_reverse = rx.k_reverse, f.vmax = rx.vmax, f.km = rx.km, f.hill_n = rx.hill_n;
    f.substrate = rx.substrate;
    const auto factors_of = [&](const std::vector<SpeciesTerm>& terms) {
      for (const SpeciesTerm& s : terms)
        for (int c = 0; c < s.coefficient; ++c) factors_.push_back(s.species);
    };
    f.forward_begin = static_cast<int>(factors_.size());
    factors_of(rx.reactants);
    f.forward_end = static_cast<int>(factors_.size());
    if (rx.reversible) factors_of(rx.products);
    f.reverse_end = static_cast<int>(factors_.size());
    flat_.push_back(f);
  }

  // df_i/dy_j can be nonzero when species j enters reaction k's rate and species i changes in k.
  std::vector<std::set<int>> columns(n);
  for (std::size_t k = 0; k < r; ++k) {
    const Reaction& rx = reactions_[k];
    std::set<int> inputs;
    if (rx.law == RateLaw::kMassAction) {
      for (const auto& s : rx.reactants) inputs.insert(s.species);
      if (rx.reversible)
        for (const auto& s : rx.products) inputs.insert(s.species);
    } else {
      inputs.insert(rx.substrate);
    }
    for (int j : inputs)
      for (std::size_t i = 0; i < n; ++i)
        if (stoichiometry_(i, k) != 0.0) columns[j].insert(static_cast<int>(i));
  }
  sparsity_.size = static_cast<int>(n);
  sparsity_.column_start.assign(1, 0);
  for (std::size_t j = 0; j < n; ++j) {
    // CVODE adds the identity to the Jacobian: keep the diagonal in the pattern.
    columns[j].insert(static_cast<int>(j));
    for (int i : columns[j]) sparsity_.row_index.push_back(i);
    sparsity_.column_start.push_back(static_cast<int>(sparsity_.row_index.size()));
  }
  coloring_ = core::coloring_if_it_pays(sparsity_);
  conservation_laws_ = conservation_laws(stoichiometry_, species_);
  // A boundary species is constant between scheduled changes, not conserved: no law of its own.
  conservation_laws_.erase(std::remove_if(conservation_laws_.begin(), conservation_laws_.end(),
                                          [&](const core::LinearInvariant& law) {
                                            for (std::size_t i = 0; i < n; ++i)
                                              if (boundary[i] && law.weights[i] != 0.0) return true;
                                            return false;
                                          }),
                           conservation_laws_.end());
}

void ReactionNetwork::initial_state(const double* p, double* y0) const {
  for (std::size_t i = 0; i < species_.size(); ++i) y0[i] = p[initial_parameter_[i]];
}

void ReactionNetwork::initial_state_jacobian(const double*, double* jac) const {
  const std::size_t n = species_.size();
  std::fill(jac, jac + n * parameters_.size(), 0.0);
  for (std::size_t i = 0; i < n; ++i) jac[i + n * static_cast<std::size_t>(initial_parameter_[i])] = 1.0;
}

namespace {
// Scales v so its entries are small integers when they are rationals with small
// denominators; otherwise so its largest entry is 1.
void integerise(Eigen::VectorXd& v) {
  const double max_abs = v.cwiseAbs().maxCoeff();
  if (max_abs == 0.0) return;
  v /= max_abs;
  for (int scale = 1; scale <= 60; ++scale) {
    Eigen::VectorXd w = v;
    // Make the smallest nonzero entry's magnitude the unit, times `scale`.
    double smallest = 1.0;
    for (Eigen::Index i = 0; i < w.size(); ++i)
      if (std::fabs(w[i]) > 1e-9) smallest = std::min(smallest, std::fabs(w[i]));
    w *= scale / smallest;
    bool integral = true;
    for (Eigen::Index i = 0; i < w.size(); ++i) integral = integral && std::fabs(w[i] - std::round(w[i])) < 1e-8;
    if (integral) {
      for (Eigen::Index i = 0; i < w.size(); ++i) w[i] = std::round(w[i]);
      v = w;
      break;
    }
  }
  // Prefer a positive leading entry.
  for (Eigen::Index i = 0; i < v.size(); ++i)
    if (v[i] != 0.0) {
      if (v[i] < 0.0) v = -v;
      break;
    }
}
}  // namespace

std::vector<core::LinearInvariant> conservation_laws(const Eigen::MatrixXd& stoichiometry,
                                                     const std::vector<core::VariableInfo>& species) {
  std::vector<core::LinearInvariant> laws;
  const Eigen::Index n = stoichiometry.rows();
  if (n == 0) return laws;
  Eigen::MatrixXd basis;
  if (stoichiometry.cols() == 0) {
    basis = Eigen::MatrixXd::Identity(n, n);
  } else {
    Eigen::FullPivLU<Eigen::MatrixXd> lu(stoichiometry.transpose());
    lu.setThreshold(1e-10);
    basis = lu.kernel();  // n x k
    if (lu.dimensionOfKernel() == 0) return laws;
  }
  // Reduced row echelon form of the basis (as rows) for readable laws such as E + ES.
  Eigen::MatrixXd rows = basis.transpose();
  Eigen::Index rank = 0;
  for (Eigen::Index c = 0; c < rows.cols() && rank < rows.rows(); ++c) {
    Eigen::Index pivot = 0;
    const double largest = rows.col(c).tail(rows.rows() - rank).cwiseAbs().maxCoeff(&pivot);
    if (largest < 1e-10) continue;
    pivot += rank;
    rows.row(rank).swap(rows.row(pivot));
    rows.row(rank) /= rows(rank, c);
    for (Eigen::Index i = 0; i < rows.rows(); ++i)
      if (i != rank) rows.row(i) -= rows(i, c) * rows.row(rank);
    ++rank;
  }
  for (Eigen::Index r = 0; r < rows.rows(); ++r) {
    Eigen::VectorXd w = rows.row(r).transpose();
    for (Eigen::Index i = 0; i < w.size(); ++i)
      if (std::fabs(w[i]) < 1e-12) w[i] = 0.0;
    if (w.cwiseAbs().maxCoeff() == 0.0) continue;
    integerise(w);
    core::LinearInvariant law;
    law.weights.assign(w.data(), w.data() + w.size());
    for (Eigen::Index i = 0; i < w.size(); ++i) {
      if (w[i] == 0.0) continue;
      std::string term;
      const double a = std::fabs(w[i]);
      if (a != 1.0) term = core::format_number(a) + " ";
      term += species[i].name;
      if (law.description.empty())
        law.description = (w[i] < 0 ? "-" : "") + term;
      else
        law.description += (w[i] < 0 ? " - " : " + ") + term;
    }
    laws.push_back(std::move(law));
  }
  return laws;
}

}  // namespace physynth::domains::kinetics
