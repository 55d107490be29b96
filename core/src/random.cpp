#include "physynth/core/random.h"

#include <algorithm>
#include <cmath>

#include <Random123/philox.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// Philox4x32-10 (Salmon et al. 2011, as Random123 computes it) of the 8 blocks with counters
// {c0, c1, c2, c3 + b}, b < 8, side by side: word w of block b is in w[w][b]. The blocks are
// independent, so their multiplications overlap (SSE2's pmuludq, two 32 x 32 -> 64-bit products
// at once). Checked word for word against Random123 (tests/core/core_test.cpp).
constexpr std::size_t kSideBySide = 8;
constexpr std::uint32_t kPhiloxM0 = PHILOX_M4x32_0, kPhiloxM1 = PHILOX_M4x32_1;  // Random123's multipliers
constexpr std::uint32_t kPhiloxW0 = PHILOX_W32_0, kPhiloxW1 = PHILOX_W32_1;      // and key increments

#if defined(__SSE2__)
// The high and low 32 bits of x * m, lane by lane, for four lanes.
inline void mulhilo4(__m128i x, __m128i m, __m128i& hi, __m128i& lo) {
  const __m128i even = _mm_mul_epu32(x, m);                     // lanes 0 and 2, 64 bits each
  const __m128i odd = _mm_mul_epu32(_mm_srli_epi64(x, 32), m);  // lanes 1 and 3
  const __m128i low_half = _mm_set1_epi64x(0xFFFFFFFFll);
  lo = _mm_or_si128(_mm_and_si128(even, low_half), _mm_slli_epi64(odd, 32));
  hi = _mm_or_si128(_mm_srli_epi64(even, 32), _mm_andnot_si128(low_half, odd));
}

void philox8(const std::uint32_t key[2], const std::uint32_t ctr[4], std::uint32_t w[4][kSideBySide]) {
  const __m128i m0 = _mm_set1_epi32(static_cast<int>(kPhiloxM0)), m1 = _mm_set1_epi32(static_cast<int>(kPhiloxM1));
  __m128i x[2][4];
  for (int h = 0; h < 2; ++h) {
    x[h][0] = _mm_set1_epi32(static_cast<int>(ctr[0]));
    x[h][1] = _mm_set1_epi32(static_cast<int>(ctr[1]));
    x[h][2] = _mm_set1_epi32(static_cast<int>(ctr[2]));
    const std::uint32_t c = ctr[3] + 4u * static_cast<std::uint32_t>(h);
    x[h][3] =
        _mm_setr_epi32(static_cast<int>(c), static_cast<int>(c + 1), static_cast<int>(c + 2), static_cast<int>(c + 3));
  }
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    const __m128i vk0 = _mm_set1_epi32(static_cast<int>(k0)), vk1 = _mm_set1_epi32(static_cast<int>(k1));
    for (auto& v : x) {
      __m128i hi0, lo0, hi1, lo1;
      mulhilo4(v[0], m0, hi0, lo0);
      mulhilo4(v[2], m1, hi1, lo1);
      v[0] = _mm_xor_si128(_mm_xor_si128(hi1, v[1]), vk0);
      v[1] = lo1;
      v[2] = _mm_xor_si128(_mm_xor_si128(hi0, v[3]), vk1);
      v[3] = lo0;
    }
  }
  for (int h = 0; h < 2; ++h)
    for (int word = 0; word < 4; ++word) _mm_storeu_si128(reinterpret_cast<__m128i*>(&w[word][4 * h]), x[h][word]);
}
#else
void philox8(const std::uint32_t key[2], const std::uint32_t ctr[4], std::uint32_t w[4][kSideBySide]) {
  for (std::size_t b = 0; b < kSideBySide; ++b) {
    w[0][b] = ctr[0];
    w[1][b] = ctr[1];
    w[2][b] = ctr[2];
    w[3][b] = ctr[3] + static_cast<std::uint32_t>(b);
  }
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    for (std::size_t b = 0; b < kSideBySide; ++b) {
      const std::uint64_t p0 = std::uint64_t{kPhiloxM0} * w[0][b], p1 = std::uint64_t{kPhiloxM1} * w[2][b];
      const auto x1 = w[1][b], x3 = w[3][b];
      w[0][b] = static_cast<std::uint32_t>(p1 >> 32) ^ x1 ^ k0;
      w[1][b] = static_cast<std::uint32_t>(p1);
      w[2][b] = static_cast<std::uint32_t>(p0 >> 32) ^ x3 ^ k1;
      w[3][b] = static_cast<std::uint32_t>(p0);
    }
  }
}
#endif

// A uniform on (0, 1) from 64 bits, 53 of them used.
double to_uniform(std::uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53; }

// Box-Muller: two standard normals from two uniforms, the cosine's first.
void box_muller(double u1, double u2, double& first, double& second) {
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double a = 2.0 * M_PI * u2;
  second = r * std::sin(a);
  first = r * std::cos(a);
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

double CounterRng::uniform() { return to_uniform(next_u64()); }

double CounterRng::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const double u1 = uniform(), u2 = uniform();
  double first = 0.0;
  box_muller(u1, u2, first, spare_normal_);
  has_spare_normal_ = true;
  return first;
}

void CounterRng::normals(double* out, std::size_t count) {
  std::size_t i = 0;
  // Until the draws start on a fresh block with no spare, one at a time.
  while (i < count && (has_spare_normal_ || used_ != 4)) out[i++] = normal();
  // Then one block per pair of normals: its first two words make u1, its last two u2.
  std::uint32_t w[4][kSideBySide];
  while (i < count) {
    const std::size_t blocks = std::min(kSideBySide, (count - i + 1) / 2);
    philox8(key_, counter_, w);
    counter_[3] += static_cast<std::uint32_t>(blocks);
    // Box-Muller on the blocks in phases, each a loop of independent operations, so that one
    // pair's logarithm, square root and sine overlap the next pair's (box_muller's operations
    // on each pair, in its order: the same bits).
    double radius[kSideBySide], angle[kSideBySide];
    for (std::size_t b = 0; b < blocks; ++b) {
      radius[b] = -2.0 * std::log(to_uniform((static_cast<std::uint64_t>(w[0][b]) << 32) | w[1][b]));
      angle[b] = 2.0 * M_PI * to_uniform((static_cast<std::uint64_t>(w[2][b]) << 32) | w[3][b]);
    }
    for (std::size_t b = 0; b < blocks; ++b) radius[b] = std::sqrt(radius[b]);
    for (std::size_t b = 0; b < blocks; ++b) {
      const double second = radius[b] * std::sin(angle[b]), first = radius[b] * std::cos(angle[b]);
      out[i++] = first;
      if (i < count) {
        out[i++] = second;
      } else {
        spare_normal_ = second;
        has_spare_normal_ = true;
      }
    }
    for (int word = 0; word < 4; ++word) block_[word] = w[word][blocks - 1];  // as if drawn one by one
  }
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
