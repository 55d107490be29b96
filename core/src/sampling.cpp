#include "physynth/core/sampling.h"

#include <stdexcept>

#include <boost/random/sobol.hpp>

#include "physynth/core/random.h"

namespace physynth::core {

const char* design_name(Design d) {
  switch (d) {
    case Design::kRandom:
      return "random";
    case Design::kLatinHypercube:
      return "latin_hypercube";
    case Design::kSobol:
      return "sobol";
  }
  return "?";
}

Sampler::Sampler(Design design, std::vector<Distribution> distributions, std::uint64_t seed, std::uint64_t num_samples)
    : design_(design), distributions_(std::move(distributions)), seed_(seed), num_samples_(num_samples) {
  for (std::size_t j = 0; j < distributions_.size(); ++j)
    if (!distributions_[j].is_fixed()) stochastic_.push_back(j);
}

void Sampler::unit_points(std::uint64_t first, std::size_t count, double* u) const {
  const std::size_t d = dimension();
  if (d == 0) return;
  switch (design_) {
    case Design::kRandom:
      for (std::size_t k = 0; k < count; ++k) {
        CounterRng rng(seed_, first + k, stream::kDesign);
        for (std::size_t j = 0; j < d; ++j) u[k * d + j] = rng.uniform();
      }
      return;
    case Design::kLatinHypercube: {
      std::vector<KeyedPermutation> perms;
      for (std::size_t j = 0; j < d; ++j)
        perms.emplace_back(num_samples_, seed_, stream::kLhsPermutation, static_cast<std::uint32_t>(j));
      const double n = static_cast<double>(num_samples_);
      for (std::size_t k = 0; k < count; ++k) {
        CounterRng rng(seed_, first + k, stream::kDesign);
        for (std::size_t j = 0; j < d; ++j)
          u[k * d + j] = (static_cast<double>(perms[j](first + k)) + rng.uniform()) / n;
      }
      return;
    }
    case Design::kSobol: {
      // Sample i is Sobol point i, point 0 being the origin. Boost's engine leaves the origin
      // out (after seed(z) it yields point z + 1), so the origin is written here; without it
      // the first 2^m samples were points 1..2^m, which miss a stratum.
      boost::random::sobol engine(d);
      engine.seed(first > 0 ? first - 1 : 0);
      CounterRng shift_rng(seed_, 0, stream::kSobolShift);
      std::vector<std::uint64_t> shift(d);
      for (auto& s : shift) s = shift_rng.next_u64();
      for (std::size_t k = 0; k < count; ++k) {
        const bool origin = first + k == 0;
        for (std::size_t j = 0; j < d; ++j) {
          const std::uint64_t x = (origin ? 0 : static_cast<std::uint64_t>(engine())) ^ shift[j];
          u[k * d + j] = (static_cast<double>(x >> 11) + 0.5) * 0x1.0p-53;
        }
      }
      return;
    }
  }
  throw std::logic_error("Sampler: unknown design");
}

void Sampler::sample(std::uint64_t first, std::size_t count, double* params) const {
  std::vector<double> u(count * dimension());
  unit_points(first, count, u.data());
  map_unit(u.data(), count, params);
}

void Sampler::map_unit(const double* u, std::size_t count, double* params) const {
  const std::size_t m = num_parameters(), d = dimension();
  for (std::size_t k = 0; k < count; ++k) {
    for (std::size_t j = 0; j < m; ++j)
      if (distributions_[j].is_fixed()) params[k * m + j] = distributions_[j].value;
    for (std::size_t s = 0; s < d; ++s) {
      const std::size_t j = stochastic_[s];
      params[k * m + j] = distributions_[j].quantile(u[k * d + s]);
    }
  }
}

}  // namespace physynth::core
