#include "physynth/engine/validation.h"
#include "physynth/core/constants.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <variant>

#include "physynth/anchor/population.h"
#include "physynth/core/diagnostics.h"
#include "physynth/core/random.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/dataset.h"

namespace physynth::engine {

namespace {

namespace fs = std::filesystem;

double to_fit(double v, bool log) { return log ? std::log(v) : v; }
double from_fit(double x, bool log) { return log ? std::exp(x) : x; }

// The group label of each unit: its value of the group parameter, as the data gave it.
std::vector<std::string> group_labels(const Scenario& s, const anchor::CalibrationProblem& pr,
                                      const ValidationOptions& opt) {
  std::vector<std::string> labels;
  const int g = s.model.model->parameter_index(opt.group);
  for (const auto& u : pr.units)
    labels.push_back(opt.by_group && g >= 0 ? core::format_number(u.parameters[static_cast<std::size_t>(g)]) : u.id);
  return labels;
}

// The problem with only the units marked.
anchor::CalibrationProblem subset(const anchor::CalibrationProblem& pr, const std::vector<bool>& keep) {
  anchor::CalibrationProblem out = pr;
  out.units.clear();
  for (std::size_t u = 0; u < pr.units.size(); ++u)
    if (keep[u]) out.units.push_back(pr.units[u]);
  return out;
}

// The calibrated generator's typical parameters for a unit it has not seen.
struct Generator {
  std::vector<std::pair<int, double>> fixed;  // model parameter, value
  std::optional<anchor::PopulationModel> population;

  std::vector<double> parameters(std::vector<double> p, const std::string& group) const {
    for (const auto& [k, v] : fixed) p[static_cast<std::size_t>(k)] = v;
    if (!population) return p;
    const int g = population->group_index(group);
    if (g >= 0 || population->groups.size() == 1) return population->parameters(p, std::max(g, 0));
    // An unseen group: the mean over the groups, in the fitted space.
    const auto n = static_cast<double>(population->groups.size());
    std::vector<std::vector<double>> each;
    for (int k = 0; k < static_cast<int>(population->groups.size()); ++k) each.push_back(population->parameters(p, k));
    std::vector<double> out = each.front();
    const auto average = [&](int index, bool log) {
      double m = 0.0;
      for (const auto& e : each) m += to_fit(e[static_cast<std::size_t>(index)], log);
      out[static_cast<std::size_t>(index)] = from_fit(m / n, log);
    };
    for (const auto& f : population->shared) average(f.index, f.log);
    for (const auto& r : population->random) average(r.index, r.log);
    return out;
  }
};

// Fits the training units as the scenario says; the generator, or the failure's message.
std::variant<Generator, std::string> fit(const Scenario& s, const anchor::CalibrationProblem& train) {
  Generator g;
  if (s.anchor.population.present) {
    const auto P = fit_population_of(s, train);
    if (!P.success) return P.message;
    g.population = P.model;
    return g;
  }
  const auto c = anchor::calibrate(train, s.anchor.options);
  if (!c.success) return c.message;
  for (const auto& e : c.shared) {
    const auto it = std::find_if(train.parameters.begin(), train.parameters.end(),
                                 [&](const anchor::FreeParameter& f) { return f.name == e.name; });
    if (it != train.parameters.end()) g.fixed.emplace_back(it->index, e.estimate);
  }
  for (const auto& pe : c.population) {
    const auto it = std::find_if(train.parameters.begin(), train.parameters.end(),
                                 [&](const anchor::FreeParameter& f) { return f.name == pe.name; });
    if (it != train.parameters.end()) g.fixed.emplace_back(it->index, from_fit(pe.mean, pe.log));
  }
  // A per-unit parameter without a population (one training unit): that unit's value.
  for (const auto& f : train.parameters)
    if (f.per_unit && std::none_of(g.fixed.begin(), g.fixed.end(), [&](const auto& x) { return x.first == f.index; }))
      g.fixed.emplace_back(f.index, c.unit_parameters.front()[static_cast<std::size_t>(f.index)]);
  return g;
}

// The training units' mean curve of one observable, read at t.
class MeanCurve {
 public:
  void add(double t, double v) {
    auto& [sum, n] = at_[t];
    sum += v;
    ++n;
  }
  double operator()(double t) const {
    if (at_.empty()) return kNaN;
    const auto mean = [](const std::pair<const double, std::pair<double, int>>& e) {
      return e.second.first / e.second.second;
    };
    auto hi = at_.lower_bound(t);
    if (hi == at_.end()) return mean(*std::prev(hi));
    if (hi->first == t || hi == at_.begin()) return mean(*hi);
    auto lo = std::prev(hi);
    const double w = (t - lo->first) / (hi->first - lo->first);
    return (1.0 - w) * mean(*lo) + w * mean(*hi);
  }

