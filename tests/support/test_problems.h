// Shared test problems with known answers: networks built through the real
// YAML binding, and their closed-form solutions.
#pragma once

#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "physynth/core/config.h"
#include "physynth/core/model_binding.h"
#include "physynth/domains/equations/yaml_binding.h"
#include "physynth/domains/kinetics/yaml_binding.h"

namespace physynth::testing {

inline std::string fixture(const std::string& relative) { return std::string(PHYSYNTH_TEST_DIR) + "/" + relative; }
inline std::string repository_path(const std::string& relative) {
  return std::string(PHYSYNTH_SOURCE_DIR) + "/" + relative;
}

// Builds a kinetics model from the text of a `model:` section.
inline core::BuiltModel network(const std::string& model_yaml) {
  core::Diagnostics diags;
  core::ConfigNode node(YAML::Load(model_yaml), "model", "<test>", &diags);
  auto built = domains::kinetics::build_from_yaml(node);
  if (!built) throw std::runtime_error("test network does not build:\n" + diags.report());
  return *built;
}

// Builds a user-defined (equations) model from the text of a `model:` section.
inline core::BuiltModel equations(const std::string& model_yaml) {
  core::Diagnostics diags;
  core::ConfigNode node(YAML::Load(model_yaml), "model", "<test>", &diags);
  auto built = domains::equations::build_from_yaml(node);
  if (!built) throw std::runtime_error("test model does not build:\n" + diags.report());
  return *built;
}

// The parameter vector: literals from the model section, named values from `values`.
inline std::vector<double> parameters(const core::BuiltModel& m, const std::map<std::string, double>& values) {
  std::vector<double> p(m.model->num_parameters());
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (m.parameters[k].literal) {
      p[k] = *m.parameters[k].literal;
    } else {
      const auto it = values.find(m.model->parameters()[k].name);
      if (it == values.end()) throw std::runtime_error("no value for " + m.model->parameters()[k].name);
      p[k] = it->second;
    }
  }
  return p;
}

// A chain of n species moved along by a catalyst (`model:` text): E + A_i -> E + A_{i+1} (2),
// A_{i+1} -> A_i (0.1), from A0 = E = 1. Its Jacobian is sparse: each A_i reads E and its
// neighbours (E's column is dense, its row empty).
inline std::string catalysed_chain(int n) {
  std::string y = "species:\n  - {name: E, initial: 1}\n  - {name: A0, initial: 1}\n";
  for (int i = 1; i < n - 1; ++i) y += "  - {name: A" + std::to_string(i) + ", initial: 0}\n";
  y += "reactions:\n";
  for (int i = 0; i + 2 < n; ++i) {
    const std::string a = "A" + std::to_string(i), b = "A" + std::to_string(i + 1);
    y += "  - {name: f" + std::to_string(i) + ", equation: \"E + " + a + " -> E + " + b +
         "\", rate: mass_action, k: 2}\n";
    y += "  - {name: b" + std::to_string(i) + ", equation: \"" + b + " -> " + a + "\", rate: mass_action, k: 0.1}\n";
  }
  return y;
}

// A -> (nothing), rate k:  A(t) = A0 exp(-k t).
inline const char* kDecay = R"(
species: [{name: A, initial: A0}]
reactions: [{equation: "A -> ", k: k}]
)";
inline double decay(double t, double a0, double k) { return a0 * std::exp(-k * t); }

// A <-> B:  A(t) = A_eq + (A0 - A_eq) exp(-(kf + kr) t),  A_eq = kr (A0 + B0) / (kf + kr).
inline const char* kReversible = R"(
species: [{name: A, initial: A0}, {name: B, initial: B0}]
reactions: [{equation: "A <-> B", kf: kf, kr: kr}]
)";
inline double reversible_a(double t, double a0, double b0, double kf, double kr) {
  const double eq = kr * (a0 + b0) / (kf + kr);
  return eq + (a0 - eq) * std::exp(-(kf + kr) * t);
}

// A + B <-> AB from AB(0) = 0:  dx/dt = kon (x - x1)(x - x2) with x1 < x2 the
// roots of kon x^2 - (kon (A0 + B0) + koff) x + kon A0 B0, so
//   x(t) = x1 x2 (1 - e^{-kon (x2 - x1) t}) / (x2 - x1 e^{-kon (x2 - x1) t}).
inline const char* kBinding = R"(
species: [{name: A, initial: A0}, {name: B, initial: B0}, {name: AB, initial: 0}]
reactions: [{equation: "A + B <-> AB", kf: kon, kr: koff}]
)";
inline double binding_ab(double t, double a0, double b0, double kon, double koff) {
  const double b = kon * (a0 + b0) + koff;
  const double disc = std::sqrt(b * b - 4.0 * kon * kon * a0 * b0);
  const double x1 = (b - disc) / (2.0 * kon), x2 = (b + disc) / (2.0 * kon);
  const double e = std::exp(-kon * (x2 - x1) * t);
  return x1 * x2 * (1.0 - e) / (x2 - x1 * e);
}

// Robertson (1966), as in Hairer & Wanner, Solving ODEs II, IV.10.
inline const char* kRobertson = R"(
species: [{name: A, initial: 1}, {name: B, initial: 0}, {name: C, initial: 0}]
reactions:
  - {equation: "A -> B", k: k1}
  - {equation: "2 B -> B + C", k: k2}
  - {equation: "B + C -> A + C", k: k3}
)";
inline const std::map<std::string, double> kRobertsonRates = {{"k1", 0.04}, {"k2", 3.0e7}, {"k3", 1.0e4}};
// y(40): Hairer & Wanner's reference, as reproduced by independent high-accuracy solves.
inline const double kRobertsonAt40[3] = {0.7158270687, 9.185534764e-06, 0.2841637457};
// y(1e11): "Test Set for IVP Solvers" (Mazzia & Magherini), problem ROBER.
inline const double kRobertsonAt1e11[3] = {0.2083340149701255e-07, 0.8333360770334713e-13, 0.9999999791665050};

// Michaelis-Menten from elementary steps, plus a Hill reaction: exercises every rate law.
inline const char* kEnzymeWithHill = R"(
species: [{name: E, initial: E0}, {name: S, initial: S0}, {name: ES, initial: 0}, {name: P, initial: 0}, {name: Q, initial: 0}]
reactions:
  - {equation: "E + S <-> ES", kf: kon, kr: koff}
  - {equation: "ES -> E + P", k: kcat}
  - {equation: "P -> Q", rate: hill, vmax: vh, k: kh, n: nh}
  - {equation: "S -> P", rate: michaelis_menten, vmax: vm, km: km}
)";
inline const std::map<std::string, double> kEnzymeValues = {{"E0", 0.5},   {"S0", 10.0}, {"kon", 2.0}, {"koff", 0.7},
                                                            {"kcat", 1.3}, {"vh", 0.8},  {"kh", 3.0},  {"nh", 2.5},
                                                            {"vm", 0.2},   {"km", 4.0}};

}  // namespace physynth::testing
