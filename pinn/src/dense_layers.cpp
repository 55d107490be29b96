#include "dense_layers.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace physynth::pinn {

#if defined(__x86_64__) && defined(__GNUC__)
#define PHYSYNTH_DENSE_LAYERS 1
// Everything the kernel calls is compiled for AVX2 with FMA and inlined into it.
#define PHYSYNTH_AVX2_FMA __attribute__((target("avx2,fma")))
#endif

bool DenseLayers::runs_here() {
#ifdef PHYSYNTH_DENSE_LAYERS
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

DenseLayers::DenseLayers(std::vector<int> sizes, const std::vector<const float*>& weights,
                         const std::vector<const float*>& biases)
    : sizes_(std::move(sizes)) {
  if (sizes_.size() < 2 || weights.size() != sizes_.size() - 1 || biases.size() != weights.size())
    throw std::invalid_argument("DenseLayers: one weight matrix and one bias vector per layer");
  widest_ = sizes_.front();
  for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
    const int in = sizes_[l], out = sizes_[l + 1], nv = (out + 7) / 8;
    vectors_.push_back(nv);
    widest_ = std::max(widest_, nv * 8);
    // Transposed, each input's weights to the outputs contiguous and zero past the last output:
    // the padded outputs are 0, tanh(0) = 0, and their weights in the next layer are 0 too.
    std::vector<float> w(static_cast<std::size_t>(in) * nv * 8, 0.0f), b(static_cast<std::size_t>(nv) * 8, 0.0f);
    for (int j = 0; j < out; ++j) {
      for (int i = 0; i < in; ++i)
        w[static_cast<std::size_t>(i) * nv * 8 + j] = weights[l][static_cast<std::size_t>(j) * in + i];
      b[j] = biases[l][j];
    }
    w_.push_back(std::move(w));
    b_.push_back(std::move(b));
  }
}

#ifdef PHYSYNTH_DENSE_LAYERS

struct DenseKernel {
  typedef float V __attribute__((vector_size(32), aligned(4)));  // 8 floats, any alignment
  typedef int I __attribute__((vector_size(32), aligned(4)));

  static constexpr int kRows = 3;    // rows per register block: 3 x 4 accumulators of 8 outputs
  static constexpr int kBlock = 48;  // rows per pass through the layers (a multiple of kRows)

  PHYSYNTH_AVX2_FMA static V splat(float s) { return V{s, s, s, s, s, s, s, s}; }

  PHYSYNTH_AVX2_FMA static V select(I mask, V a, V b) { return (V)(((I)a & mask) | ((I)b & ~mask)); }

  // tanh z = 1 - 2 / (1 + e^2z), e^x = 2^k e^r with k = round(x / ln 2), |r| <= ln(2) / 2 in two
  // parts of ln 2 (Cody and Waite) and e^r by its Taylor polynomial to r^7 (relative error below
  // 1e-8, a sixth of float's rounding). 2z is held within +-40, where tanh is +-1 in float and
  // 2^k a normal number.
  PHYSYNTH_AVX2_FMA static V tanh(V z) {
    V x = z + z;
    x = select(x > 40.0f, splat(40.0f), x);
    x = select(x < -40.0f, splat(-40.0f), x);
    const V k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // (1.5 2^23 rounds to an integer)
    const V r = (x - k * 0.693145751953125f) - k * 1.428606765330187045e-06f;
    V p = splat(1.0f / 5040.0f);
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const I two_k = (__builtin_convertvector(k, I) + 127) << 23;
    return 1.0f - 2.0f / (1.0f + p * (V)two_k);
  }

  // acc[r][v] += in[r][i] w[i][v0 + v] for kRows rows and NV vectors of outputs.
  template <int NV>
  PHYSYNTH_AVX2_FMA static void accumulate(V (&acc)[kRows][NV], const float* in, int in_stride, const float* w, int nv,
                                           int v0, int i) {
    const V* wi = reinterpret_cast<const V*>(w + (static_cast<std::size_t>(i) * nv + v0) * 8);
    V wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = wi[v];
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const V x = splat(in[r * in_stride + i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] += x * wv[v];
    }
  }

