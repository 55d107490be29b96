// The cost of a PEtab likelihood evaluation and of its gradient, per problem:
//   petab_bench PROBLEM.yaml...
// For each problem at its nominal parameters (rtol 1e-8, atol 1e-12, one thread): the time of
// one evaluation, of one evaluation with exact gradients (forward sensitivities), of the
// log-likelihood's gradient by adjoint sensitivities (where the problem allows them: "-" where
// not), and of the central differences --calibrate used before exact gradients (2 evaluations
// per estimated parameter, the same count as two-sided differences need), each the median of
// repeated runs (at least 5, at least 0.5 s), and how far the adjoint gradient is from the
// forward one (2-norm, relative). Prints a Markdown table.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <vector>

#include "physynth/domains/kinetics/petab.h"

using namespace physynth;

namespace {
template <class F>
double median_seconds(F&& f) {
  std::vector<double> times;
  double total = 0.0;
  while (times.size() < 5 || total < 0.5) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    times.push_back(s);
    total += s;
    if (times.size() >= 200) break;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: petab_bench PROBLEM.yaml...\n";
    return 2;
  }
  std::printf(
      "| problem | states | estimated | measurements | evaluation | with exact gradient | adjoint gradient | adjoint "
      "against forward | central differences (2 x estimated evaluations) | gradient speed-up (best exact) |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int a = 1; a < argc; ++a) {
    core::Diagnostics d;
    auto problem = domains::kinetics::PetabProblem::read(argv[a], d);
    if (!problem) {
      std::cerr << d.report("skipped");
      continue;
    }
    solvers::OdeOptions o;
    o.rtol = 1e-8, o.atol = 1e-12, o.max_steps = 1000000;
    const auto v = problem->nominal_values();
    std::size_t estimated = 0;
    for (const auto& p : problem->parameters()) estimated += p.estimate;
    bool ok = true;
    const double plain = median_seconds([&] { ok = ok && !problem->evaluate(v, o).failed; });
    const double exact = median_seconds([&] { ok = ok && problem->evaluate(v, o, true).has_gradient; });
    const double differences = 2.0 * static_cast<double>(estimated) * plain;
    using domains::kinetics::GradientMethod;
    std::string adjoint_time = "-", adjoint_error = "-";
    double best = exact;
    if (problem->adjoint_refusal(v, o).empty()) {
      const auto forward = problem->log_likelihood_gradient(v, o, GradientMethod::kForward);
      const auto adjoint = problem->log_likelihood_gradient(v, o, GradientMethod::kAdjoint);
      ok = ok && !forward.failed && !adjoint.failed;
      double dn = 0.0, nn = 0.0;
      for (std::size_t q = 0; q < v.size(); ++q) {
        const double e = adjoint.gradient[q] - forward.gradient[q];
        dn += e * e, nn += forward.gradient[q] * forward.gradient[q];
      }
      const double t =
          median_seconds([&] { ok = ok && !problem->log_likelihood_gradient(v, o, GradientMethod::kAdjoint).failed; });
      best = std::min(best, t);
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.2f ms", 1e3 * t);
      adjoint_time = buffer;
      std::snprintf(buffer, sizeof buffer, "%.1e", std::sqrt(dn / nn));
      adjoint_error = buffer;
    }
    std::string name = argv[a];
    name = name.substr(name.find_last_of('/') + 1);
    std::printf("| %s%s | %zu | %zu | %zu | %.2f ms | %.2f ms | %s | %s | %.2f ms | %.1fx |\n", name.c_str(),
                ok ? "" : " (failed)", problem->model().num_states(), estimated, problem->measurements().size(),
                1e3 * plain, 1e3 * exact, adjoint_time.c_str(), adjoint_error.c_str(), 1e3 * differences,
                differences / best);
  }
  return 0;
}
