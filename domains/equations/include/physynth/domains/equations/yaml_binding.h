// A user-defined model's `model` section (schema and a walk-through in
// domains/equations/README.md), usable under any `domain`:
//
//   model:
//     name: battery_fade
//     states:
//       - {name: Q, units: Ah, initial: Q0, nonnegative: true}
//       - {name: L, units: Ah, initial: 0}
//     definitions:                       # intermediate quantities, in any order
//       k_T: "k_ref * exp(Ea / R_gas * (1 / T_ref - 1 / T))"
//     equations:                         # one d<state>/dt per state
//       dQ/dt: "-k_T / (2 * sqrt(t + t_min))"
//       dL/dt: "k_T / (2 * sqrt(t + t_min))"
//     invariants:                        # linear in the states; checked on every sample
//       - {name: charge, expression: "Q + L"}
//     schedule: [...]                    # as for reaction networks
//
// Every other name an expression reads is a parameter the scenario's
// `parameters` section defines; `t` is time and `pi` is pi. Errors point at
// file:line:column inside the expression (an unknown function with "did you
// mean", a definition that depends on itself, a derivative of something that
// is not a state, an initial value that reads a state).
#pragma once

#include <optional>

#include "physynth/core/model_binding.h"

namespace physynth::domains::equations {

// Whether a `model` section describes a user-defined model (it has `equations`).
bool is_equation_model(const core::ConfigNode& model);

// The `model` binding for a user-defined model.
std::optional<core::BuiltModel> build_from_yaml(const core::ConfigNode& model);

}  // namespace physynth::domains::equations
