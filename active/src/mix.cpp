#include "physynth/active/mix.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "model.h"
#include "rows.h"
#include "physynth/core/sampling.h"
#include "physynth/core/text.h"
#include "physynth/engine/modules.h"

namespace physynth::active {

namespace {
// Keys of the synthetic pool, apart from the loop's and from any run's sample indices.
constexpr std::uint64_t kMixKeys = std::uint64_t{1} << 44;
constexpr std::size_t kBatch = 256;
constexpr std::uint64_t kMaxSamples = 1000000;
}  // namespace

MixResult run_mix(const engine::Scenario& s, const MixOptions& o,
                  const std::function<void(const std::string&)>& progress) {
  if (!o.train || !o.test) throw std::invalid_argument("a mix needs real training units and real test units");
  if (o.ratios.empty()) throw std::invalid_argument("--ratios: give at least one ratio");
  for (double r : o.ratios)
    if (!(r >= 0.0) || !std::isfinite(r))
      throw std::invalid_argument("--ratios: " + core::format_number(r) + " is not a ratio >= 0");
  if (s.field.present)
    throw std::invalid_argument("a field's plots are fixed by the field; the mix draws its own samples");
  if (o.model_command.empty()) engine::pinn_runtime();  // LibTorch refused here, before any simulation
  detail::Simulator sim(s, o.target, o.covariates, o.threads);
  const std::size_t d = sim.dimension();
  std::vector<core::Distribution> dists;
  for (const auto& p : s.parameters) dists.push_back(p.distribution);
  const core::Sampler prior(core::Design::kRandom, dists, s.seed, kMaxSamples);

  // The synthetic pool: prior draws, in sample order, until it holds the largest ratio's rows.
  std::vector<double> pool_x, pool_y;
  MixResult result;
  auto simulate = [&](std::size_t n) {
    std::vector<double> u(n * d);
    prior.unit_points(result.samples, n, u.data());
    std::vector<std::uint64_t> keys(n);
    std::iota(keys.begin(), keys.end(), kMixKeys + result.samples);
    result.samples += n;
    const auto rows = sim(u, keys);
    const std::size_t f = sim.features();
    for (std::size_t i = 0; i < rows.y.size(); ++i)
      if (std::isfinite(rows.y[i])) {
        pool_x.insert(pool_x.end(), rows.x.begin() + static_cast<std::ptrdiff_t>(i * f),
                      rows.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * f));
        pool_y.push_back(rows.y[i]);
      }
  };
  simulate(kBatch);  // also tells the simulator the channels' reading times
  const auto train = sim.real(*o.train, &result.train);
  const auto test = sim.real(*o.test, &result.test);
  const std::size_t f = sim.features(), n_real = train.y.size();
  const double top = *std::max_element(o.ratios.begin(), o.ratios.end());
  const auto wanted = static_cast<std::size_t>(std::ceil(std::max(top, 1.0) * static_cast<double>(n_real)));
  while (pool_y.size() < wanted && result.samples < kMaxSamples) {
    if (result.samples >= 4 * kBatch && pool_y.empty())
      throw std::invalid_argument("no synthetic sample of the scenario has a value of '" + o.target + "' in " +
                                  std::to_string(result.samples) + " draws (every one failed or is censored)");
    simulate(kBatch);
  }
  if (progress)
    progress(std::to_string(n_real) + " real training rows, " + std::to_string(test.y.size()) + " real test rows, " +
             std::to_string(pool_y.size()) + " synthetic rows from " + std::to_string(result.samples) + " samples");

  auto score = [&](double ratio, std::size_t real_rows, std::size_t synthetic_rows) {
    std::vector<double> x(train.x.begin(), train.x.begin() + static_cast<std::ptrdiff_t>(real_rows * f));
    std::vector<double> y(train.y.begin(), train.y.begin() + static_cast<std::ptrdiff_t>(real_rows));
    x.insert(x.end(), pool_x.begin(), pool_x.begin() + static_cast<std::ptrdiff_t>(synthetic_rows * f));
    y.insert(y.end(), pool_y.begin(), pool_y.begin() + static_cast<std::ptrdiff_t>(synthetic_rows));
    pinn::RegressorOptions model = o.model;
    model.seed = s.seed;  // the same initial networks at every ratio
    model.threads = 1;
    const auto p = detail::fit_predict(model, o.model_command, x, y, f, test.x, 0);
    MixPoint point{ratio, real_rows, synthetic_rows, detail::error_summary(p.mean.data(), p.sd.data(), test.y)};
    if (progress)
      progress((std::isfinite(ratio) ? "ratio " + core::format_number(ratio) : std::string("synthetic alone")) + ": " +
               std::to_string(real_rows) + " real + " + std::to_string(synthetic_rows) +
               " synthetic rows, real test RMSE " + core::format_significant(point.error.rmse));
    result.points.push_back(point);
  };
  for (double r : o.ratios)
    score(r, n_real, std::min(pool_y.size(), static_cast<std::size_t>(std::llround(r * static_cast<double>(n_real)))));
  score(std::numeric_limits<double>::infinity(), 0, std::min(pool_y.size(), wanted));
  return result;
}

}  // namespace physynth::active