  // out[r][v0 * 8 ...] for kRows rows: bias (or zero) + the sum over i of in[r][i] w[i][...], for
  // NV vectors of outputs from v0 on. With at most two vectors a row has too few accumulators to
  // keep the FMA units busy (each waits for the one before): the even and odd inputs then sum
  // apart.
  template <int NV>
  PHYSYNTH_AVX2_FMA static void group(const float* in, int in_stride, int n_in, const float* w, int nv,
                                      const float* bias, float* out, int out_stride, int v0) {
    constexpr int kSplit = NV <= 2 ? 2 : 1;
    V acc[kSplit][kRows][NV];
#pragma GCC unroll 4
    for (int s = 0; s < kSplit; ++s)
#pragma GCC unroll 4
      for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          acc[s][r][v] = s == 0 && bias ? *reinterpret_cast<const V*>(bias + (v0 + v) * 8) : splat(0.0f);
    int i = 0;
    for (; i + kSplit <= n_in; i += kSplit)
#pragma GCC unroll 2
      for (int s = 0; s < kSplit; ++s) accumulate<NV>(acc[s], in, in_stride, w, nv, v0, i + s);
    for (; i < n_in; ++i) accumulate<NV>(acc[0], in, in_stride, w, nv, v0, i);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        V sum = acc[0][r][v];
        if (kSplit == 2) sum += acc[kSplit - 1][r][v];
        *reinterpret_cast<V*>(out + r * out_stride + (v0 + v) * 8) = sum;
      }
  }

  // One layer's affine map for `rows` rows (a multiple of kRows).
  PHYSYNTH_AVX2_FMA static void affine(const float* in, int in_stride, int n_in, const float* w, int nv,
                                       const float* bias, float* out, int rows) {
    const int out_stride = nv * 8;
    for (int r0 = 0; r0 < rows; r0 += kRows) {
      const float* a = in + r0 * in_stride;
      float* o = out + r0 * out_stride;
      int v0 = 0;
      for (; v0 + 4 <= nv; v0 += 4) group<4>(a, in_stride, n_in, w, nv, bias, o, out_stride, v0);
      switch (nv - v0) {
        case 1:
          group<1>(a, in_stride, n_in, w, nv, bias, o, out_stride, v0);
          break;
        case 2:
          group<2>(a, in_stride, n_in, w, nv, bias, o, out_stride, v0);
          break;
        case 3:
          group<3>(a, in_stride, n_in, w, nv, bias, o, out_stride, v0);
          break;
        default:
          break;
      }
    }
  }

  __attribute__((target("avx2,fma"), flatten)) static void run(const DenseLayers& d, const double* x, const double* dx,
                                                               std::size_t rows, double* out, double* dout) {
    const int L = static_cast<int>(d.w_.size()), n0 = d.sizes_.front(), no = d.sizes_.back();
    const std::size_t span = static_cast<std::size_t>(kBlock) * d.widest_;
    std::vector<float> buffer((dx ? 4 : 2) * span);
    float* h[2] = {buffer.data(), buffer.data() + span};
    float* t[2] = {dx ? buffer.data() + 2 * span : nullptr, dx ? buffer.data() + 3 * span : nullptr};
    for (std::size_t first = 0; first < rows; first += kBlock) {
      const int c = static_cast<int>(std::min<std::size_t>(kBlock, rows - first));
      const int padded = (c + kRows - 1) / kRows * kRows;  // (rows past c are zero, and not written)
      for (int r = 0; r < padded; ++r)
        for (int i = 0; i < n0; ++i) {
          const std::size_t at = (first + r) * n0 + i;
          h[0][r * n0 + i] = r < c ? static_cast<float>(x[at]) : 0.0f;
          if (dx) t[0][r * n0 + i] = r < c ? static_cast<float>(dx[at]) : 0.0f;
        }
      int cur = 0, stride = n0;
      for (int l = 0; l < L; ++l) {
        const int nv = d.vectors_[l];
        affine(h[cur], stride, d.sizes_[l], d.w_[l].data(), nv, d.b_[l].data(), h[1 - cur], padded);
        if (dx) affine(t[cur], stride, d.sizes_[l], d.w_[l].data(), nv, nullptr, t[1 - cur], padded);
        cur = 1 - cur;
        stride = nv * 8;
        if (l + 1 == L) break;
        V* hv = reinterpret_cast<V*>(h[cur]);
        V* tv = dx ? reinterpret_cast<V*>(t[cur]) : nullptr;
        for (int k = 0; k < padded * nv; ++k) {
          const V a = tanh(hv[k]);
          hv[k] = a;
          if (dx) tv[k] = (1.0f - a * a) * tv[k];  // h' = (1 - tanh^2 z) z'
        }
      }
      for (int r = 0; r < c; ++r)
        for (int j = 0; j < no; ++j) {
          out[(first + r) * no + j] = h[cur][r * stride + j];
          if (dx) dout[(first + r) * no + j] = t[cur][r * stride + j];
        }
    }
  }
};

// (On a CPU without AVX2 or FMA the kernel's instructions would not run at all.)
void DenseLayers::forward(const double* x, std::size_t rows, double* out) const {
  if (!runs_here()) throw std::logic_error("DenseLayers: this CPU has no AVX2 with FMA (runs_here() is false)");
  DenseKernel::run(*this, x, nullptr, rows, out, nullptr);
}
void DenseLayers::forward_tangent(const double* x, const double* dx, std::size_t rows, double* out,
                                  double* dout) const {
  if (!runs_here()) throw std::logic_error("DenseLayers: this CPU has no AVX2 with FMA (runs_here() is false)");
  DenseKernel::run(*this, x, dx, rows, out, dout);
}

#else

void DenseLayers::forward(const double*, std::size_t, double*) const {
  throw std::logic_error("DenseLayers: not built for this CPU (runs_here() is false)");
}
void DenseLayers::forward_tangent(const double*, const double*, std::size_t, double*, double*) const {
  throw std::logic_error("DenseLayers: not built for this CPU (runs_here() is false)");
}

#endif

}  // namespace physynth::pinn
