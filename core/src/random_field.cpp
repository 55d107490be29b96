#include "physynth/core/random_field.h"

#include <cmath>
#include <complex>
#include <stdexcept>
#include <unsupported/Eigen/FFT>

#include "physynth/core/diagnostics.h"
#include "physynth/core/random.h"

namespace physynth::core {

std::vector<std::string> FieldOptions::validate() const {
  std::vector<std::string> e;
  if (rows < 1 || cols < 1) e.push_back("rows and cols must be >= 1");
  if (rows * static_cast<long>(cols) > 4'000'000) e.push_back("at most 4,000,000 plots");
  if (!(cell_size_m > 0.0)) e.push_back("cell_size_m must be > 0, got " + format_number(cell_size_m));
  if (!(sd >= 0.0)) e.push_back("sd must be >= 0, got " + format_number(sd));
  if (!(correlation_length_m > 0.0))
    e.push_back("correlation_length_m must be > 0, got " + format_number(correlation_length_m));
  return e;
}

double FieldOptions::covariance_at(double h) const {
  const double r = h / correlation_length_m;
  return sd * sd * (covariance == Covariance::kExponential ? std::exp(-r) : std::exp(-r * r));
}

namespace {
using Complex = std::complex<double>;

// In-place 2-D FFT of an R x C row-major array (rows, then columns).
void fft2(std::vector<Complex>& a, int R, int C, bool inverse) {
  Eigen::FFT<double> fft;
  std::vector<Complex> in, out;
  for (int r = 0; r < R; ++r) {
    in.assign(a.begin() + r * C, a.begin() + (r + 1) * C);
    inverse ? fft.inv(out, in) : fft.fwd(out, in);
    std::copy(out.begin(), out.end(), a.begin() + r * C);
  }
  in.resize(static_cast<std::size_t>(R));
  for (int c = 0; c < C; ++c) {
    for (int r = 0; r < R; ++r) in[static_cast<std::size_t>(r)] = a[static_cast<std::size_t>(r * C + c)];
    inverse ? fft.inv(out, in) : fft.fwd(out, in);
    for (int r = 0; r < R; ++r) a[static_cast<std::size_t>(r * C + c)] = out[static_cast<std::size_t>(r)];
  }
}
}  // namespace

GaussianRandomField::GaussianRandomField(const FieldOptions& o) : o_(o) {
  const auto errors = o.validate();
  if (!errors.empty()) throw std::invalid_argument("gaussian_random_field: " + errors.front());
  // The embedding torus: at least twice the grid, grown by a correlation length at a time
  // until the embedded covariance is non-negative definite (a smooth covariance over a grid
  // not much larger than its correlation length needs the room to decay).
  const int pad = std::max(1, static_cast<int>(std::ceil(o.correlation_length_m / o.cell_size_m)));
  int R = 2 * o.rows, C = 2 * o.cols;
  std::vector<Complex> lambda;
  for (int attempt = 0;; ++attempt) {
    lambda.assign(static_cast<std::size_t>(R) * static_cast<std::size_t>(C), Complex());
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < C; ++j) {
        const double di = std::min(i, R - i) * o.cell_size_m, dj = std::min(j, C - j) * o.cell_size_m;
        lambda[static_cast<std::size_t>(i * C + j)] = o.covariance_at(std::hypot(di, dj));
      }
    fft2(lambda, R, C, false);  // eigenvalues of the block-circulant covariance
    double smallest = 0.0, largest = 0.0;
    for (const auto& l : lambda) {
      smallest = std::min(smallest, l.real());
      largest = std::max(largest, l.real());
    }
    if (smallest >= -1e-10 * largest) break;
    if (attempt == 12 || static_cast<double>(R) * C > 6.4e7)
      throw std::runtime_error(
          "gaussian_random_field: the circulant embedding is not positive definite (smallest eigenvalue " +
          format_number(smallest) + " on a " + std::to_string(R) + " x " + std::to_string(C) +
          " torus); use a shorter correlation length");
    R += 2 * pad, C += 2 * pad;
  }
  R_ = R, C_ = C;
  const double n = static_cast<double>(R * C);
  scale_.resize(lambda.size());
  for (std::size_t k = 0; k < lambda.size(); ++k) scale_[k] = std::sqrt(std::max(lambda[k].real(), 0.0) / n);
}

std::vector<double> GaussianRandomField::sample(std::uint64_t seed, std::uint64_t index) const {
  CounterRng rng(seed, index, stream::kField);
  std::vector<Complex> w(scale_.size());
  for (std::size_t k = 0; k < w.size(); ++k) {
    const double re = rng.normal(), im = rng.normal();
    w[k] = Complex(re, im) * scale_[k];
  }
  fft2(w, R_, C_, false);  // y = F (sqrt(Lambda / n) xi): real and imaginary parts are independent fields
  std::vector<double> field(static_cast<std::size_t>(o_.rows * o_.cols));
  for (int i = 0; i < o_.rows; ++i)
    for (int j = 0; j < o_.cols; ++j)
      field[static_cast<std::size_t>(i * o_.cols + j)] = o_.mean + w[static_cast<std::size_t>(i * C_ + j)].real();
  return field;
}

std::vector<double> gaussian_random_field(const FieldOptions& o, std::uint64_t seed, std::uint64_t index) {
  return GaussianRandomField(o).sample(seed, index);
}

}  // namespace physynth::core