 private:
  std::map<double, std::pair<double, int>> at_;
};

double rmse(const std::vector<double>& predicted, const std::vector<double>& observed) {
  double sum = 0.0;
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    if (!std::isfinite(predicted[i])) return kNaN;
    sum += (predicted[i] - observed[i]) * (predicted[i] - observed[i]);
  }
  return predicted.empty() ? kNaN : std::sqrt(sum / static_cast<double>(predicted.size()));
}

std::string number(double x) { return std::isfinite(x) ? core::format_significant(x) : "failed"; }

}  // namespace

std::string validation_refusal(const Scenario& s, const anchor::CalibrationProblem& pr, const ValidationOptions& opt) {
  if (opt.by_group) {
    if (opt.group.empty())
      return "--validate group needs the group: anchor.population.group, or --group NAME (a covariate column)";
    if (s.model.model->parameter_index(opt.group) < 0)
      return "--group '" + opt.group + "' is not a parameter of the scenario";
    const bool covariate = std::any_of(s.parameters.begin(), s.parameters.end(),
                                       [&](const ParameterSpec& p) { return p.name == opt.group; });
    if (!covariate) return "--group '" + opt.group + "' is not a scenario parameter";
  }
  if (opt.folds < 0) return "--folds must be >= 0 (0: leave one out), got " + std::to_string(opt.folds);
  const auto labels = group_labels(s, pr, opt);
  std::vector<std::string> distinct = labels;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() < 2)
    return std::string("leaving ") + (opt.by_group ? "groups" : "units") + " out needs at least 2, the data have " +
           std::to_string(distinct.size());
  if (opt.folds == 1) return "--folds 1 would leave every unit out of training; use 2 or more (0: leave one out)";
  return {};
}

