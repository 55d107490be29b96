#include "pinn_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "journal.h"
#include "physynth/core/random.h"
#include "physynth/engine/modules.h"
#include "physynth/engine/pinn_problem.h"
#include "physynth/pinn/runtime.h"
#include "sha256.h"

namespace physynth::engine {

namespace {}  // namespace

pinn::Problem pinn_problem(const Scenario& s) {
  pinn::Problem pb;
  pb.model = s.model.model;
  for (const auto& p : s.parameters) {
    auto [low, high] = p.distribution.covered();
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

namespace {
double quantile_of(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(std::floor(q * static_cast<double>(v.size() - 1) + 0.5))];
}
nlohmann::ordered_json number_or_null(double x) {
  return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr);
}
}  // namespace

PinnAudit::PinnAudit(const Scenario& s) : s_(s) {}

void PinnAudit::add(std::uint64_t sample, const std::string& refused, double residual, bool resolved,
                    const std::vector<double>& error) {
  if (!refused.empty()) ++refused_;
  sample_.push_back(sample);
  residual_.push_back(residual);
  resolved_.push_back(resolved ? 1 : 0);
  error_.push_back(error);
}

nlohmann::ordered_json PinnAudit::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = s_.pinn.model;
  j["model_sha256"] = sha256_file(s_.pinn.model);
  j["layers"] = {{"precision", s_.pinn.precision_used}, {"why", s_.pinn.precision_reason}};
  j["residual"] = {{"definition",
                    "RMS over residual_points times of the residual the network was trained on (its sidecar's "
                    "network.residual): (du/dt^ - f dt/dt^) / s per state (quasi-steady rows replaced by their "
                    "manifold; relative: each row divided by 1 + |f dt/dt^| / s) and max(-u, 0) / s per "
                    "non-negative state (times (dt/dt^) / tau with a characteristic time); s the network's output "
                    "scale, each draw's own with network.sample_scale"},
                   {"points", s_.pinn.residual_points},
                   {"median", number_or_null(quantile_of(residual_, 0.5))},
                   {"p95", number_or_null(quantile_of(residual_, 0.95))},
                   {"max", number_or_null(quantile_of(residual_, 1.0))}};
  nlohmann::ordered_json resolved = nlohmann::ordered_json::array();
  for (std::size_t k = 0; k < sample_.size(); ++k)
    if (resolved_[k]) resolved.push_back(sample_[k]);
  j["gate"] = {{"threshold", s_.pinn.gate_residual > 0 ? nlohmann::ordered_json(s_.pinn.gate_residual)
                                                       : nlohmann::ordered_json(nullptr)},
               {"resolved_with_solver", resolved.size()},
               {"solver", s_.solver_choice},
               {"samples", resolved}};
  j["refused_out_of_range"] = refused_;
  // Verified samples: relative L2 error of each state against the scenario's integrator.
  const auto& states = s_.model.model->states();
  nlohmann::ordered_json per_state = nlohmann::ordered_json::object();
  std::size_t verified = 0;
  double worst = 0.0;
  std::int64_t worst_sample = -1;
  for (const auto& e : error_) verified += e.empty() ? 0 : 1;
  for (std::size_t i = 0; i < states.size(); ++i) {
    std::vector<double> v;
    for (std::size_t k = 0; k < error_.size(); ++k)
      if (!error_[k].empty()) {
        v.push_back(error_[k][i]);
        if (error_[k][i] > worst) {
          worst = error_[k][i];
          worst_sample = static_cast<std::int64_t>(sample_[k]);
        }
      }
    per_state[states[i].name] = {{"median", number_or_null(quantile_of(v, 0.5))},
                                 {"max", number_or_null(quantile_of(v, 1.0))}};
  }
  j["verified"] = {{"samples", verified},
                   {"definition",
                    "||u_i - y_i||_2 / ||y_i||_2 over the output grid, y from the scenario's "
                    "integrator (gate.solver)"},
                   {"relative_l2_error", per_state},
                   {"worst", number_or_null(worst_sample >= 0 ? worst : std::numeric_limits<double>::quiet_NaN())},
                   {"worst_sample", worst_sample}};
  j["per_sample"] = "pinn_audit.csv";
  return j;
}

nlohmann::json PinnAudit::state() const {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : error_) errors.push_back(exact_doubles(e));
  return {{"sample", sample_},
          {"residual", exact_doubles(residual_)},
          {"resolved", std::vector<int>(resolved_.begin(), resolved_.end())},
          {"error", errors},
          {"refused", refused_}};
}

void PinnAudit::merge(const nlohmann::json& j) {
  const auto samples = j.at("sample").get<std::vector<std::uint64_t>>();
  const auto residual = read_exact_doubles(j.at("residual"));
  const auto resolved = j.at("resolved").get<std::vector<int>>();
  const auto& errors = j.at("error");
  if (residual.size() != samples.size() || resolved.size() != samples.size() || errors.size() != samples.size())
    throw std::runtime_error("a shard's PINN audit record is inconsistent");
  for (std::size_t k = 0; k < samples.size(); ++k) {
    sample_.push_back(samples[k]);
    residual_.push_back(residual[k]);
    resolved_.push_back(resolved[k] ? 1 : 0);
    error_.push_back(read_exact_doubles(errors[k]));
  }
  refused_ += j.at("refused").get<std::uint64_t>();
}

