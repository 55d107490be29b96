#include "physynth/core/random.h"

#include <cmath>

#include <Random123/philox.h>

namespace physynth::core {

namespace {
using Philox = r123::Philox4x32_R<10>;

void philox(const std::uint32_t key[2], const std::uint32_t ctr[4], std::uint32_t out[4]) {
  Philox gen;
  Philox::ctr_type c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
  Philox::key_type k = {{key[0], key[1]}};
  Philox::ctr_type r = gen(c, k);
  for (int i = 0; i < 4; ++i) out[i] = r[i];
}
}  // namespace

CounterRng::CounterRng(std::uint64_t seed, std::uint64_t sample, std::uint32_t stream)
    : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
      counter_{static_cast<std::uint32_t>(sample), static_cast<std::uint32_t>(sample >> 32), stream, 0},
      block_{0, 0, 0, 0} {}

std::uint32_t CounterRng::next_u32() {
  if (used_ == 4) {
    philox(key_, counter_, block_);
    ++counter_[3];
    used_ = 0;
  }
  return block_[used_++];
}

std::uint64_t CounterRng::next_u64() {
  const std::uint64_t hi = next_u32();
  return (hi << 32) | next_u32();
}

double CounterRng::uniform() { return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

double CounterRng::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const double u1 = uniform(), u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double a = 2.0 * M_PI * u2;
  spare_normal_ = r * std::sin(a);
  has_spare_normal_ = true;
  return r * std::cos(a);
}

KeyedPermutation::KeyedPermutation(std::uint64_t n, std::uint64_t seed, std::uint32_t stream, std::uint32_t index)
    : n_(n),
      half_bits_(1),
      key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
      tweak_(index) {
  while ((std::uint64_t{1} << (2 * half_bits_)) < n_) ++half_bits_;
  // Mix the stream into the key's high word so permutations of different streams differ.
  key_[1] ^= stream * 0x9E3779B9u;
}

std::uint64_t KeyedPermutation::operator()(std::uint64_t i) const {
  const std::uint64_t mask = (std::uint64_t{1} << half_bits_) - 1;
  std::uint64_t x = i;
  do {
    std::uint64_t left = x >> half_bits_, right = x & mask;
    for (std::uint32_t round = 0; round < 4; ++round) {
      std::uint32_t ctr[4] = {static_cast<std::uint32_t>(right), static_cast<std::uint32_t>(right >> 32), tweak_,
                              round};
      std::uint32_t out[4];
      philox(key_, ctr, out);
      const std::uint64_t f = ((static_cast<std::uint64_t>(out[0]) << 32) | out[1]) & mask;
      const std::uint64_t next_right = left ^ f;
      left = right;
      right = next_right;
    }
    x = (left << half_bits_) | right;
  } while (x >= n_);
  return x;
}

}  // namespace physynth::core
