#include "multistart.h"

#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>

#include "physynth/core/sampling.h"
#include "unit_cost.h"

namespace physynth::anchor::detail {

namespace {

StartDesign start_design(const std::vector<BoxParameter>& box, const ResidualFitOptions& opt) {
  const std::size_t D = box.size(), starts = static_cast<std::size_t>(opt.starts);
  StartDesign out;
  out.lower.resize(D), out.upper.resize(D);
  std::vector<core::Distribution> unit_box;
  for (std::size_t i = 0; i < D; ++i) {
    out.lower[i] = to_fit(box[i].lower, box[i].log);
    out.upper[i] = to_fit(box[i].upper, box[i].log);
    unit_box.push_back(core::Distribution::uniform(out.lower[i], out.upper[i]));
  }
  out.points.assign(starts, std::vector<double>(D));
  const std::size_t first_sobol = opt.first_at_start ? 1 : 0;
  if (opt.first_at_start)
    for (std::size_t i = 0; i < D; ++i) out.points[0][i] = to_fit(box[i].start, box[i].log);
  if (starts > first_sobol) {
    const core::Sampler sobol(core::Design::kSobol, unit_box, opt.seed, starts - first_sobol);
    std::vector<double> pts((starts - first_sobol) * D);
    sobol.sample(0, starts - first_sobol, pts.data());
    for (std::size_t s = first_sobol; s < starts; ++s)
      std::copy(&pts[(s - first_sobol) * D], &pts[(s - first_sobol + 1) * D], out.points[s].begin());
  }
  return out;
}

std::vector<bool> on_bounds(const std::vector<double>& x, const StartDesign& design) {
  std::vector<bool> out;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double tol = 1e-6 * (design.upper[i] - design.lower[i]);
    out.push_back(x[i] <= design.lower[i] + tol || x[i] >= design.upper[i] - tol);
  }
  return out;
}

}  // namespace

bool begin_fit(ResidualFitResult& R, const std::vector<BoxParameter>& box, const ResidualFitOptions& options,
               StartDesign& design) {
  if (const auto problems = options.validate(box); !problems.empty()) {
    R.message = problems.front();
    return false;
  }
  R.starts.resize(static_cast<std::size_t>(options.starts));
  design = start_design(box, options);
  return true;
}

void for_each_start(std::size_t starts, int threads, const std::function<void(std::size_t)>& one) {
  // No more threads than TBB may use (more would not run at once; TBB warns at each request).
  tbb::task_arena arena(threads > 0 ? std::min(threads, tbb::info::default_concurrency()) : tbb::task_arena::automatic);
  arena.execute([&] { tbb::parallel_for(std::size_t{0}, starts, one, tbb::simple_partitioner()); });
}

bool pick_best(ResidualFitResult& R, const std::vector<std::vector<double>>& optima, const StartDesign& design,
               std::chrono::steady_clock::time_point began) {
  R.best_start = -1;
  for (std::size_t s = 0; s < R.starts.size(); ++s)
    if (R.starts[s].usable &&
        (R.best_start < 0 || R.starts[s].cost < R.starts[static_cast<std::size_t>(R.best_start)].cost))
      R.best_start = static_cast<int>(s);
  R.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  if (R.best_start < 0) {
    R.message = "no start reached a usable optimum; first start: " + R.starts[0].message;
    return false;
  }
  const auto b = static_cast<std::size_t>(R.best_start);
  R.best = R.starts[b].optimum;
  R.best_cost = R.starts[b].cost;
  R.at_bound = on_bounds(optima[b], design);
  return true;
}

}  // namespace physynth::anchor::detail