std::string PinnAudit::csv() const {
  std::string out = "sample,residual,resolved_with_solver";
  for (const auto& v : s_.model.model->states()) out += ",error_" + v.name;
  out += "\n";
  for (std::size_t k = 0; k < sample_.size(); ++k) {
    out += std::to_string(sample_[k]) + "," + (std::isnan(residual_[k]) ? "" : core::format_number(residual_[k])) +
           "," + (resolved_[k] ? "1" : "0");
    for (std::size_t i = 0; i < s_.model.model->num_states(); ++i)
      out += "," + (error_[k].empty() ? std::string() : core::format_number(error_[k][i]));
    out += "\n";
  }
  return out;
}

void check_pinn_backend(const core::ConfigNode& root, Scenario& s, bool untrained_is_note) {
  const core::Model& model = *s.model.model;
  const core::ConfigNode backend = root["backend"];
  const pinn::Runtime* runtime = nullptr;
  try {
    runtime = &pinn_runtime();
  } catch (const std::exception& e) {
    backend.error(std::string("backend: pinn: ") + e.what());
    return;
  }
  const std::string why = runtime->tensor_support(model);
  if (!why.empty()) {
    backend.error("backend: pinn: " + why);
    return;
  }
  if (root.has("events") && root["events"].size() > 0)
    root["events"].error(
        "events: backend pinn has no root finding; events need backend: cvode (the network's trajectories are "
        "written on the time grid only)");
  if (root.has("regimes") && root["regimes"].size() > 0)
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
  if (!std::filesystem::exists(s.pinn.model) && untrained_is_note) {
    where.warning("pinn.model: the network '" + s.pinn.model + "' is not trained yet; `physynth run` needs it: " +
                  "physynth train-pinn " + s.file + " -o " + s.pinn.model);
    return;
  }
  if (!std::filesystem::exists(s.pinn.model)) {
    where.error("pinn.model: file '" + s.pinn.model + "' does not exist; train it with: physynth train-pinn " + s.file +
                " -o " + s.pinn.model);
    return;
  }
  try {
    std::unique_ptr<pinn::Network> loaded = runtime->load(s.pinn.model, s.model.model, s.pinn.train.device, 0);
    choose_precision(s, *loaded);
    std::shared_ptr<const pinn::Network> net = std::move(loaded);
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

// pinn.precision: whether the network's layers run in float32. Float32 layers moved the
// Michaelis-Menten network's states by 3.4e-7 of their largest value and its residuals by
// 3.6e-4 of themselves (2026-12-05), against a median test error of 8.8e-4: `auto` takes them
// where the sidecar's median test error is at least kFloat32LayersBelow, so that what they
// change is at most about a thirtieth of what the network already gets wrong. Without a test error in
// the sidecar (test_samples: 0) there is nothing to compare with: float64.
void choose_precision(Scenario& s, pinn::Network& net) {
  PinnSpec& p = s.pinn;
  const nlohmann::json& meta = net.metadata();
  const std::string dtype = meta.at("network").value("dtype", "float64");
  double median = -1.0;
  if (meta.contains("training") && meta["training"].contains("test") && meta["training"]["test"].contains("median") &&
      meta["training"]["test"]["median"].is_number())
    median = meta["training"]["test"]["median"].get<double>();
  bool float32 = false;
  if (dtype == "float32") {
    p.precision_reason = "the network was trained in float32";
    float32 = true;
  } else if (p.precision != "auto") {
    float32 = p.precision == "float32";
    p.precision_reason = "pinn.precision: " + p.precision;
  } else if (median < 0) {
    p.precision_reason = "auto: the network's sidecar has no test error to weigh float32's rounding against "
                         "(train.test_samples: 0)";
  } else {
    float32 = median >= kFloat32LayersBelow;
    char text[32];
    std::snprintf(text, sizeof text, "%.2g", median);
    p.precision_reason = "auto: the network's median test error " + std::string(text) +
                         (float32 ? " is at least " : " is below ") + core::format_number(kFloat32LayersBelow);
  }
  p.precision_used = float32 ? "float32" : "float64";
  net.set_float32_layers(float32 && dtype != "float32");
}

PinnShard evaluate_pinn(const Scenario& s, const std::vector<double>& times, const double* parameters,
                        std::size_t count, int threads) {
  const pinn::Network& net = *s.pinn.network_loaded;
  pinn_runtime().set_threads(threads);
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
  // Every sample inside (the usual case): straight into the shard's rows, without a copy.
  if (inside.size() == count) {
    net.predict_and_residual(p.data(), count, times, s.pinn.residual_points, out.states.data(), out.residual.data());
    return out;
  }
  std::vector<double> states(inside.size() * T * n), residual(inside.size());
  net.predict_and_residual(p.data(), inside.size(), times, s.pinn.residual_points, states.data(), residual.data());
  for (std::size_t k = 0; k < inside.size(); ++k) {
    std::copy(&states[k * T * n], &states[(k + 1) * T * n], &out.states[inside[k] * T * n]);
    out.residual[inside[k]] = residual[k];
  }
  return out;
}

}  // namespace physynth::engine
