// A tanh multilayer perceptron's inference in float32 on a CPU, each row through every layer at
// once: what MlpImpl::forward and forward_tangent compute with a float32 copy of the weights
// (Impl::set_float32_layers), for rows of float64 inputs. LibTorch runs those as a GEMM and five
// or six passes over memory per layer, each a call through its dispatcher; here a few rows at a
// time go through all the layers in registers and the first level of cache (8 outputs of a row
// per AVX instruction, fused multiply-adds). Michaelis-Menten's 1,000 samples (121 predicted and
// 64 residual points, 32 wide, 4 deep): the layers took 20 and 17.5 ms against LibTorch's 36 and
// 35 ms on one core of the AMD EPYC (2026-12-06). Each row's numbers depend on that row alone,
// not on the others or on where a range of rows starts.
//
// Compiled for AVX2 with FMA only (x86-64, GCC or Clang); `runs_here()` says whether this CPU has
// them, and where it does not the float32 copy stays LibTorch's. Torch-free; private to pinn/.
#pragma once

#include <cstddef>
#include <vector>

namespace physynth::pinn {

class DenseLayers {
 public:
  // sizes: the inputs, each hidden layer's width and the outputs (at least two entries); for layer
  // l, weights[l] is its [sizes[l + 1], sizes[l]] matrix row-major (torch::nn::Linear's weight)
  // and biases[l] its sizes[l + 1] biases. Every layer but the last is followed by tanh.
  DenseLayers(std::vector<int> sizes, const std::vector<const float*>& weights,
              const std::vector<const float*>& biases);

  // Whether this build and CPU run the layers (x86-64 with AVX2 and FMA).
  static bool runs_here();

  // out[rows, outputs] = N(x) for x[rows, inputs], both row-major.
  void forward(const double* x, std::size_t rows, double* out) const;
  // And dout = dN/dx dx, the derivative along each row's tangent dx[rows, inputs].
  void forward_tangent(const double* x, const double* dx, std::size_t rows, double* out, double* dout) const;

  int inputs() const { return sizes_.front(); }
  int outputs() const { return sizes_.back(); }

 private:
  friend struct DenseKernel;
  std::vector<int> sizes_;
  std::vector<int> vectors_;               // each layer's output in vectors of 8 (the last partly zero)
  std::vector<std::vector<float>> w_, b_;  // layer l: [sizes[l]][vectors[l] * 8] and [vectors[l] * 8]
  int widest_ = 0;                         // the most floats a row holds between layers
};

}  // namespace physynth::pinn
