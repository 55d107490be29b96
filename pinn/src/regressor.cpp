#include "physynth/pinn/regressor.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "threads.h"

namespace physynth::pinn {

namespace {

struct Standardiser {
  std::vector<double> mean, sd;
  Standardiser(const std::vector<double>& v, std::size_t n, std::size_t d) : mean(d, 0.0), sd(d, 0.0) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < d; ++k) mean[k] += v[i * d + k] / static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < d; ++k) sd[k] += (v[i * d + k] - mean[k]) * (v[i * d + k] - mean[k]);
    for (double& s : sd) s = n > 1 ? std::sqrt(s / static_cast<double>(n - 1)) : 1.0;
    for (double& s : sd)
      if (!(s > 1e-12)) s = 1.0;  // a constant column
  }
  torch::Tensor apply(const std::vector<double>& v, std::size_t n, std::size_t d) const {
    auto t = torch::empty({static_cast<long>(n), static_cast<long>(d)}, torch::kFloat32);
    float* p = t.data_ptr<float>();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < d; ++k) p[i * d + k] = static_cast<float>((v[i * d + k] - mean[k]) / sd[k]);
    return t;
  }
};

torch::nn::Sequential make_net(std::size_t d, const std::vector<int>& hidden) {
  torch::nn::Sequential net;
  long in = static_cast<long>(d);
  for (int h : hidden) {
    net->push_back(torch::nn::Linear(in, h));
    net->push_back(torch::nn::Tanh());
    in = h;
  }
  net->push_back(torch::nn::Linear(in, 1));
  return net;
}

}  // namespace

std::vector<double> fit_predict(const RegressorOptions& o, const std::vector<double>& x, const std::vector<double>& y,
                                std::size_t d, const std::vector<double>& q) {
  const std::size_t n = y.size(), m = d > 0 ? q.size() / d : 0;
  if (n < 2 || d == 0 || x.size() != n * d || q.size() != m * d || o.members < 1)
    throw std::invalid_argument("fit_predict: need at least 2 training rows of " + std::to_string(d) +
                                " features and whole query rows");
  for (double v : x)
    if (!std::isfinite(v)) throw std::invalid_argument("fit_predict: a training feature is not finite");
  for (double v : y)
    if (!std::isfinite(v)) throw std::invalid_argument("fit_predict: a training target is not finite");
  if (o.threads > 0) use_threads(o.threads);
  const Standardiser sx(x, n, d), sy(y, n, 1);
  const torch::Tensor X = sx.apply(x, n, d), Y = sy.apply(y, n, 1), Q = sx.apply(q, m, d);
  std::vector<double> out(m * static_cast<std::size_t>(o.members));
  for (int member = 0; member < o.members; ++member) {
    torch::manual_seed(o.seed * 1000003ull + static_cast<std::uint64_t>(member));
    auto net = make_net(d, o.hidden);
    torch::optim::Adam opt(net->parameters(),
                           torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));
    // A bootstrap resample per member (the first member sees the data as it is).
    torch::Tensor rows = member == 0 ? torch::arange(static_cast<long>(n))
                                     : torch::randint(static_cast<long>(n), {static_cast<long>(n)}, torch::kLong);
    const torch::Tensor Xm = X.index_select(0, rows), Ym = Y.index_select(0, rows);
    const long batch = std::min<long>(o.batch, static_cast<long>(n));
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
      const torch::Tensor perm = torch::randperm(static_cast<long>(n), torch::kLong);
      for (long start = 0; start < static_cast<long>(n); start += batch) {
        const torch::Tensor idx = perm.slice(0, start, std::min<long>(start + batch, static_cast<long>(n)));
        opt.zero_grad();
        const torch::Tensor loss = torch::mse_loss(net->forward(Xm.index_select(0, idx)), Ym.index_select(0, idx));
        loss.backward();
        opt.step();
      }
    }
    torch::NoGradGuard guard;
    const torch::Tensor pred = net->forward(Q).contiguous();
    const float* p = pred.data_ptr<float>();
    for (std::size_t j = 0; j < m; ++j)
      out[j * static_cast<std::size_t>(o.members) + static_cast<std::size_t>(member)] =
          sy.mean[0] + sy.sd[0] * static_cast<double>(p[j]);
  }
  return out;
}

}  // namespace physynth::pinn
