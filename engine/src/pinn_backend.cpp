#include "pinn_backend.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "physynth/core/random.h"
#include "physynth/engine/pinn_problem.h"

namespace physynth::engine {

namespace {

// The range a parameter's distribution covers (pinn_problem.h).
std::pair<double, double> covered(const core::Distribution& d) {
  using K = core::Distribution::Kind;
  switch (d.kind) {
    case K::kFixed:
      return {d.value, d.value};
    case K::kUniform:
    case K::kLogUniform:
    case K::kTruncatedNormal:
      return {d.low, d.high};
    case K::kChoice:
      return {*std::min_element(d.choices.begin(), d.choices.end()),
              *std::max_element(d.choices.begin(), d.choices.end())};
    case K::kNormal:
    case K::kLogNormal:
      return {d.quantile(0.0005), d.quantile(0.9995)};
  }
  return {d.value, d.value};
}

}  // namespace

pinn::Problem pinn_problem(const Scenario& s) {
  pinn::Problem pb;
  pb.model = s.model.model;
  for (const auto& p : s.parameters) {
    auto [low, high] = covered(p.distribution);
    const auto on_field = std::find_if(s.field.parameters.begin(), s.field.parameters.end(),
                                       [&](const FieldParameterSpec& f) { return f.name == p.name; });
    if (on_field != s.field.parameters.end()) {
      low = std::max(on_field->low, on_field->options.mean - 4.0 * on_field->options.sd);
      high = std::min(on_field->high, on_field->options.mean + 4.0 * on_field->options.sd);
    }
    pb.parameters.push_back(pinn::make_range(p.name, low, high));
  }
  pb.times = s.times;
  pb.time = s.pinn.time;
  pb.solver = s.solver;
  pb.scenario = s.name;
  pb.scenario_sha256 = s.source_sha256;
  return pb;
}

std::vector<std::uint64_t> pinn_verified_samples(const Scenario& s) {
  // Floyd's algorithm: K distinct samples of N, uniformly, in O(K).
  const std::uint64_t N = s.samples, K = std::min<std::uint64_t>(s.pinn.verify, s.samples);
  core::CounterRng rng(s.seed, 0, core::stream::kPinnVerify);
  std::set<std::uint64_t> chosen;
  for (std::uint64_t j = N - K; j < N; ++j) {
    const auto t = std::min<std::uint64_t>(j, static_cast<std::uint64_t>(rng.uniform() * static_cast<double>(j + 1)));
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  return {chosen.begin(), chosen.end()};
}

#ifdef PHYSYNTH_HAVE_PINN

bool pinn_available() { return true; }

void check_pinn_backend(const core::ConfigNode& root, Scenario& s) {
  const core::Model& model = *s.model.model;
  const core::ConfigNode backend = root["backend"];
  const std::string why = pinn::tensor_support(model);
  if (!why.empty()) {
    backend.error("backend: pinn: " + why);
    return;
  }
  if (root.has("events"))
    root["events"].error(
        "events: backend pinn has no root finding; events need backend: cvode (the network's trajectories are "
        "written on the time grid only)");
  if (root.has("regimes"))
    root["regimes"].error(
        "regimes: backend pinn learns one parameter vector per trajectory; regimes need backend: cvode");
  if (!s.solver.sensitivity_parameters.empty())
    root["solver"]["sensitivities"].error(
        "solver.sensitivities: backend pinn writes no forward sensitivities; they need backend: cvode");
  if (!root.has("pinn") || !root["pinn"].has("model")) {
    backend.error("backend: pinn needs pinn.model, the network trained for this scenario (physynth train-pinn " +
                  s.file + " -o MODEL.pt)");
    return;
  }
  const core::ConfigNode where = root["pinn"]["model"];
  if (!std::filesystem::exists(s.pinn.model)) {
    where.error("pinn.model: file '" + s.pinn.model + "' does not exist; train it with: physynth train-pinn " + s.file +
                " -o " + s.pinn.model);
    return;
  }
  try {
    auto net = std::make_shared<pinn::Pinn>(pinn::Pinn::load(s.pinn.model, s.model.model, s.pinn.device));
    // The network covers the time grid and, ideally, every draw.
    if (!s.times.empty() && (s.times.front() < net->t0() || s.times.back() > net->t1()))
      root["time"].error("time: the grid [" + core::format_number(s.times.front()) + ", " +
                         core::format_number(s.times.back()) + "] is outside the span the network '" + s.pinn.model +
                         "' was trained on [" + core::format_number(net->t0()) + ", " + core::format_number(net->t1()) +
                         "]");
    const pinn::Problem wanted = pinn_problem(s);
    for (std::size_t k = 0; k < wanted.parameters.size(); ++k) {
      const auto& w = wanted.parameters[k];
      const auto& r = net->ranges()[k];
      if (w.low < r.low || w.high > r.high) {
        const std::string name = s.parameters[k].name;
        const std::string text = "parameter " + name + " (" + s.parameters[k].distribution.describe() +
                                 ") reaches outside the range the network '" + s.pinn.model + "' covers [" +
                                 core::format_number(r.low) + ", " + core::format_number(r.high) +
                                 "]; samples outside it are refused (recorded as failed), not extrapolated";
        if (root["parameters"].has(name))
          root["parameters"][name].warning(text);
        else
          backend.warning(text);
      }
    }
    s.pinn.network_loaded = std::move(net);
  } catch (const std::exception& e) {
    where.error(std::string("pinn.model: ") + e.what());
  }
}

PinnShard evaluate_pinn(const Scenario& s, const std::vector<double>& times, const double* parameters,
                        std::size_t count) {
  const pinn::Pinn& net = *s.pinn.network_loaded;
  const std::size_t n = s.model.model->num_states(), m = s.model.model->num_parameters(), T = times.size();
  PinnShard out;
  out.states.assign(count * T * n, std::numeric_limits<double>::quiet_NaN());
  out.residual.assign(count, std::numeric_limits<double>::quiet_NaN());
  out.refused.resize(count);
  // Only samples inside the trained box go through the network.
  std::vector<std::size_t> inside;
  std::vector<double> p;
  for (std::size_t i = 0; i < count; ++i) {
    out.refused[i] = net.check_parameters(parameters + i * m);
    if (!out.refused[i].empty()) continue;
    inside.push_back(i);
    p.insert(p.end(), parameters + i * m, parameters + (i + 1) * m);
  }
  std::vector<double> states(inside.size() * T * n), residual(inside.size());
  net.predict(p.data(), inside.size(), times, states.data());
  net.residual(p.data(), inside.size(), s.pinn.residual_points, residual.data());
  for (std::size_t k = 0; k < inside.size(); ++k) {
    std::copy(&states[k * T * n], &states[(k + 1) * T * n], &out.states[inside[k] * T * n]);
    out.residual[inside[k]] = residual[k];
  }
  return out;
}

#else

bool pinn_available() { return false; }

void check_pinn_backend(const core::ConfigNode& root, Scenario&) {
  root["backend"].error(
      "backend: pinn needs LibTorch, and this physynth was built without it (PHYSYNTH_WITH_TORCH=OFF)");
}

PinnShard evaluate_pinn(const Scenario&, const std::vector<double>&, const double*, std::size_t) {
  throw std::logic_error("backend pinn in a build without LibTorch");
}

#endif

}  // namespace physynth::engine
