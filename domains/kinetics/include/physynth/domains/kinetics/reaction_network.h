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

  // The rate of reaction r, from the flattened layout (flat_, factors_): one pass over arrays.
  template <class T>
  T rate(std::size_t r, const T* y, const T* p) const {
    using std::pow;
    const FlatReaction& rx = flat_[r];
    switch (rx.law) {
      case RateLaw::kMassAction: {
        T forward = p[rx.k_forward];
        for (int f = rx.forward_begin; f < rx.forward_end; ++f) forward = forward * y[factors_[static_cast<std::size_t>(f)]];
        if (!rx.reversible) return forward;
        T reverse = p[rx.k_reverse];
        for (int f = rx.forward_end; f < rx.reverse_end; ++f) reverse = reverse * y[factors_[static_cast<std::size_t>(f)]];
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
  static constexpr bool kEvaluatesLanes = true;         // evaluate() is arithmetic and pow only
  static constexpr bool kEvaluatesLaneJets = true;      // (so it runs on core::LaneJet too)

  // dy/dt = N v(y, p): the one definition of this model's physics. The rates of a small network
  // live on the stack (no container set-up per call: the right-hand side of a 3-state network
  // takes tens of nanoseconds, and an integrator calls it up to 8 times a step).
  template <class T>
  void evaluate(const T& /*t*/, const T* y, const T* p, T* dydt) const {
    constexpr std::size_t kStackRates = 8;
    const std::size_t R = flat_.size();
    if (R <= kStackRates) {
      T v[kStackRates];
      for (std::size_t r = 0; r < R; ++r) v[r] = rate(r, y, p);
      combine(v, y, dydt);
    } else {
      std::vector<T> v(R);
      for (std::size_t r = 0; r < R; ++r) v[r] = rate(r, y, p);
      combine(v.data(), y, dydt);
    }
  }

 private:
  // dy_i/dt = sum over species i's terms of N_ik v_k.
  template <class T>
  void combine(const T* v, const T* y, T* dydt) const {
    for (std::size_t i = 0; i < species_.size(); ++i) {
      const int begin = term_start_[i], end = term_start_[i + 1];
      if (begin == end) {
        dydt[i] = y[i] * 0.0;  // no reaction touches this species
        continue;
      }
      dydt[i] = v[term_reaction_[static_cast<std::size_t>(begin)]] * term_coefficient_[static_cast<std::size_t>(begin)];
      for (int k = begin + 1; k < end; ++k)
        dydt[i] = dydt[i] + v[term_reaction_[static_cast<std::size_t>(k)]] * term_coefficient_[static_cast<std::size_t>(k)];
    }
  }

  std::string name_;
  std::vector<core::VariableInfo> species_;
  std::vector<int> initial_parameter_;
  std::vector<core::VariableInfo> parameters_;
  std::vector<Reaction> reactions_;
  Eigen::MatrixXd stoichiometry_;
  // The rate laws laid out flat for evaluate(), the right-hand side's inner loop: each reaction's
  // parameter indices and its span of factors_, the species of its mass-action products (a
  // species once per unit of its coefficient: the reactants, then for a reversible reaction the
  // products). Species i's terms of N v are term_reaction_/term_coefficient_ in
  // [term_start_[i], term_start_[i + 1]).
  struct FlatReaction {
    RateLaw law = RateLaw::kMassAction;
    bool reversible = false;
    int k_forward = -1, k_reverse = -1, vmax = -1, km = -1, hill_n = -1, substrate = -1;
    int forward_begin = 0, forward_end = 0, reverse_end = 0;
  };
  std::vector<FlatReaction> flat_;
  std::vector<int> factors_;
  std::vector<int> term_start_, term_reaction_;
  std::vector<double> term_coefficient_;
  core::SparsityPattern sparsity_;
  std::optional<core::ColumnColoring> coloring_;
  std::vector<core::LinearInvariant> conservation_laws_;
};

// A basis of the left null space of N (w^T N = 0), each vector scaled to small
// integers where it can be: the network's conservation laws.
std::vector<core::LinearInvariant> conservation_laws(const Eigen::MatrixXd& stoichiometry,
                                                     const std::vector<core::VariableInfo>& species);

}  // namespace physynth::domains::kinetics
