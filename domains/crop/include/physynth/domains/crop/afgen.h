// AFGEN tables: piecewise-linear functions given as x1, y1, x2, y2, ... with
// ascending x, constant beyond both ends. This is how every crop model in the
// WOFOST family (and PCSE) tabulates responses to development stage and
// temperature. Files pad tables with trailing (0, 0) pairs; the padding is
// dropped, anything else out of order is an error.
//
// Evaluation is a template so the same table serves doubles and Ceres jets
// (exact derivatives of a crop model's right-hand side).
#pragma once

#include <string>
#include <vector>

namespace physynth::domains::crop {

class Afgen {
 public:
  Afgen() = default;

  // Builds from a flat x, y list. On a malformed list returns an empty table
  // and sets *error to what is wrong (odd length, x not ascending).
  static Afgen from_pairs(const std::vector<double>& xy, std::string* error);

  bool empty() const { return x_.empty(); }
  const std::vector<double>& x() const { return x_; }
  const std::vector<double>& y() const { return y_; }

  template <class T>
  T operator()(const T& v) const {
    const std::size_t n = x_.size();
    if (v <= x_[0]) return T(y_[0]);
    if (v >= x_[n - 1]) return T(y_[n - 1]);
    std::size_t i = 1;
    while (x_[i] < v) ++i;  // first x >= v; v is strictly inside (x_[0], x_[n-1])
    const double slope = (y_[i] - y_[i - 1]) / (x_[i] - x_[i - 1]);
    return y_[i - 1] + slope * (v - x_[i - 1]);
  }

 private:
  std::vector<double> x_, y_;
};

}  // namespace physynth::domains::crop
