// Internal to the PEtab likelihood (petab.cpp, petab_gradient.cpp): how one measurement's
// log-likelihood term moves with its misfit e = data - simulation (on the transformed scale) and
// its sigma, d term = de_slope de + dsigma_slope dsigma, for residual r = e / sigma:
//   normal:  term = -1/2 log(2 pi sigma^2) - r^2 / 2 - ...: -r / sigma and (r^2 - 1) / sigma;
//   laplace: term = -log(2 sigma) - |r| - ...:              -sign(r) / sigma and (|r| - 1) / sigma.
#pragma once

#include <cmath>
#include <string>

namespace physynth::domains::kinetics::detail {

struct TermSlopes {
  double de = 0.0, dsigma = 0.0;
};

inline TermSlopes term_slopes(const std::string& distribution, double residual, double sigma) {
  if (distribution == "normal") return {-residual / sigma, (residual * residual - 1.0) / sigma};
  const double sign = residual > 0.0 ? 1.0 : residual < 0.0 ? -1.0 : 0.0;
  return {-sign / sigma, (std::fabs(residual) - 1.0) / sigma};
}

}  // namespace physynth::domains::kinetics::detail
