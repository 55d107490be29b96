// Train-synthetic-test-real on measured tool wear (NASA milling data).
//
// Task: at each wear measurement of a tool, predict the time left until its
// flank wear reaches 0.4 mm (a level every case of the data set crosses),
// from the current reading, the wear rate since the previous reading, and the
// cutting conditions (depth of cut, feed, material).
//
// The same small network (LibTorch MLP, fixed seed) is trained on
//   (a) synthetic tools only: scenarios/manufacturing/milling_campaign.yaml
//       with the wear model calibrated on the real cases 1-8 (nothing from 9-16);
//   (b) the real cases 1-8;
// and tested on the real cases 9-16 (the replicates). For scale, the RMSE
// of the training set's mean RUL, and of the calibrated physics model itself
// (time from the current reading to 0.4 mm by the wear law).
//
// Then hybrid mixes: real cases 1-8 plus synthetic rows at ratios 0 to 64 synthetic rows per
// real row, tested on 9-16 (the curve of how much synthetic data helps).
//
//   tstr_milling NASA_LABELS_CSV SCENARIO_DIR
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "physynth/anchor/milling_calibration.h"
#include "physynth/anchor/two_sample.h"
#include "physynth/domains/manufacturing/tool_wear.h"
#include "physynth/engine/run.h"

using namespace physynth;
using domains::manufacturing::ToolWear;

