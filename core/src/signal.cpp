#include "physynth/core/signal.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <unsupported/Eigen/FFT>

namespace physynth::core {

namespace {
using Complex = std::complex<double>;

std::vector<Complex> forward(const std::vector<double>& x) {
  Eigen::FFT<double> fft;
  std::vector<Complex> in(x.begin(), x.end()), out;
  fft.fwd(out, in);
  return out;
}
}  // namespace

std::size_t Spectrum::bin_of(double frequency_hz) const {
  const double k = std::round(frequency_hz / resolution_hz);
  return static_cast<std::size_t>(std::clamp(k, 0.0, static_cast<double>(amplitude.size() - 1)));
}

double Spectrum::peak_near(double frequency_hz, double tolerance_hz) const {
  const std::size_t lo = bin_of(std::max(0.0, frequency_hz - tolerance_hz));
  const std::size_t hi = bin_of(frequency_hz + tolerance_hz);
  double best = 0.0;
  for (std::size_t k = lo; k <= hi; ++k) best = std::max(best, amplitude[k]);
  return best;
}

double Spectrum::argmax_hz(double low_hz, double high_hz) const {
  const std::size_t lo = bin_of(low_hz), hi = bin_of(high_hz);
  std::size_t best = lo;
  for (std::size_t k = lo; k <= hi; ++k)
    if (amplitude[k] > amplitude[best]) best = k;
  return static_cast<double>(best) * resolution_hz;
}

Spectrum amplitude_spectrum(const std::vector<double>& x, double sample_rate_hz) {
  if (x.size() < 2) throw std::invalid_argument("amplitude_spectrum: need at least 2 samples");
  const std::size_t n = x.size();
  const auto X = forward(x);
  Spectrum s;
  s.resolution_hz = sample_rate_hz / static_cast<double>(n);
  s.amplitude.resize(n / 2 + 1);
  for (std::size_t k = 0; k <= n / 2; ++k) {
    const double scale = (k == 0 || 2 * k == n) ? 1.0 : 2.0;
    s.amplitude[k] = scale * std::abs(X[k]) / static_cast<double>(n);
  }
  return s;
}

std::vector<double> envelope(const std::vector<double>& x, double sample_rate_hz, double band_low_hz,
                             double band_high_hz) {
  const std::size_t n = x.size();
  if (n < 2) throw std::invalid_argument("envelope: need at least 2 samples");
  auto X = forward(x);
  const double df = sample_rate_hz / static_cast<double>(n);
  // Analytic signal: keep DC and Nyquist, double positive frequencies, drop negative ones;
  // the optional band-pass keeps only bins inside the band.
  for (std::size_t k = 0; k < n; ++k) {
    const bool positive = k > 0 && 2 * k < n;
    const bool edge = k == 0 || 2 * k == n;
    double gain = positive ? 2.0 : edge ? 1.0 : 0.0;
    if (band_high_hz > 0.0) {
      const double f = static_cast<double>(k) * df;
      if (f < band_low_hz || f > band_high_hz) gain = 0.0;
    }
    X[k] *= gain;
  }
  Eigen::FFT<double> fft;
  std::vector<Complex> z;
  fft.inv(z, X);
  std::vector<double> env(n);
  for (std::size_t i = 0; i < n; ++i) env[i] = std::abs(z[i]);
  return env;
}

Spectrum envelope_spectrum(const std::vector<double>& x, double sample_rate_hz, double band_low_hz,
                           double band_high_hz) {
  auto env = envelope(x, sample_rate_hz, band_low_hz, band_high_hz);
  double mean = 0.0;
  for (double v : env) mean += v;
  mean /= static_cast<double>(env.size());
  for (double& v : env) v -= mean;
  return amplitude_spectrum(env, sample_rate_hz);
}

WaveformStatistics waveform_statistics(const std::vector<double>& x) {
  WaveformStatistics w;
  if (x.empty()) return w;
  const double n = static_cast<double>(x.size());
  double mean = 0.0, sq = 0.0, abs = 0.0;
  for (double v : x) {
    mean += v;
    sq += v * v;
    abs += std::fabs(v);
    w.peak = std::max(w.peak, std::fabs(v));
  }
  mean /= n;
  w.rms = std::sqrt(sq / n);
  w.mean_abs = abs / n;
  w.crest_factor = w.rms > 0.0 ? w.peak / w.rms : 0.0;
  double m2 = 0.0, m4 = 0.0;
  for (double v : x) {
    const double d = (v - mean) * (v - mean);
    m2 += d;
    m4 += d * d;
  }
  m2 /= n;
  m4 /= n;
  w.kurtosis = m2 > 0.0 ? m4 / (m2 * m2) : 0.0;
  return w;
}

}  // namespace physynth::core
