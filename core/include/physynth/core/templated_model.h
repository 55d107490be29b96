// Base for models whose right-hand side is written once as a template:
//
//   class MyModel : public TemplatedModel<MyModel> {
//    public:
//     template <class T>
//     void evaluate(const T& t, const T* y, const T* p, T* dydt) const;
//   };
//
// evaluate<double> is what CVODE calls, evaluate<Dual> gives the exact
// Jacobians, and evaluate<torch::Tensor> (a batch per entry) the PINN residual.
// Inside evaluate use only arithmetic, unqualified math functions after
// `using std::exp;` etc. (ADL finds ceres:: and at::), and the helpers in
// scalar.h: no branches on values, no literals converted to T.
#pragma once

#include <vector>

#include "physynth/core/autodiff.h"
#include "physynth/core/model.h"

namespace physynth::core {

template <class Derived>
class TemplatedModel : public Model {
 public:
  void rhs(double t, const double* y, const double* p, double* dydt) const final {
    derived().template evaluate<double>(t, y, p, dydt);
  }

  void jacobian(double t, const double* y, const double* p, double* jac) const final {
    const std::size_t n = num_states(), m = num_parameters();
    std::vector<Dual> pd(p, p + m);
    forward_jacobian([&](const Dual* yd, Dual* out) { derived().template evaluate<Dual>(Dual(t), yd, pd.data(), out); },
                     n, n, y, jac);
  }

  void parameter_jacobian(double t, const double* y, const double* p, double* jac) const final {
    const std::size_t n = num_states(), m = num_parameters();
    std::vector<Dual> yd(y, y + n);
    forward_jacobian([&](const Dual* pd, Dual* out) { derived().template evaluate<Dual>(Dual(t), yd.data(), pd, out); },
                     n, m, p, jac);
  }

 private:
  const Derived& derived() const { return static_cast<const Derived&>(*this); }
};

}  // namespace physynth::core
