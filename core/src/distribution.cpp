#include "physynth/core/distribution.h"

#include "physynth/core/diagnostics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include <boost/math/distributions/normal.hpp>

namespace physynth::core {

Distribution Distribution::fixed(double v) {
  Distribution d;
  d.kind = Kind::kFixed;
  d.value = v;
  return d;
}
Distribution Distribution::uniform(double low, double high) {
  Distribution d;
  d.kind = Kind::kUniform;
  d.low = low;
  d.high = high;
  return d;
}
Distribution Distribution::log_uniform(double low, double high) {
  Distribution d = uniform(low, high);
  d.kind = Kind::kLogUniform;
  return d;
}
Distribution Distribution::normal(double mean, double sd) {
  Distribution d;
  d.kind = Kind::kNormal;
  d.mean = mean;
  d.sd = sd;
  return d;
}
Distribution Distribution::log_normal(double mu, double sigma) {
  Distribution d = normal(mu, sigma);
  d.kind = Kind::kLogNormal;
  return d;
}
Distribution Distribution::truncated_normal(double mean, double sd, double low, double high) {
  Distribution d = normal(mean, sd);
  d.kind = Kind::kTruncatedNormal;
  d.low = low;
  d.high = high;
  return d;
}
Distribution Distribution::choice(std::vector<double> values, std::vector<double> weights) {
  Distribution d;
  d.kind = Kind::kChoice;
  if (weights.empty()) weights.assign(values.size(), 1.0);
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  for (double& w : weights) w /= total;
  d.choices = std::move(values);
  d.weights = std::move(weights);
  return d;
}

std::pair<double, double> Distribution::covered() const {
  switch (kind) {
    case Kind::kFixed:
      return {value, value};
    case Kind::kUniform:
    case Kind::kLogUniform:
    case Kind::kTruncatedNormal:
      return {low, high};
    case Kind::kChoice:
      return {*std::min_element(choices.begin(), choices.end()), *std::max_element(choices.begin(), choices.end())};
    case Kind::kNormal:
    case Kind::kLogNormal:
      return {quantile(0.0005), quantile(0.9995)};
  }
  throw std::logic_error("Distribution::covered: unknown kind");
}

double Distribution::quantile(double u) const {
  static const boost::math::normal_distribution<double> standard;
  switch (kind) {
    case Kind::kFixed:
      return value;
    case Kind::kUniform:
      return low + u * (high - low);
    case Kind::kLogUniform:
      return std::exp(std::log(low) + u * (std::log(high) - std::log(low)));
    case Kind::kNormal:
      return mean + sd * boost::math::quantile(standard, u);
    case Kind::kLogNormal:
      return std::exp(mean + sd * boost::math::quantile(standard, u));
    case Kind::kTruncatedNormal: {
      const double a = boost::math::cdf(standard, (low - mean) / sd);
      const double b = boost::math::cdf(standard, (high - mean) / sd);
      const double q = std::clamp(a + u * (b - a), 1e-300, 1.0 - 1e-16);
      return std::clamp(mean + sd * boost::math::quantile(standard, q), low, high);
    }
    case Kind::kChoice: {
      double cumulative = 0.0;
      for (std::size_t i = 0; i + 1 < choices.size(); ++i) {
        cumulative += weights[i];
        if (u < cumulative) return choices[i];
      }
      return choices.back();
    }
  }
  throw std::logic_error("Distribution::quantile: unknown kind");
}

const char* Distribution::kind_name(Kind k) {
  switch (k) {
    case Kind::kFixed:
      return "fixed";
    case Kind::kUniform:
      return "uniform";
    case Kind::kLogUniform:
      return "log_uniform";
    case Kind::kNormal:
      return "normal";
    case Kind::kLogNormal:
      return "log_normal";
    case Kind::kTruncatedNormal:
      return "truncated_normal";
    case Kind::kChoice:
      return "choice";
  }
  return "?";
}

std::string Distribution::describe() const {
  std::ostringstream s;
  auto f = [](double x) { return format_number(x); };
  s << kind_name(kind) << '(';
  switch (kind) {
    case Kind::kFixed:
      s << f(value);
      break;
    case Kind::kUniform:
    case Kind::kLogUniform:
      s << "low=" << f(low) << ", high=" << f(high);
      break;
    case Kind::kNormal:
      s << "mean=" << f(mean) << ", sd=" << f(sd);
      break;
    case Kind::kLogNormal:
      s << "mu=" << f(mean) << ", sigma=" << f(sd);
      break;
    case Kind::kTruncatedNormal:
      s << "mean=" << f(mean) << ", sd=" << f(sd) << ", low=" << f(low) << ", high=" << f(high);
      break;
    case Kind::kChoice:
      for (std::size_t i = 0; i < choices.size(); ++i) s << (i ? ", " : "") << f(choices[i]) << ':' << f(weights[i]);
      break;
  }
  s << ')';
  return s.str();
}

}  // namespace physynth::core
