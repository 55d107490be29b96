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

#include <algorithm>
#include <type_traits>
#include <vector>

#include "physynth/core/autodiff.h"
#include "physynth/core/lane_jet.h"
#include "physynth/core/model.h"
#include "physynth/core/sparse_jacobian.h"

namespace physynth::core {

// Whether Derived's evaluate() runs on core::Lanes (it says so: static constexpr bool
// kEvaluatesLanes = true).
template <class Derived, class = void>
struct EvaluatesLanes : std::false_type {};
template <class Derived>
struct EvaluatesLanes<Derived, std::void_t<decltype(Derived::kEvaluatesLanes)>>
    : std::bool_constant<Derived::kEvaluatesLanes> {};

// Whether Derived's evaluate() runs on core::LaneJet (static constexpr bool kEvaluatesLaneJets =
// true): arithmetic and pow only, the operations lane_jet.h defines.
template <class Derived, class = void>
struct EvaluatesLaneJets : std::false_type {};
template <class Derived>
struct EvaluatesLaneJets<Derived, std::void_t<decltype(Derived::kEvaluatesLaneJets)>>
    : std::bool_constant<Derived::kEvaluatesLaneJets> {};

template <class Derived>
class TemplatedModel : public Model {
 public:
  void rhs(double t, const double* y, const double* p, double* dydt) const final {
    derived().template evaluate<double>(t, y, p, dydt);
  }

  // evaluate<Lanes>: kLanes samples in one pass, where Derived says its evaluate() allows it.
  bool has_lane_rhs() const final { return EvaluatesLanes<Derived>::value; }
  void rhs_lanes(const Lanes& t, const Lanes* y, const Lanes* p, Lanes* dydt) const final {
    if constexpr (EvaluatesLanes<Derived>::value)
      evaluate_lanes(t, y, p, dydt);
    else
      Model::rhs_lanes(t, y, p, dydt);
  }

  // Up to 4 states on Jets of 4 (half the arithmetic of Jets of 8, the same numbers: each
  // direction is its own lane); a model with a colouring by colour groups.
  void jacobian(double t, const double* y, const double* p, double* jac) const final {
    jacobian_and_values(t, y, p, jac, nullptr);
  }

  // f from the dense Jacobian's first pass (its Jets' values); with a colouring, rhs().
  void rhs_and_jacobian(double t, const double* y, const double* p, double* dydt, double* jac) const final {
    if (!jacobian_and_values(t, y, p, jac, dydt)) rhs(t, y, p, dydt);
  }

  // Up to 4 states, where Derived allows it and its Jacobian is dense: one pass on LaneJets of 4,
  // the lanes' Jets of rhs_and_jacobian() (the same bits); else lane by lane.
  void rhs_and_jacobian_lanes(const Lanes& t, const Lanes* y, const Lanes* p, Lanes* dydt, Lanes* jac) const final {
    if constexpr (EvaluatesLaneJets<Derived>::value) {
      if (num_states() <= 4 && derived().jacobian_coloring() == nullptr) return lane_jacobian(t, y, p, dydt, jac);
    }
    Model::rhs_and_jacobian_lanes(t, y, p, dydt, jac);
  }

  // A model with a sparse Jacobian returns its columns' colouring (sparse_jacobian.h) and gets
  // its Jacobian in fewer evaluations; none by default.
  const ColumnColoring* jacobian_coloring() const { return nullptr; }

  void parameter_jacobian(double t, const double* y, const double* p, double* jac) const final {
    const std::size_t n = num_states(), m = num_parameters();
    std::vector<Dual> yd(y, y + n);
    forward_jacobian([&](const Dual* pd, Dual* out) { derived().template evaluate<Dual>(Dual(t), yd.data(), pd, out); },
                     n, m, p, jac);
  }

  // df/dy S + df/dp[:, columns]: f on Jets whose parts are S's columns (and a unit in the
  // parameter's own), kJacobianChunk columns per evaluation; Jets of 4 for up to 4 columns
  // (calibrations of a few parameters: half the arithmetic).
  void sensitivity_rhs(double t, const double* y, const double* p, const double* S, const std::vector<int>& columns,
                       double* out) const final {
    if (columns.size() <= 4)
      sensitivity_chunks<ceres::Jet<double, 4>, 6>(t, y, p, S, columns, out);
    else
      sensitivity_chunks<Dual, 3>(t, y, p, S, columns, out);
  }

  // Only the listed columns, seeded kJacobianChunk at a time.
  void parameter_jacobian_columns(double t, const double* y, const double* p, const std::vector<int>& columns,
                                  double* jac) const final {
    const std::size_t n = num_states(), m = num_parameters(), K = columns.size();
    std::vector<Dual> yd(y, y + n), pd(m), out(n);
    for (std::size_t first = 0; first < K; first += kJacobianChunk) {
      const std::size_t count = std::min<std::size_t>(kJacobianChunk, K - first);
      for (std::size_t j = 0; j < m; ++j) pd[j] = Dual(p[j]);
      for (std::size_t k = 0; k < count; ++k)
        pd[static_cast<std::size_t>(columns[first + k])].v[static_cast<int>(k)] = 1.0;
      derived().template evaluate<Dual>(Dual(t), yd.data(), pd.data(), out.data());
      for (std::size_t k = 0; k < count; ++k)
        for (std::size_t i = 0; i < n; ++i) jac[i + n * (first + k)] = out[i].v[static_cast<int>(k)];
    }
  }