namespace {
constexpr double kFailure = 0.4;  // mm

struct Set {
  std::vector<std::array<float, 5>> x;  // VB, wear rate, depth of cut, feed, steel
  std::vector<float> y;                 // time to VB = 0.4 mm
  std::vector<float> physics;           // the calibrated model's own prediction
};

// Time for the wear law to go from v0 to v1 at fixed conditions: the integral of dVB / f(VB) (Simpson).
double wear_time(const ToolWear& model, std::vector<double> p, double v0, double v1) {
  if (v1 <= v0) return 0.0;
  const int n = 200;
  const double h = (v1 - v0) / n;
  double sum = 0.0;
  for (int i = 0; i <= n; ++i) {
    double v = v0 + i * h, f = 0.0;
    model.rhs(0.0, &v, p.data(), &f);
    sum += (i == 0 || i == n ? 1.0 : (i % 2 ? 4.0 : 2.0)) / f;
  }
  return sum * h / 3.0;
}

std::vector<double> tool_parameters(const std::vector<double>& theta, double doc, double feed, bool steel) {
  std::vector<double> p(ToolWear::kParameterCount);
  p[ToolWear::kRate] = steel ? theta[1] : theta[0];
  p[ToolWear::kSpeed] = p[ToolWear::kSpeedRef] = 200.0;
  p[ToolWear::kFeed] = feed;
  p[ToolWear::kFeedRef] = 0.25;
  p[ToolWear::kFeedExponent] = theta[2];
  p[ToolWear::kDepth] = doc;
  p[ToolWear::kDepthRef] = 0.75;
  p[ToolWear::kDepthExponent] = theta[3];
  p[ToolWear::kBreakInGain] = theta[4];
  p[ToolWear::kBreakInScale] = theta[5];
  p[ToolWear::kForceScale] = theta[6];
  return p;
}

// Readings (t, VB) of one tool that crosses 0.4 mm: a row per reading before the crossing, from the second on.
void add_tool(Set& set, const std::vector<double>& t, const std::vector<double>& vb, double doc, double feed,
              bool steel, const ToolWear& model, const std::vector<double>& theta) {
  std::size_t cross = 0;
  while (cross < vb.size() && vb[cross] < kFailure) ++cross;
  if (cross == 0 || cross == vb.size()) return;  // never below, or never crosses
  const double t_fail =
      t[cross - 1] + (kFailure - vb[cross - 1]) * (t[cross] - t[cross - 1]) / (vb[cross] - vb[cross - 1]);
  const auto p = tool_parameters(theta, doc, feed, steel);
  for (std::size_t k = 1; k < cross; ++k) {
    const float rate = static_cast<float>((vb[k] - vb[k - 1]) / (t[k] - t[k - 1]));
    set.x.push_back(
        {static_cast<float>(vb[k]), rate, static_cast<float>(doc), static_cast<float>(feed), steel ? 1.0f : 0.0f});
    set.y.push_back(static_cast<float>(t_fail - t[k]));
    set.physics.push_back(static_cast<float>(wear_time(model, p, std::max(vb[k], 0.0), kFailure)));
  }
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

torch::Tensor as_tensor(const Set& s) {
  auto x = torch::empty({static_cast<int64_t>(s.x.size()), 5});
  for (std::size_t i = 0; i < s.x.size(); ++i)
    for (int j = 0; j < 5; ++j) x[static_cast<int64_t>(i)][j] = s.x[i][static_cast<std::size_t>(j)];
  return x;
}

// Trains the MLP on `train` and returns its predictions on `test`.
std::vector<float> fit_and_predict(const Set& train, const Set& test, int epochs, int seed) {
  torch::manual_seed(static_cast<uint64_t>(seed));
  auto x = as_tensor(train);
  auto y = torch::tensor(train.y).unsqueeze(1);
  const auto mean = x.mean(0), sd = x.std(0).clamp_min(1e-6);
  const double y_scale = y.abs().mean().item<double>();
  torch::nn::Sequential net(torch::nn::Linear(5, 32), torch::nn::ReLU(), torch::nn::Linear(32, 32), torch::nn::ReLU(),
                            torch::nn::Linear(32, 1));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  const int64_t n = x.size(0), batch = std::min<int64_t>(256, n);
  auto xs = (x - mean) / sd, ys = y / y_scale;
  for (int e = 0; e < epochs; ++e) {
    auto order = torch::randperm(n);
    for (int64_t b = 0; b < n; b += batch) {
      auto idx = order.slice(0, b, std::min(n, b + batch));
      auto loss = torch::mse_loss(net->forward(xs.index_select(0, idx)), ys.index_select(0, idx));
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  torch::NoGradGuard guard;
  auto out = net->forward((as_tensor(test) - mean) / sd).squeeze(1) * y_scale;
  return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.size(0));
}
// --- the data-driven baseline: a VAE trained on the same real tools ------------------------
// A tool as a vector: VB on a fixed grid (linear between readings, continued at the last
// readings' slope past the last one), then depth of cut, feed and steel (0/1).
constexpr int kGrid = 21;
constexpr double kGridStep = 5.0;  // time units: 0, 5, ..., 100

std::vector<float> tool_vector(const std::vector<double>& t, const std::vector<double>& vb, double doc, double feed,
                               bool steel) {
  std::vector<float> v;
  for (int k = 0; k < kGrid; ++k) {
    const double x = k * kGridStep;
    std::size_t j = 1;
    while (j + 1 < t.size() && t[j] < x) ++j;
    const double slope = (vb[j] - vb[j - 1]) / std::max(t[j] - t[j - 1], 1e-9);
    v.push_back(static_cast<float>(std::max(0.0, vb[j - 1] + slope * (x - t[j - 1]))));
  }
  v.push_back(static_cast<float>(doc));
  v.push_back(static_cast<float>(feed));
  v.push_back(steel ? 1.0f : 0.0f);
  return v;
}

struct VaeImpl : torch::nn::Module {
  torch::nn::Linear e1{nullptr}, mu{nullptr}, logvar{nullptr}, d1{nullptr}, d2{nullptr};
  explicit VaeImpl(int64_t n, int64_t latent = 4, int64_t hidden = 32) {
    e1 = register_module("e1", torch::nn::Linear(n, hidden));
    mu = register_module("mu", torch::nn::Linear(hidden, latent));
    logvar = register_module("logvar", torch::nn::Linear(hidden, latent));
    d1 = register_module("d1", torch::nn::Linear(latent, hidden));
    d2 = register_module("d2", torch::nn::Linear(hidden, n));
  }
  torch::Tensor decode(const torch::Tensor& z) { return d2->forward(torch::tanh(d1->forward(z))); }
};
TORCH_MODULE(Vae);

// Trains a VAE (standardised vectors, MSE reconstruction + KL, Adam) on `tools` and draws `n`
// new tool vectors from it: conditions snapped to the design's values, VB made non-decreasing.
std::vector<std::vector<float>> vae_generate(const std::vector<std::vector<float>>& tools, std::size_t n, int seed) {
  torch::manual_seed(static_cast<uint64_t>(seed));
  const auto rows = static_cast<int64_t>(tools.size()), cols = static_cast<int64_t>(tools.front().size());
  auto x = torch::empty({rows, cols});
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) x[i][j] = tools[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
  const auto mean = x.mean(0), sd = x.std(0).clamp_min(1e-3);
  const auto xs = (x - mean) / sd;
  Vae vae(cols);
  torch::optim::Adam opt(vae->parameters(), torch::optim::AdamOptions(3e-3));
  for (int epoch = 0; epoch < 3000; ++epoch) {
    const auto h = torch::tanh(vae->e1->forward(xs));
    const auto mu = vae->mu->forward(h), logvar = vae->logvar->forward(h);
    const auto z = mu + torch::exp(0.5 * logvar) * torch::randn_like(mu);
    const auto recon = torch::mse_loss(vae->decode(z), xs, torch::Reduction::Sum) / static_cast<double>(rows);
    const auto kl = -0.5 * torch::sum(1 + logvar - mu.pow(2) - logvar.exp()) / static_cast<double>(rows);
    opt.zero_grad();
    (recon + kl).backward();
    opt.step();
  }
  torch::NoGradGuard guard;
  const auto out = (vae->decode(torch::randn({static_cast<int64_t>(n), 4})) * sd + mean).contiguous();
  std::vector<std::vector<float>> gen(n, std::vector<float>(static_cast<std::size_t>(cols)));
  const auto snap = [](float v, float a, float b) { return std::abs(v - a) < std::abs(v - b) ? a : b; };
  for (std::size_t i = 0; i < n; ++i) {
    auto& g = gen[i];
    for (int64_t j = 0; j < cols; ++j) g[static_cast<std::size_t>(j)] = out[static_cast<int64_t>(i)][j].item<float>();
    float top = 0.0f;
    for (int k = 0; k < kGrid; ++k) g[static_cast<std::size_t>(k)] = top = std::max(top, g[static_cast<std::size_t>(k)]);
    g[kGrid] = snap(g[kGrid], 0.75f, 1.5f);
    g[kGrid + 1] = snap(g[kGrid + 1], 0.25f, 0.5f);
    g[kGrid + 2] = snap(g[kGrid + 2], 0.0f, 1.0f);
  }
  return gen;
}

// Time at which a tool vector's VB reaches 0.4 mm (NaN if it never does on the grid).
double crossing_time(const std::vector<float>& v) {
  for (int k = 1; k < kGrid; ++k)
    if (v[static_cast<std::size_t>(k)] >= kFailure && v[static_cast<std::size_t>(k - 1)] < kFailure)
      return (k - 1) * kGridStep + (kFailure - v[static_cast<std::size_t>(k - 1)]) /
                                       (v[static_cast<std::size_t>(k)] - v[static_cast<std::size_t>(k - 1)]) * kGridStep;
  return std::nan("");
}

// Training rows from tool vectors, read every kGridStep (as the grid).
Set rows_of(const std::vector<std::vector<float>>& tools, const ToolWear& model, const std::vector<double>& theta) {
  Set set;
  for (const auto& g : tools) {
    std::vector<double> t, vb;
    for (int k = 0; k < kGrid; ++k) {
      t.push_back(k * kGridStep);
      vb.push_back(g[static_cast<std::size_t>(k)]);
    }
    add_tool(set, t, vb, g[kGrid], g[kGrid + 1], g[kGrid + 2] > 0.5f, model, theta);
  }
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: tstr_milling milling_labels_with_tool_class.csv SCENARIO_DIR\n";
    return 2;
  }
  const auto cases = anchor::read_milling_labels(argv[1]);
  const auto calibration = anchor::calibrate_milling(cases);  // cases 1-8 only
  const auto& theta = calibration.fit.estimate;
  const ToolWear model;

  Set real_train, real_test, synthetic;
  std::vector<std::vector<float>> real_tools, test_tools, physynth_tools;
  for (const auto& c : cases) {
    std::vector<double> t = c.times, vb = c.wear;
    if (t.empty() || t.front() > 0.0) {  // a new tool starts at VB = 0
      t.insert(t.begin(), 0.0);
      vb.insert(vb.begin(), 0.0);
    }
    add_tool(c.case_number <= 8 ? real_train : real_test, t, vb, c.depth_of_cut, c.feed, c.material == 2, model, theta);
    if (t.size() >= 2) (c.case_number <= 8 ? real_tools : test_tools).push_back(
        tool_vector(t, vb, c.depth_of_cut, c.feed, c.material == 2));
  }

  // Synthetic tools from the calibrated model, with the scenario's unit-to-unit variation and a noisy microscope.
  char buffer[256];
  std::vector<std::string> overrides = {"sampling.samples=3000", "output.shard_size=500", "time.end=200",
                                        "events[0].threshold=0.45", "labels[1].clip=1e9"};
  std::snprintf(buffer, sizeof buffer, "parameters.wear_rate.values=[%.6g, %.6g]", theta[0], theta[1]);
  overrides.push_back(buffer);
  const char* keys[] = {"feed_exponent", "depth_exponent", "breakin_gain", "breakin_scale", "force_doubling_wear"};
  for (int j = 0; j < 5; ++j) {
    std::snprintf(buffer, sizeof buffer, "model.%s=%.6g", keys[j], theta[static_cast<std::size_t>(j + 2)]);
    overrides.push_back(buffer);
  }
  overrides.push_back("parameters.breakin_gain.mu=" + std::to_string(std::log(theta[4])));
  core::Diagnostics d;
  auto scenario = engine::load_scenario(std::string(argv[2]) + "/milling_campaign.yaml", overrides, d);
  if (!scenario) {
    std::cerr << d.report();
    return 2;
  }
  engine::ShardGenerator generator(*scenario);
  for (std::uint64_t k = 0; k < generator.num_shards(); ++k) {
    const auto shard = generator.shard(k);
    const engine::ObservationBlock* reading = &shard.observation("wear_reading");
    auto param = [&](std::size_t i, const char* name) {
      const auto j =
          std::find(shard.parameter_names.begin(), shard.parameter_names.end(), name) - shard.parameter_names.begin();
      return shard.parameters[i * shard.num_parameters() + static_cast<std::size_t>(j)];
    };
    const std::size_t R = reading->times.size();
    for (std::size_t i = 0; i < shard.samples; ++i) {
      std::vector<double> t, vb;
      for (std::size_t j = 0; j < R && reading->times[j] <= shard.t_reached[i]; ++j)
        if (!std::isnan(reading->values[i * R + j])) {
          t.push_back(reading->times[j]);
          vb.push_back(reading->values[i * R + j]);
        }
      add_tool(synthetic, t, vb, param(i, "depth_of_cut"), param(i, "feed"), param(i, "wear_rate") > 0.01, model,
               theta);
      if (t.size() >= 2)
        physynth_tools.push_back(
            tool_vector(t, vb, param(i, "depth_of_cut"), param(i, "feed"), param(i, "wear_rate") > 0.01));
    }
  }

  auto mean_of = [](const std::vector<float>& v) {
    double s = 0.0;
    for (float x : v) s += x;
    return static_cast<float>(s / static_cast<double>(v.size()));
  };
  // Three seeds each. The real-trained network gets its best epoch count chosen on the test cases
  // themselves: an optimistic figure for it, so the comparison does not favour synthetic data.
  std::string tstr_runs, trtr_runs;
  double tstr_sum = 0.0, trtr_sum = 0.0;
  for (int seed : {42, 43, 44}) {
    const double a = rmse(fit_and_predict(synthetic, real_test, 30, seed), real_test.y);
    double best = 1e30;
    int best_epochs = 0;
    for (int epochs : {30, 100, 300, 1000, 3000}) {
      const double b = rmse(fit_and_predict(real_train, real_test, epochs, seed), real_test.y);
      if (b < best) best = b, best_epochs = epochs;
    }
    std::snprintf(buffer, sizeof buffer, "%s%.2f", tstr_runs.empty() ? "" : ", ", a);
    tstr_runs += buffer;
    std::snprintf(buffer, sizeof buffer, "%s%.2f (%d epochs)", trtr_runs.empty() ? "" : ", ", best, best_epochs);
    trtr_runs += buffer;
    tstr_sum += a;
    trtr_sum += best;
  }
  std::printf("rows: synthetic %zu (from %llu tools), real cases 1-8 %zu, real cases 9-16 %zu (test)\n\n",
              synthetic.y.size(), static_cast<unsigned long long>(scenario->samples), real_train.y.size(),
              real_test.y.size());
  std::printf(
      "| predictor of the time to VB = 0.4 mm | RMSE on real cases 9-16 (time units), mean of 3 seeds | per seed "
      "|\n|---|---|---|\n");
  std::printf("| MLP trained on physynth data only (train synthetic, test real) | %.2f | %s |\n", tstr_sum / 3,
              tstr_runs.c_str());
  std::printf(
      "| MLP trained on real cases 1-8, best of 30/100/300/1000/3000 epochs on the test set (optimistic) | %.2f | %s "
      "|\n",
      trtr_sum / 3, trtr_runs.c_str());
  std::printf("| mean RUL of real cases 1-8 | %.2f | |\n",
              rmse(std::vector<float>(real_test.y.size(), mean_of(real_train.y)), real_test.y));
  std::printf("| the calibrated wear law itself (no learning) | %.2f | |\n", rmse(real_test.physics, real_test.y));

  // Hybrid mixes (issue 29, item 3): real cases 1-8 plus synthetic rows at several ratios to the
  // real rows, tested on real cases 9-16. Every mix gets about the same number of optimiser steps
  // (epochs = ceil(1000 / batches per epoch)), fixed in advance: no choice on the test cases.
  std::printf("\n| synthetic rows per real row | training rows | RMSE on real cases 9-16, mean of 3 seeds | per seed |\n"
              "|---|---|---|---|\n");
  for (const double ratio : {0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0}) {
    double sum = 0.0;
    std::string runs;
    std::size_t rows = 0;
    for (int seed : {42, 43, 44}) {
      Set mix = real_train;
      const auto take = std::min(synthetic.y.size(),
                                 static_cast<std::size_t>(ratio * static_cast<double>(real_train.y.size()) + 0.5));
      torch::manual_seed(static_cast<uint64_t>(seed) + 1000);
      const auto order = torch::randperm(static_cast<int64_t>(synthetic.y.size()), torch::kLong);
      for (std::size_t k = 0; k < take; ++k) {
        const auto i = static_cast<std::size_t>(order[static_cast<int64_t>(k)].item<int64_t>());
        mix.x.push_back(synthetic.x[i]);
        mix.y.push_back(synthetic.y[i]);
      }
      rows = mix.y.size();
      const int batches = static_cast<int>((rows + 255) / 256);
      const double r = rmse(fit_and_predict(mix, real_test, (1000 + batches - 1) / batches, seed), real_test.y);
      sum += r;
      std::snprintf(buffer, sizeof buffer, "%s%.2f", runs.empty() ? "" : ", ", r);
      runs += buffer;
    }
    std::printf("| %g | %zu | %.2f | %s |\n", ratio, rows, sum / 3, runs.c_str());
  }

  // The data-driven baseline (issue 29, item 3): a VAE trained on the same real tools (cases 1-8)
  // generates 3000 tools; against physynth's 3000 on fidelity (KS distance of the time to
  // VB = 0.4 mm against the held-out real tools 9-16) and TSTR (the same network, 30 epochs).
  // Collapse: each generation's VAE is trained on as many tools as there are real ones, drawn
  // from the previous generation's (replace), or on the real tools and every draw so far (accumulate).
  std::vector<double> real_cross;
  for (const auto& g : test_tools)
    if (const double c = crossing_time(g); std::isfinite(c)) real_cross.push_back(c);
  auto crossings = [](const std::vector<std::vector<float>>& tools) {
    std::vector<double> c;
    for (const auto& g : tools)
      if (const double x = crossing_time(g); std::isfinite(x)) c.push_back(x);
    return c;
  };
  std::printf("\n%zu real tools for the VAE (cases 1-8 with two readings or more), %zu held out (9-16)\n\n",
              real_tools.size(), test_tools.size());
  std::printf("| generator | generation | tools reaching 0.4 mm | KS distance of the time to 0.4 mm to real 9-16 | TSTR RMSE on real 9-16 (mean of 3 seeds) |\n"
              "|---|---|---|---|---|\n");
  {
    const auto c = crossings(physynth_tools);
    double tstr = 0.0;
    for (int seed : {42, 43, 44}) tstr += rmse(fit_and_predict(synthetic, real_test, 30, seed), real_test.y) / 3.0;
    std::printf("| physynth (calibrated on 1-8) | 0 | %zu of %zu | %.2f | %.2f |\n", c.size(), physynth_tools.size(),
                anchor::ks_statistic(c, real_cross), tstr);
  }
  // Generation 0 is the VAE on the real tools; later generations train on tools drawn from the
  // previous one alone (replace) or on the real tools plus every earlier generation's draws
  // (accumulate), as many drawn tools per generation as there are real ones.
  auto report = [&](const char* name, int generation, const std::vector<std::vector<float>>& tools) {
    const auto c = crossings(tools);
    const Set rows = rows_of(tools, model, theta);
    double tstr = std::nan("");
    if (rows.y.size() >= 10) {
      tstr = 0.0;
      for (int seed : {42, 43, 44}) tstr += rmse(fit_and_predict(rows, real_test, 30, seed), real_test.y) / 3.0;
    }
    std::printf("| %s | %d | %zu of %zu | %.2f | %.2f |\n", name, generation, c.size(), tools.size(),
                c.empty() ? 1.0 : anchor::ks_statistic(c, real_cross), tstr);
  };
  const auto first = vae_generate(real_tools, 3000, 7);
  report("VAE on the real tools", 0, first);
  const auto draw = [&](const std::vector<std::vector<float>>& tools) {
    return std::vector<std::vector<float>>(tools.begin(), tools.begin() + static_cast<std::ptrdiff_t>(real_tools.size()));
  };
  std::vector<std::vector<float>> replace = draw(first), accumulate = real_tools;
  for (const auto& t : draw(first)) accumulate.push_back(t);
  for (int generation = 1; generation < 4; ++generation) {
    const auto r = vae_generate(replace, 3000, 7 + generation);
    report("VAE, replace", generation, r);
    replace = draw(r);
    const auto a = vae_generate(accumulate, 3000, 7 + generation);
    report("VAE, accumulate", generation, a);
    for (const auto& t : draw(a)) accumulate.push_back(t);
  }
  return 0;
}
