// LU with partial pivoting of a small dense matrix, for the integrators' Newton and stage
// matrices (Rodas5P's W = I/(h γ) - J, the NDF's I - c J): fixed size N (everything unrolls,
// nothing on the heap) or Eigen::Dynamic (storage sized once). The factors replace the matrix
// (unit lower and upper triangles); the pivots' inverses are kept so that a solve multiplies
// instead of dividing on its dependency chain.
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <utility>

namespace physynth::solvers {

template <int N>
class SmallLu {
 public:
  using Mat = Eigen::Matrix<double, N, N>;
  using Vec = Eigen::Matrix<double, N, 1>;

  explicit SmallLu(int n) : n_(n) {
    a_.resize(n, n);
    perm_.resize(n);
    order_.resize(n);
    inverse_pivot_.resize(n);
  }

  // The matrix to factorise; factorize() replaces it by its factors.
  Mat& matrix() { return a_; }

  // False if a pivot is 0 or the factors are not finite: the matrix is singular (at this step).
  bool factorize() {
    const int n = size();
    for (int c = 0; c < n; ++c) {
      int p = c;
      double best = std::abs(a_(c, c));
      for (int i = c + 1; i < n; ++i)
        if (std::abs(a_(i, c)) > best) best = std::abs(a_(i, c)), p = i;
      perm_[c] = p;
      if (!(best > 0.0) || !std::isfinite(best)) return false;
      if (p != c)
        for (int j = 0; j < n; ++j) std::swap(a_(c, j), a_(p, j));
      const double inv = 1.0 / a_(c, c);
      inverse_pivot_[c] = inv;
      for (int i = c + 1; i < n; ++i) {
        const double l = a_(i, c) * inv;
        a_(i, c) = l;
        for (int j = c + 1; j < n; ++j) a_(i, j) -= l * a_(c, j);
      }
    }
    for (int i = 0; i < n; ++i)
      if (!std::isfinite(a_(i, i))) return false;
    if constexpr (N != Eigen::Dynamic) {  // the swaps as one gather: (P c)[i] = c[order_[i]]
      for (int i = 0; i < N; ++i) order_[i] = i;
      for (int i = 0; i < N; ++i) std::swap(order_[i], order_[perm_[i]]);
    }
    return true;
  }

  // c <- A^-1 c in place: the row swaps, forward and back substitution. At fixed size the swaps
  // are one gather into registers and everything unrolls; always inlined (called once per
  // stage or Newton iteration: a call each was 17 % of a Michaelis-Menten run).
  [[gnu::always_inline]] void solve(double* c) const {
    if constexpr (N != Eigen::Dynamic) {
      double x[N];
      for (int i = 0; i < N; ++i) x[i] = c[order_[i]];
      for (int i = 1; i < N; ++i)
        for (int j = 0; j < i; ++j) x[i] -= a_(i, j) * x[j];
      for (int i = N - 1; i >= 0; --i) {
        for (int j = i + 1; j < N; ++j) x[i] -= a_(i, j) * x[j];
        x[i] *= inverse_pivot_[i];
      }
      for (int i = 0; i < N; ++i) c[i] = x[i];
    } else {
      const int n = size();
      for (int r = 0; r < n; ++r)
        if (perm_[r] != r) std::swap(c[r], c[perm_[r]]);
      for (int i = 1; i < n; ++i) {
        double v = c[i];
        for (int j = 0; j < i; ++j) v -= a_(i, j) * c[j];
        c[i] = v;
      }
      for (int i = n - 1; i >= 0; --i) {
        double v = c[i];
        for (int j = i + 1; j < n; ++j) v -= a_(i, j) * c[j];
        c[i] = v * inverse_pivot_[i];
      }
    }
  }

  // The factors (unit lower and upper triangles), the pivots' inverses and, at fixed size, the
  // gather of the row swaps: for a solver that runs the substitutions itself (several
  // factorisations side by side).
  const Mat& factors() const { return a_; }
  double inverse_pivot(int i) const { return inverse_pivot_[i]; }
  int order(int i) const { return order_[i]; }

 private:
  int size() const { return N == Eigen::Dynamic ? n_ : N; }

  int n_;
  Mat a_;                           // the matrix, then its factors
  Eigen::Matrix<int, N, 1> perm_;   // the row swapped with each row
  Eigen::Matrix<int, N, 1> order_;  // fixed size: the row of c that lands in each row after the swaps
  Vec inverse_pivot_;               // 1 / U's diagonal
};

}  // namespace physynth::solvers