 private:
  // evaluate<Lanes>, compiled for AVX2 and for the baseline (core/lanes.h).
  PHYSYNTH_LANE_CLONES void evaluate_lanes(const Lanes& t, const Lanes* y, const Lanes* p, Lanes* dydt) const {
    derived().template evaluate<Lanes>(t, y, p, dydt);
  }

  // evaluate<LaneJet<4>> with y seeded (at most 4 states), compiled as evaluate_lanes is.
  PHYSYNTH_LANE_CLONES void lane_jacobian(const Lanes& t, const Lanes* y, const Lanes* p, Lanes* dydt,
                                          Lanes* jac) const {
    using J = LaneJet<4>;
    const std::size_t n = num_states(), m = num_parameters();
    J yj[4], out[4];
    std::vector<J>& pj = jet_scratch_of<J, 0>(m);
    for (std::size_t i = 0; i < n; ++i) {
      yj[i] = J(y[i]);
      yj[i].v[i] = Lanes(1.0);
    }
    for (std::size_t j = 0; j < m; ++j) pj[j] = J(p[j]);
    derived().template evaluate<J>(J(t), yj, pj.data(), out);
    for (std::size_t i = 0; i < n; ++i) {
      dydt[i] = out[i].a;
      for (std::size_t j = 0; j < n; ++j) jac[i + n * j] = out[i].v[j];
    }
  }

  // The parameters as constant Jets (thread-local scratch).
  template <class J>
  const J* parameter_jets(const double* p) const {
    const std::size_t m = num_parameters();
    J* pd = jet_scratch_of<J, 2>(m).data();
    for (std::size_t j = 0; j < m; ++j) pd[j] = J(p[j]);
    return pd;
  }
  // jacobian(), and where `values` is given and the Jacobian is dense, f's values too (from
  // its first pass): returns whether it wrote them.
  bool jacobian_and_values(double t, const double* y, const double* p, double* jac, double* values) const {
    if (const ColumnColoring* c = derived().jacobian_coloring()) {
      const Dual* pd = parameter_jets<Dual>(p);
      colored_jacobian([&](const Dual* yd, Dual* out) { derived().template evaluate<Dual>(Dual(t), yd, pd, out); }, *c,
                       y, jac);
      return false;
    }
    if (num_states() <= 4)
      dense_jacobian<ceres::Jet<double, 4>>(t, y, p, jac, values);
    else
      dense_jacobian<Dual>(t, y, p, jac, values);
    return values != nullptr;
  }

  // With `values`, f's values too (from the first chunk's pass).
  template <class J>
  void dense_jacobian(double t, const double* y, const double* p, double* jac, double* values = nullptr) const {
    const std::size_t n = num_states();
    const J* pd = parameter_jets<J>(p);
    forward_jacobian_of<J, 0>([&](const J* yd, J* out) { derived().template evaluate<J>(J(t), yd, pd, out); }, n, n, y,
                              jac, values);
  }

  template <class J, int Slot>
  void sensitivity_chunks(double t, const double* y, const double* p, const double* S, const std::vector<int>& columns,
                          double* out) const {
    constexpr int kChunk = J::DIMENSION;
    const std::size_t n = num_states(), m = num_parameters(), K = columns.size();
    J* yd = jet_scratch_of<J, Slot>(n).data();
    J* pd = jet_scratch_of<J, Slot + 1>(m).data();
    J* od = jet_scratch_of<J, Slot + 2>(n).data();
    for (std::size_t first = 0; first < K; first += kChunk) {
      const std::size_t count = std::min<std::size_t>(kChunk, K - first);
      for (std::size_t i = 0; i < n; ++i) {
        yd[i] = J(y[i]);
        for (std::size_t k = 0; k < count; ++k) yd[i].v[static_cast<int>(k)] = S[i + n * (first + k)];
      }
      for (std::size_t j = 0; j < m; ++j) pd[j] = J(p[j]);
      for (std::size_t k = 0; k < count; ++k)
        pd[static_cast<std::size_t>(columns[first + k])].v[static_cast<int>(k)] = 1.0;
      derived().template evaluate<J>(J(t), yd, pd, od);
      for (std::size_t k = 0; k < count; ++k)
        for (std::size_t i = 0; i < n; ++i) out[i + n * (first + k)] = od[i].v[static_cast<int>(k)];
    }
  }

  const Derived& derived() const { return static_cast<const Derived&>(*this); }
};

}  // namespace physynth::core
