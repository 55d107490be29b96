// Signal processing for sampled waveforms: spectra, the envelope (Hilbert
// transform, by FFT), and the statistics condition monitoring reads off a
// vibration snapshot. Eigen's FFT (kissfft back end) does the transforms.
#pragma once

#include <cstddef>
#include <vector>

namespace physynth::core {

// One-sided amplitude spectrum: amplitude[k] is the amplitude of a sinusoid at
// k * resolution_hz (a unit sine gives 1 at its bin when it falls on one).
struct Spectrum {
  double resolution_hz = 0.0;
  std::vector<double> amplitude;  // bins 0 .. N/2

  std::size_t bin_of(double frequency_hz) const;
  // The largest amplitude within frequency_hz +- tolerance_hz (at least the nearest bin).
  double peak_near(double frequency_hz, double tolerance_hz) const;
  // The frequency of the largest bin in [low_hz, high_hz].
  double argmax_hz(double low_hz, double high_hz) const;
};

Spectrum amplitude_spectrum(const std::vector<double>& x, double sample_rate_hz);

// |x + i H[x]|, the magnitude of the analytic signal. With band_high_hz > 0,
// x is first band-passed to [band_low_hz, band_high_hz] (ideal filter in the
// frequency domain), as envelope analysis does around a structural resonance.
std::vector<double> envelope(const std::vector<double>& x, double sample_rate_hz, double band_low_hz = 0.0,
                             double band_high_hz = 0.0);

// The amplitude spectrum of the envelope with its mean removed: fault
// impulses at a rate f show as peaks at f and its harmonics.
Spectrum envelope_spectrum(const std::vector<double>& x, double sample_rate_hz, double band_low_hz = 0.0,
                           double band_high_hz = 0.0);

struct WaveformStatistics {
  double rms = 0.0;
  double mean_abs = 0.0;      // mean |x|: the one amplitude many public rigs' data are reduced to
  double peak = 0.0;          // max |x|
  double crest_factor = 0.0;  // peak / rms
  double kurtosis = 0.0;      // E[(x - mean)^4] / var^2; 3 for Gaussian noise
};
WaveformStatistics waveform_statistics(const std::vector<double>& x);

}  // namespace physynth::core
