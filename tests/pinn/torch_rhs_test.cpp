// The one templated right-hand side, evaluated on torch::Tensor batches (as
// the PINN residual will), must agree with the double evaluation CVODE uses.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "physynth/domains/kinetics/reaction_network.h"
#include "physynth/domains/kinetics/sbml_model.h"
#include "physynth/domains/manufacturing/bearing.h"
#include "physynth/domains/manufacturing/tool_wear.h"
#include "physynth/pinn/torch_scalar.h"
#include "physynth/pinn/version.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {
const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// Evaluates the model's one templated right-hand side on a batch of tensors
// and, entry by entry, on doubles; every result must agree.
template <class Model>
void check_tensor_matches_double(const Model& model, const std::vector<torch::Tensor>& y,
                                 const std::vector<torch::Tensor>& p, const torch::Tensor& t, double epsilon) {
  const std::size_t n = model.num_states(), np = model.num_parameters();
  REQUIRE(y.size() == n);
  REQUIRE(p.size() == np);
  std::vector<torch::Tensor> f(n);
  model.template evaluate<torch::Tensor>(t, y.data(), p.data(), f.data());
  std::vector<double> yd(n), pd(np), fd(n);
  for (int64_t b = 0; b < t.size(0); ++b) {
    for (std::size_t i = 0; i < n; ++i) yd[i] = y[i][b].item<double>();
    for (std::size_t k = 0; k < np; ++k) pd[k] = p[k][b].item<double>();
    model.rhs(t[b].item<double>(), yd.data(), pd.data(), fd.data());
    for (std::size_t i = 0; i < n; ++i)
      REQUIRE(f[i][b].item<double>() == Approx(fd[i]).epsilon(epsilon).margin(1e-300));
  }
}

// A batch of values uniform in [low, high).
torch::Tensor uniform(int64_t batch, double low, double high) {
  return low + (high - low) * torch::rand({batch}, kF64);
}
}  // namespace

TEST_CASE("ReactionNetwork: torch::Tensor right-hand side equals the double one, batch by batch") {
  torch::manual_seed(11);
  for (const char* model_yaml : {testing::kEnzymeWithHill, testing::kRobertson}) {
    const auto m = testing::network(model_yaml);
    const auto& net = dynamic_cast<const domains::kinetics::ReactionNetwork&>(*m.model);
    std::vector<torch::Tensor> y, p;
    for (std::size_t i = 0; i < net.num_states(); ++i) y.push_back(uniform(256, 0.05, 5.05));
    for (std::size_t k = 0; k < net.num_parameters(); ++k) p.push_back(uniform(256, 0.1, 3.1));
    check_tensor_matches_double(net, y, p, torch::zeros({256}, kF64), 1e-13);
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

TEST_CASE("BearingDegradation and ToolWear: torch::Tensor right-hand sides equal the double ones") {
  using domains::manufacturing::BearingDegradation;
  using domains::manufacturing::ToolWear;
  torch::manual_seed(5);
  const int64_t batch = 128;
  {
    BearingDegradation model;
    std::vector<torch::Tensor> p;
    for (std::size_t k = 0; k < model.num_parameters(); ++k) p.push_back(uniform(batch, 0.5, 2.0));
    p[BearingDegradation::kParisC] = uniform(batch, 1e-13, 5e-13);
    p[BearingDegradation::kOnset] = uniform(batch, -5.0, 5.0);
    p[BearingDegradation::kStressRef] = uniform(batch, 200.0, 400.0);
    p[BearingDegradation::kHeatCapacity] = uniform(batch, 500.0, 900.0);
    check_tensor_matches_double(model, {uniform(batch, 0.05, 2.05), uniform(batch, 20.0, 60.0)}, p,
                                uniform(batch, 0.0, 10.0), 1e-12);
  }
  {
    ToolWear model;
    std::vector<torch::Tensor> p;
    for (std::size_t k = 0; k < model.num_parameters(); ++k) p.push_back(uniform(batch, 0.2, 2.0));
    check_tensor_matches_double(model, {uniform(batch, 0.0, 0.8)}, p, torch::zeros({batch}, kF64), 1e-12);
  }
}

TEST_CASE("SbmlModel: the compiled tape on torch::Tensor batches equals the double evaluation") {
  core::Diagnostics diags;
  const auto model = domains::kinetics::SbmlModel::read_file(
      std::string(PHYSYNTH_SOURCE_DIR) + "/data/kinetics/boehm/model_Boehm_JProteomeRes2014.xml", diags);
  REQUIRE(model);
  torch::manual_seed(5);
  std::vector<torch::Tensor> y, p;
  for (std::size_t i = 0; i < model->num_states(); ++i) y.push_back(uniform(256, 0.0, 100.0));
  for (double v : model->default_parameters()) p.push_back(v * uniform(256, 0.5, 1.5));
  // The assignment rule BaF3_Epo = 1.25e-7 exp(-Epo_degradation_BaF3 t) makes the right-hand side depend on t.
  check_tensor_matches_double(*model, y, p, uniform(256, 0.0, 240.0), 1e-12);
}
