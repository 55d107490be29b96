// Parameter distributions, each mapped from a uniform variate by its quantile
// function, so one sampling design (random, Latin hypercube, Sobol) serves all.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace physynth::core {

struct Distribution {
  enum class Kind { kFixed, kUniform, kLogUniform, kNormal, kLogNormal, kTruncatedNormal, kChoice };

  Kind kind = Kind::kFixed;
  double value = 0.0;            // kFixed
  double low = 0.0, high = 0.0;  // kUniform, kLogUniform, kTruncatedNormal bounds
  double mean = 0.0, sd = 1.0;   // kNormal, kTruncatedNormal; kLogNormal: mean and sd of ln(x)
  std::vector<double> choices;   // kChoice
  std::vector<double> weights;   // kChoice, normalised to sum 1

  static Distribution fixed(double v);
  static Distribution uniform(double low, double high);
  static Distribution log_uniform(double low, double high);
  static Distribution normal(double mean, double sd);
  static Distribution log_normal(double mu, double sigma);
  static Distribution truncated_normal(double mean, double sd, double low, double high);
  static Distribution choice(std::vector<double> values, std::vector<double> weights = {});

  bool is_fixed() const { return kind == Kind::kFixed; }
  // x = F^{-1}(u) for u in (0, 1).
  double quantile(double u) const;
  // The range the distribution covers: the value of a fixed one, the bounds of uniform,
  // log-uniform and truncated-normal ones, the extremes of a choice, the 0.05 % and 99.95 %
  // quantiles of normal and log-normal ones. The PINN's parameter box, a calibration's bounds.
  std::pair<double, double> covered() const;
  // "uniform(0.1, 1)" etc., for reports.
  std::string describe() const;
  static const char* kind_name(Kind k);
};

}  // namespace physynth::core
