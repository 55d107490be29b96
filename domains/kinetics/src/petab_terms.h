// Internal to the PEtab likelihood (petab.cpp, petab_gradient.cpp).
//
// term_slopes: how one measurement's
// log-likelihood term moves with its misfit e = data - simulation (on the transformed scale) and
// its sigma, d term = de_slope de + dsigma_slope dsigma, for residual r = e / sigma:
//   normal:  term = -1/2 log(2 pi sigma^2) - r^2 / 2 - ...: -r / sigma and (r^2 - 1) / sigma;
//   laplace: term = -log(2 sigma) - |r| - ...:              -sign(r) / sigma and (|r| - 1) / sigma.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "physynth/core/model.h"

namespace physynth::domains::kinetics::detail {

struct TermSlopes {
  double de = 0.0, dsigma = 0.0;
};

inline TermSlopes term_slopes(const std::string& distribution, double residual, double sigma) {
  if (distribution == "normal") return {-residual / sigma, (residual * residual - 1.0) / sigma};
  const double sign = residual > 0.0 ? 1.0 : residual < 0.0 ? -1.0 : 0.0;
  return {-sign / sigma, (std::fabs(residual) - 1.0) / sigma};
}

// A steady state's sensitivities by the implicit function theorem: f(y_ss, p) = 0 gives
// J S = -df/dp; where the model has linear invariants (conservation laws, which make J singular)
// their totals stay those of the start, C S = C S0 + (dC/dp)(y0 - y_ss). Solved as one
// least-squares system [J; C] S = [-df/dp; ...] by column-pivoting QR; false where it does not
// have full column rank or does not hold (an invariant the model does not report): the caller
// then integrates the sensitivities instead. S, S0: K x n, parameter-major.
bool steady_state_sensitivities(const core::Model& model, const std::vector<double>& p, const std::vector<int>& sens,
                                const std::vector<double>& y0, const std::vector<double>& yss,
                                const std::vector<double>& s0, std::vector<double>& out);

}  // namespace physynth::domains::kinetics::detail
