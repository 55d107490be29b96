// The one templated right-hand side, evaluated on torch::Tensor batches (as
// the PINN residual will), must agree with the double evaluation CVODE uses.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "physynth/domains/kinetics/reaction_network.h"
#include "physynth/domains/manufacturing/bearing.h"
#include "physynth/pinn/version.h"
#include "support/test_problems.h"

using namespace physynth;

TEST_CASE("ReactionNetwork: torch::Tensor right-hand side equals the double one, batch by batch") {
  for (const char* model_yaml : {testing::kEnzymeWithHill, testing::kRobertson}) {
    const auto m = testing::network(model_yaml);
    const auto& net = dynamic_cast<const domains::kinetics::ReactionNetwork&>(*m.model);
    const std::size_t n = net.num_states(), np = net.num_parameters();
    torch::manual_seed(11);
    const int64_t batch = 256;
    auto opts = torch::TensorOptions().dtype(torch::kFloat64);
    // States and parameters as one tensor per entry, each holding a whole batch.
    std::vector<torch::Tensor> y, p, f(n);
    for (std::size_t i = 0; i < n; ++i) y.push_back(0.05 + 5.0 * torch::rand({batch}, opts));
    for (std::size_t k = 0; k < np; ++k) p.push_back(0.1 + 3.0 * torch::rand({batch}, opts));
    const torch::Tensor t = torch::zeros({batch}, opts);
    net.evaluate<torch::Tensor>(t, y.data(), p.data(), f.data());

    std::vector<double> yd(n), pd(np), fd(n);
    for (int64_t b = 0; b < batch; ++b) {
      for (std::size_t i = 0; i < n; ++i) yd[i] = y[i][b].item<double>();
      for (std::size_t k = 0; k < np; ++k) pd[k] = p[k][b].item<double>();
      net.rhs(0.0, yd.data(), pd.data(), fd.data());
      for (std::size_t i = 0; i < n; ++i)
        REQUIRE(f[i][b].item<double>() == Approx(fd[i]).epsilon(1e-13).margin(1e-300));
    }
  }
}

TEST_CASE("ReactionNetwork: autograd through the tensor right-hand side equals the autodiff Jacobian") {
  const auto m = testing::network(testing::kEnzymeWithHill);
  const auto& net = dynamic_cast<const domains::kinetics::ReactionNetwork&>(*m.model);
  const std::size_t n = net.num_states();
  const auto p = testing::parameters(m, testing::kEnzymeValues);
  const std::vector<double> y0 = {0.3, 4.0, 0.2, 1.5, 0.7};
  std::vector<torch::Tensor> y, pt, f(n);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  for (double v : y0) y.push_back(torch::full({1}, v, opts).requires_grad_(true));
  for (double v : p) pt.push_back(torch::full({1}, v, opts));
  net.evaluate<torch::Tensor>(torch::zeros({1}, opts), y.data(), pt.data(), f.data());
  std::vector<double> jac(n * n);
  net.jacobian(0.0, y0.data(), p.data(), jac.data());
  for (std::size_t i = 0; i < n; ++i) {
    auto grads = torch::autograd::grad({f[i].sum()}, y, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
    for (std::size_t j = 0; j < n; ++j) {
      const double g = grads[j].defined() ? grads[j].item<double>() : 0.0;
      CHECK(g == Approx(jac[i + n * j]).epsilon(1e-13).margin(1e-15));
    }
  }
}

TEST_CASE("pinn: the LibTorch linked at run time is the version CMake configured against") {
  CHECK(pinn::torch_version() == PHYSYNTH_TORCH_VERSION);
}

TEST_CASE("BearingDegradation: torch::Tensor right-hand side equals the double one") {
  using physynth::domains::manufacturing::BearingDegradation;
  BearingDegradation model;
  const std::size_t n = model.num_states(), np = model.num_parameters();
  torch::manual_seed(5);
  const int64_t batch = 128;
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  // Positive values in plausible ranges: scale a uniform draw per parameter.
  std::vector<double> low(np, 0.5), high(np, 2.0);
  low[BearingDegradation::kParisC] = 1e-13, high[BearingDegradation::kParisC] = 5e-13;
  low[BearingDegradation::kOnset] = -5.0, high[BearingDegradation::kOnset] = 5.0;
  low[BearingDegradation::kStressRef] = 200, high[BearingDegradation::kStressRef] = 400;
  low[BearingDegradation::kHeatCapacity] = 500, high[BearingDegradation::kHeatCapacity] = 900;
  std::vector<torch::Tensor> y, p, f(n);
  y.push_back(0.05 + 2.0 * torch::rand({batch}, opts));
  y.push_back(20.0 + 40.0 * torch::rand({batch}, opts));
  for (std::size_t k = 0; k < np; ++k) p.push_back(low[k] + (high[k] - low[k]) * torch::rand({batch}, opts));
  const torch::Tensor t = 10.0 * torch::rand({batch}, opts);
  model.evaluate<torch::Tensor>(t, y.data(), p.data(), f.data());
  std::vector<double> yd(n), pd(np), fd(n);
  for (int64_t b = 0; b < batch; ++b) {
    for (std::size_t i = 0; i < n; ++i) yd[i] = y[i][b].item<double>();
    for (std::size_t k = 0; k < np; ++k) pd[k] = p[k][b].item<double>();
    model.rhs(t[b].item<double>(), yd.data(), pd.data(), fd.data());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(f[i][b].item<double>() == Approx(fd[i]).epsilon(1e-12));
  }
}