ValidationResult validate_anchor(const Scenario& s, const anchor::CalibrationProblem& pr, const ValidationOptions& opt,
                                 const std::string& directory) {
  if (const auto why = validation_refusal(s, pr, opt); !why.empty()) throw std::invalid_argument(why);
  ValidationResult R;
  const auto labels = group_labels(s, pr, opt);
  std::vector<std::string> items;  // in order of first appearance
  for (const auto& l : labels)
    if (std::find(items.begin(), items.end(), l) == items.end()) items.push_back(l);
  const std::size_t I = items.size();
  const std::size_t K = opt.folds == 0 || static_cast<std::size_t>(opt.folds) >= I ? I : static_cast<std::size_t>(opt.folds);
  // Item i's fold: leave-one-out keeps the data's order; K folds deal a seeded shuffle round.
  std::map<std::string, int> fold_of;
  const core::KeyedPermutation shuffle(I, s.anchor.options.seed, core::stream::kSplit, 1);
  for (std::size_t i = 0; i < I; ++i)
    fold_of[items[K == I ? i : shuffle(i)]] = static_cast<int>(K == I ? i : i % K);
  R.folds = static_cast<int>(K);

  const auto prior = prior_parameters(s, pr);
  const std::size_t O = pr.observables.size();
  nlohmann::ordered_json folds = nlohmann::ordered_json::array();
  for (std::size_t k = 0; k < K; ++k) {
    std::vector<bool> train(pr.units.size()), held(pr.units.size());
    for (std::size_t u = 0; u < pr.units.size(); ++u) {
      held[u] = fold_of[labels[u]] == static_cast<int>(k);
      train[u] = !held[u];
    }
    const auto training = subset(pr, train), testing = subset(pr, held);
    const auto generator = fit(s, training);
    const bool ok = std::holds_alternative<Generator>(generator);
    const std::string message = ok ? "fitted on " + std::to_string(training.units.size()) + " units"
                                   : "failed: " + std::get<std::string>(generator);
    R.fold_messages.push_back(message);
    if (!ok) ++R.failed_folds;
    std::vector<MeanCurve> baseline(O);
    for (const auto& u : training.units)
      for (const auto& m : u.measurements) baseline[static_cast<std::size_t>(m.observable)].add(m.time, m.value);
    // Predictions of the held-out units by each method.
    std::vector<std::vector<double>> calibrated_p, prior_p;
    std::vector<std::string> held_groups;
    for (std::size_t u = 0; u < pr.units.size(); ++u)
      if (held[u]) {
        prior_p.push_back(prior[u]);
        held_groups.push_back(opt.by_group ? labels[u] : std::string());
        if (ok) {
          std::string group;
          if (s.anchor.population.present && !s.anchor.population.group.empty()) {
            const int g = s.model.model->parameter_index(s.anchor.population.group);
            group = core::format_number(pr.units[u].parameters[static_cast<std::size_t>(g)]);
          }
          calibrated_p.push_back(std::get<Generator>(generator).parameters(pr.units[u].parameters, group));
        }
      }
    const auto by_prior = anchor::predict(testing, prior_p);
    const auto by_calibrated = ok ? anchor::predict(testing, calibrated_p) : by_prior;
    for (std::size_t h = 0; h < testing.units.size(); ++h) {
      const auto& unit = testing.units[h];
      for (std::size_t o = 0; o < O; ++o) {
        std::vector<double> obs, cal, pri, base;
        for (std::size_t i = 0; i < unit.measurements.size(); ++i) {
          const auto& m = unit.measurements[i];
          if (static_cast<std::size_t>(m.observable) != o) continue;
          obs.push_back(m.value);
          cal.push_back(ok ? by_calibrated[h][i] : kNaN);
          pri.push_back(by_prior[h][i]);
          base.push_back(baseline[o](m.time));
        }
        if (obs.empty()) continue;
        HeldOutScore sc;
        sc.fold = static_cast<int>(k);
        sc.unit = unit.id;
        sc.group = held_groups[h];
        sc.observable = pr.observables[o].name;
        sc.readings = obs.size();
        sc.rmse_calibrated = rmse(cal, obs);
        sc.rmse_prior = rmse(pri, obs);
        sc.rmse_baseline = rmse(base, obs);
        R.scores.push_back(sc);
      }
    }
    folds.push_back({{"fold", k}, {"training_units", training.units.size()}, {"held_out_units", testing.units.size()},
                     {"message", message}});
  }

  // Summary per observable: mean RMSE per method, and where the calibration wins.
  std::ostringstream summary;
  for (std::size_t o = 0; o < O; ++o) {
    double sc = 0.0, sp = 0.0, sb = 0.0;
    std::size_t n = 0, beats_prior = 0, beats_baseline = 0, failed = 0;
    for (const auto& x : R.scores) {
      if (x.observable != pr.observables[o].name) continue;
      if (!std::isfinite(x.rmse_calibrated) || !std::isfinite(x.rmse_prior) || !std::isfinite(x.rmse_baseline)) {
        ++failed;
        continue;
      }
      ++n;
      sc += x.rmse_calibrated, sp += x.rmse_prior, sb += x.rmse_baseline;
      beats_prior += x.rmse_calibrated < x.rmse_prior;
      beats_baseline += x.rmse_calibrated < x.rmse_baseline;
    }
    if (n + failed == 0) continue;
    const double d = static_cast<double>(std::max<std::size_t>(n, 1));
    summary << "- " << pr.observables[o].name << ": mean RMSE over " << n << " held-out units: calibrated "
            << number(n ? sc / d : kNaN) << ", prior " << number(n ? sp / d : kNaN) << ", baseline "
            << number(n ? sb / d : kNaN) << "; the calibration beats the prior on " << beats_prior << " and the baseline on "
            << beats_baseline << " of " << n;
    if (failed > 0) summary << " (" << failed << " units not scored: a solve or a fold's fit failed)";
    summary << ".\n";
  }
  R.summary = summary.str();

  fs::create_directories(directory);
  std::ostringstream csv, md;
  csv << "fold,unit,group,observable,readings,rmse_calibrated,rmse_prior,rmse_baseline\n";
  md << "# Out of sample: " << (opt.by_group ? "groups ('" + opt.group + "')" : std::string("units"))
     << " left out, " << K << (K == I ? " folds (leave one out)" : " folds") << "\n\n"
     << "Each held-out unit is predicted without its readings: by the refit's typical unit (calibrated), by the "
        "priors' medians (prior), and by the training units' mean curve (baseline).\n\n"
     << R.summary << "\n| fold | unit | group | observable | readings | RMSE calibrated | RMSE prior | RMSE baseline |\n"
     << "|---:|---|---|---|---:|---:|---:|---:|\n";
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& x : R.scores) {
    const auto num = [](double v) { return std::isfinite(v) ? core::format_number(v) : std::string(); };
    csv << x.fold << "," << x.unit << "," << x.group << "," << x.observable << "," << x.readings << ","
        << num(x.rmse_calibrated) << "," << num(x.rmse_prior) << "," << num(x.rmse_baseline) << "\n";
    md << "| " << x.fold << " | " << x.unit << " | " << x.group << " | " << x.observable << " | " << x.readings
       << " | " << number(x.rmse_calibrated) << " | " << number(x.rmse_prior) << " | " << number(x.rmse_baseline)
       << " |\n";
    const auto js = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); };
    rows.push_back({{"fold", x.fold},
                    {"unit", x.unit},
                    {"group", x.group},
                    {"observable", x.observable},
                    {"readings", x.readings},
                    {"rmse_calibrated", js(x.rmse_calibrated)},
                    {"rmse_prior", js(x.rmse_prior)},
                    {"rmse_baseline", js(x.rmse_baseline)}});
  }
  for (std::size_t k = 0; k < R.fold_messages.size(); ++k)
    if (R.fold_messages[k].rfind("failed", 0) == 0) md << "\nFold " << k << ": " << R.fold_messages[k] << "\n";
  nlohmann::ordered_json j = {{"by", opt.by_group ? "group" : "unit"},
                              {"group", opt.group},
                              {"folds", K},
                              {"failed_folds", R.failed_folds},
                              {"fold_fits", folds},
                              {"scores", rows}};
  const std::string base = (fs::path(directory) / "validation").string();
  write_file_atomically(base + ".csv", csv.str());
  write_file_atomically(base + ".json", j.dump(2) + "\n");
  write_file_atomically(base + ".md", md.str());
  R.files = {base + ".csv", base + ".json", base + ".md"};
  // fidelity.md (the anchor's, when there is one) gains the summary.
  const fs::path fidelity = fs::path(directory) / "fidelity.md";
  if (fs::is_regular_file(fidelity)) {
    std::ifstream in(fidelity);
    std::ostringstream text;
    text << in.rdbuf();
    std::string t = text.str();
    const auto at = t.find("\n## Out of sample");
    if (at != std::string::npos) t.erase(at);
    t += "\n## Out of sample (" + std::string(opt.by_group ? "groups" : "units") + " left out, " + std::to_string(K) +
         " folds)\n\n" + R.summary + "\nEvery held-out unit: validation.md.\n";
    write_file_atomically(fidelity.string(), t);
  }
  return R;
}

}  // namespace physynth::engine
