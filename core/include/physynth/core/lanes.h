// A scalar type of kLanes doubles, for evaluating one model's right-hand side on several samples
// at once (solvers/rodas5p_lanes.h steps kLanes samples together). Element-wise IEEE arithmetic
// through GCC's vector extension (SSE2 pairs on x86-64 without -mavx; AVX2 in the clones below),
// so lane l of any result is, bit for bit, what the same expression gives on doubles:
// no fused multiply-add is formed that the scalar code would not form (the build sets no -mfma).
// Math functions run lane by lane through std::.
#pragma once

#include <cmath>

namespace physynth::core {

inline constexpr int kLanes = 4;

// The functions whose arithmetic runs on Lanes (the right-hand side on lanes, the stages of
// solvers/rodas5p_lanes.h) are compiled twice on x86-64 with GCC, each with everything they call
// inlined (flatten): for AVX2, one instruction per Lanes operation, and for the baseline, two SSE2
// instructions; the loader picks the first where the CPU has AVX2 (an ifunc). Neither forms fused
// multiply-adds (AVX2 does not imply FMA), so both give the same bits. Off for Clang (the
// sanitizer build) and where PHYSYNTH_NO_LANE_CLONES is set.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(PHYSYNTH_NO_LANE_CLONES)
#define PHYSYNTH_LANE_CLONES __attribute__((target_clones("avx2", "default"), flatten))
#else
#define PHYSYNTH_LANE_CLONES
#endif

struct Lanes {
  // Aligned as the baseline x86-64 build aligns it (16 bytes), also in the AVX2 clones below, where
  // GCC would otherwise assume 32 and load with instructions that fault on the 16-aligned memory
  // the rest of the program gives it.
  typedef double V __attribute__((vector_size(sizeof(double) * kLanes), aligned(16)));
  V v;

  Lanes() : v{} {}
  // A constant in every lane, exactly (0 + s would turn -0 into +0).
  Lanes(double s) : v{} {  // NOLINT(google-explicit-constructor)
    for (int l = 0; l < kLanes; ++l) v[l] = s;
  }
  static Lanes of(V x) {
    Lanes r;
    r.v = x;
    return r;
  }
  double operator[](int l) const { return v[l]; }

  friend Lanes operator+(const Lanes& a, const Lanes& b) { return of(a.v + b.v); }
  friend Lanes operator-(const Lanes& a, const Lanes& b) { return of(a.v - b.v); }
  friend Lanes operator*(const Lanes& a, const Lanes& b) { return of(a.v * b.v); }
  friend Lanes operator/(const Lanes& a, const Lanes& b) { return of(a.v / b.v); }
  friend Lanes operator+(const Lanes& a, double s) { return of(a.v + s); }
  friend Lanes operator+(double s, const Lanes& a) { return of(s + a.v); }
  friend Lanes operator-(const Lanes& a, double s) { return of(a.v - s); }
  friend Lanes operator-(double s, const Lanes& a) { return of(s - a.v); }
  friend Lanes operator*(const Lanes& a, double s) { return of(a.v * s); }
  friend Lanes operator*(double s, const Lanes& a) { return of(s * a.v); }
  friend Lanes operator/(const Lanes& a, double s) { return of(a.v / s); }
  friend Lanes operator/(double s, const Lanes& a) { return of(s / a.v); }
  friend Lanes operator-(const Lanes& a) { return of(-a.v); }
  Lanes& operator+=(const Lanes& b) { return v += b.v, *this; }
  Lanes& operator-=(const Lanes& b) { return v -= b.v, *this; }
  Lanes& operator*=(const Lanes& b) { return v *= b.v, *this; }
  Lanes& operator/=(const Lanes& b) { return v /= b.v, *this; }
};

namespace lanes_detail {
template <class F>
Lanes each(const Lanes& a, F f) {
  Lanes r;
  for (int l = 0; l < kLanes; ++l) r.v[l] = f(a.v[l]);
  return r;
}
}  // namespace lanes_detail

// The math functions a templated right-hand side may call, lane by lane (found by ADL).
#define PHYSYNTH_LANES_UNARY(name)                                       \
  inline Lanes name(const Lanes& a) {                                    \
    return lanes_detail::each(a, [](double x) { return std::name(x); }); \
  }
PHYSYNTH_LANES_UNARY(abs)
PHYSYNTH_LANES_UNARY(exp)
PHYSYNTH_LANES_UNARY(log)
PHYSYNTH_LANES_UNARY(log10)
PHYSYNTH_LANES_UNARY(sqrt)
PHYSYNTH_LANES_UNARY(sin)
PHYSYNTH_LANES_UNARY(cos)
PHYSYNTH_LANES_UNARY(tan)
PHYSYNTH_LANES_UNARY(asin)
PHYSYNTH_LANES_UNARY(acos)
PHYSYNTH_LANES_UNARY(atan)
PHYSYNTH_LANES_UNARY(sinh)
PHYSYNTH_LANES_UNARY(cosh)
PHYSYNTH_LANES_UNARY(tanh)
PHYSYNTH_LANES_UNARY(floor)
PHYSYNTH_LANES_UNARY(ceil)
#undef PHYSYNTH_LANES_UNARY
inline Lanes pow(const Lanes& a, const Lanes& b) {
  Lanes r;
  for (int l = 0; l < kLanes; ++l) r.v[l] = std::pow(a.v[l], b.v[l]);
  return r;
}

}  // namespace physynth::core
