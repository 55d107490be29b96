// Reaction networks: species, reactions and their rate laws, turned into the
// stoichiometric matrix N and the right-hand side dy/dt = N v(y, p).
//
// Rate laws (v for one reaction, [X] the amount of species X):
//   mass_action        v = kf * prod_reactants [X]^nu  -  kr * prod_products [X]^nu  (kr if reversible)
//   michaelis_menten   v = vmax [S] / (km + [S])
//   hill               v = vmax [S]^n / (k^n + [S]^n)
// Every rate constant and every initial amount is a model parameter, so that
// sampling, sensitivities and calibration treat them alike.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <boost/container/small_vector.hpp>

#include "physynth/core/templated_model.h"

namespace physynth::domains::kinetics {

enum class RateLaw { kMassAction, kMichaelisMenten, kHill };

struct SpeciesTerm {
  int species = -1;
  int coefficient = 1;
};

struct Reaction {
  std::string name;
  std::string equation;
  std::vector<SpeciesTerm> reactants;
  std::vector<SpeciesTerm> products;
  bool reversible = false;
  RateLaw law = RateLaw::kMassAction;
  int k_forward = -1;  // mass action: parameter indices
  int k_reverse = -1;
  int vmax = -1;  // Michaelis-Menten and Hill
  int km = -1;    // Michaelis-Menten km, Hill k
  int hill_n = -1;
  int substrate = -1;  // species index
};

class ReactionNetwork : public core::TemplatedModel<ReactionNetwork> {
 public:
  // initial_parameter[i] is the index of the parameter holding species i's initial amount.
  // A boundary species (boundary[i] true) takes part in rates but no reaction changes it: it is
  // held by the surroundings (an analyte in flow, a buffered ion), and only a schedule moves it.
  ReactionNetwork(std::string name, std::vector<core::VariableInfo> species, std::vector<int> initial_parameter,
                  std::vector<core::VariableInfo> parameters, std::vector<Reaction> reactions,
                  std::vector<char> boundary = {});

  const std::string& name() const override { return name_; }
  const std::vector<core::VariableInfo>& states() const override { return species_; }
  const std::vector<core::VariableInfo>& parameters() const override { return parameters_; }
  void initial_state(const double* p, double* y0) const override;
  void initial_state_jacobian(const double* p, double* jac) const override;
  core::SparsityPattern jacobian_sparsity() const override { return sparsity_; }
  // A large sparse network's Jacobian in fewer evaluations (core/sparse_jacobian.h).
  const core::ColumnColoring* jacobian_coloring() const { return coloring_ ? &*coloring_ : nullptr; }
  std::vector<core::LinearInvariant> linear_invariants() const override { return conservation_laws_; }
  bool state_is_nonnegative(std::size_t) const override { return true; }

  const std::vector<Reaction>& reactions() const { return reactions_; }
  // Net stoichiometric matrix, species x reactions (a reversible reaction is one column).
  const Eigen::MatrixXd& stoichiometry() const { return stoichiometry_; }

  // The rate of reaction r.
  template <class T>
  T rate(std::size_t r, const T* y, const T* p) const {
    using std::pow;
    const Reaction& rx = reactions_[r];
    switch (rx.law) {
      case RateLaw::kMassAction: {
        T forward = p[rx.k_forward];
        for (const SpeciesTerm& s : rx.reactants)
          for (int c = 0; c < s.coefficient; ++c) forward = forward * y[s.species];
        if (!rx.reversible) return forward;
        T reverse = p[rx.k_reverse];
        for (const SpeciesTerm& s : rx.products)
          for (int c = 0; c < s.coefficient; ++c) reverse = reverse * y[s.species];
        return forward - reverse;
      }
      case RateLaw::kMichaelisMenten:
        return p[rx.vmax] * y[rx.substrate] / (p[rx.km] + y[rx.substrate]);
      case RateLaw::kHill: {
        const T sn = pow(y[rx.substrate], p[rx.hill_n]);
        return p[rx.vmax] * sn / (pow(p[rx.km], p[rx.hill_n]) + sn);
      }
    }
    return p[rx.k_forward];  // unreachable: every law is handled above
  }

  bool is_autonomous() const override { return true; }  // no rate law reads t

  // dy/dt = N v(y, p): the one definition of this model's physics.
  template <class T>
  void evaluate(const T& /*t*/, const T* y, const T* p, T* dydt) const {
    boost::container::small_vector<T, 16> v;
    v.reserve(reactions_.size());
    for (std::size_t r = 0; r < reactions_.size(); ++r) v.push_back(rate(r, y, p));
    for (std::size_t i = 0; i < species_.size(); ++i) {
      const auto& terms = species_terms_[i];
      if (terms.empty()) {
        dydt[i] = y[i] * 0.0;  // no reaction touches this species
        continue;
      }
      dydt[i] = v[terms[0].first] * terms[0].second;
      for (std::size_t k = 1; k < terms.size(); ++k) dydt[i] = dydt[i] + v[terms[k].first] * terms[k].second;
    }
  }

 private:
  std::string name_;
  std::vector<core::VariableInfo> species_;
  std::vector<int> initial_parameter_;
  std::vector<core::VariableInfo> parameters_;
  std::vector<Reaction> reactions_;
  Eigen::MatrixXd stoichiometry_;
  // For each species: (reaction, net coefficient) pairs with nonzero coefficient.
  std::vector<std::vector<std::pair<std::size_t, double>>> species_terms_;
  core::SparsityPattern sparsity_;
  std::optional<core::ColumnColoring> coloring_;
  std::vector<core::LinearInvariant> conservation_laws_;
};

// A basis of the left null space of N (w^T N = 0), each vector scaled to small
// integers where it can be: the network's conservation laws.
std::vector<core::LinearInvariant> conservation_laws(const Eigen::MatrixXd& stoichiometry,
                                                     const std::vector<core::VariableInfo>& species);

}  // namespace physynth::domains::kinetics
