// A forward-mode dual number over core::Lanes: kLanes samples' values and their derivatives in
// N directions, for Jacobians of several samples in one pass (Model::rhs_and_jacobian_lanes).
// Each operation is Ceres' Jet<double, N> operation written out on Lanes, in the same order, so
// lane l of a result is, bit for bit, what ceres::Jet<double, N> gives on sample l (no fused
// multiply-adds: see lanes.h). Only what a model that opts in (kEvaluatesLaneJets) uses:
// arithmetic, and pow lane by lane through Ceres' own.
#pragma once

#include <ceres/jet.h>

#include "physynth/core/lanes.h"

namespace physynth::core {

template <int N>
struct LaneJet {
  Lanes a;
  Lanes v[N];

  LaneJet() = default;
  // A constant (zero derivatives).
  LaneJet(const Lanes& value) : a(value) {}  // NOLINT(google-explicit-constructor)
  LaneJet(double value) : a(value) {}        // NOLINT(google-explicit-constructor)

  friend LaneJet operator+(const LaneJet& f, const LaneJet& g) {
    LaneJet r(f.a + g.a);
    for (int i = 0; i < N; ++i) r.v[i] = f.v[i] + g.v[i];
    return r;
  }
  friend LaneJet operator-(const LaneJet& f, const LaneJet& g) {
    LaneJet r(f.a - g.a);
    for (int i = 0; i < N; ++i) r.v[i] = f.v[i] - g.v[i];
    return r;
  }
  friend LaneJet operator-(const LaneJet& f) {
    LaneJet r(-f.a);
    for (int i = 0; i < N; ++i) r.v[i] = -f.v[i];
    return r;
  }
  friend LaneJet operator*(const LaneJet& f, const LaneJet& g) {
    LaneJet r(f.a * g.a);
    for (int i = 0; i < N; ++i) r.v[i] = f.a * g.v[i] + f.v[i] * g.a;
    return r;
  }
  friend LaneJet operator/(const LaneJet& f, const LaneJet& g) {
    const Lanes g_inverse = 1.0 / g.a, f_by_g = f.a * g_inverse;
    LaneJet r(f_by_g);
    for (int i = 0; i < N; ++i) r.v[i] = (f.v[i] - f_by_g * g.v[i]) * g_inverse;
    return r;
  }
  // With a double s (Ceres' Jet-scalar forms).
  friend LaneJet operator+(const LaneJet& f, double s) { return with_value(f, f.a + s); }
  friend LaneJet operator+(double s, const LaneJet& f) { return with_value(f, s + f.a); }
  friend LaneJet operator-(const LaneJet& f, double s) { return with_value(f, f.a - s); }
  friend LaneJet operator-(double s, const LaneJet& f) {
    LaneJet r(s - f.a);
    for (int i = 0; i < N; ++i) r.v[i] = -f.v[i];
    return r;
  }
  friend LaneJet operator*(const LaneJet& f, double s) { return scaled(f, f.a * s, s); }
  friend LaneJet operator*(double s, const LaneJet& f) { return scaled(f, f.a * s, s); }
  friend LaneJet operator/(const LaneJet& f, double s) {
    const double s_inverse = 1.0 / s;
    return scaled(f, f.a * s_inverse, s_inverse);
  }
  friend LaneJet operator/(double s, const LaneJet& g) {
    const Lanes minus_s_by_g2 = -s / (g.a * g.a);
    LaneJet r(s / g.a);
    for (int i = 0; i < N; ++i) r.v[i] = g.v[i] * minus_s_by_g2;
    return r;
  }
  LaneJet& operator+=(const LaneJet& g) { return *this = *this + g; }
  LaneJet& operator-=(const LaneJet& g) { return *this = *this - g; }
  LaneJet& operator*=(const LaneJet& g) { return *this = *this * g; }
  LaneJet& operator/=(const LaneJet& g) { return *this = *this / g; }

  // Lane l as Ceres' Jet, and back.
  ceres::Jet<double, N> lane(int l) const {
    ceres::Jet<double, N> j(a[l]);
    for (int i = 0; i < N; ++i) j.v[i] = v[i][l];
    return j;
  }
  void set_lane(int l, const ceres::Jet<double, N>& j) {
    a.v[l] = j.a;
    for (int i = 0; i < N; ++i) v[i].v[l] = j.v[i];
  }

 private:
  static LaneJet with_value(const LaneJet& f, const Lanes& value) {
    LaneJet r(value);
    for (int i = 0; i < N; ++i) r.v[i] = f.v[i];
    return r;
  }
  static LaneJet scaled(const LaneJet& f, const Lanes& value, double s) {
    LaneJet r(value);
    for (int i = 0; i < N; ++i) r.v[i] = f.v[i] * s;
    return r;
  }
};

// Ceres' pow with its special cases (a zero base, a negative base with an integer exponent),
// lane by lane.
template <int N>
LaneJet<N> pow(const LaneJet<N>& f, const LaneJet<N>& g) {
  LaneJet<N> r;
  for (int l = 0; l < kLanes; ++l) r.set_lane(l, ceres::pow(f.lane(l), g.lane(l)));
  return r;
}

}  // namespace physynth::core
