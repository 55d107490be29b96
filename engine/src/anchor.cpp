#include "physynth/engine/anchor.h"
#include "physynth/engine/run.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "expression.h"
#include "physynth/core/config.h"
#include "physynth/engine/dataset.h"
#include "sha256.h"

namespace physynth::engine {

namespace {

namespace fs = std::filesystem;

// An observation expression as a calibration observable. Its partial derivatives are exact
// (the expression's tape on Jets); the model's part of the Jacobian (dy/dθ) is exact too, from
// the integrator's sensitivities.
class ExpressionObservation : public anchor::ObservationFunction {
 public:
  ExpressionObservation(std::shared_ptr<const core::Model> model, std::string text)
      : model_(std::move(model)),
        text_(std::move(text)),
        expression_(text_, expression_variables(*model_)),
        inputs_(*model_),
        values_(inputs_.size()),
        partials_(inputs_.size()) {
    const auto& ps = model_->parameters();
    for (std::size_t j = 0; j < ps.size(); ++j)
      if (core::is_identifier(ps[j].name)) named_.push_back(j);
  }
  ExpressionObservation(const ExpressionObservation& o) : ExpressionObservation(o.model_, o.text_) {}

  double evaluate(double t, const double* y, const double* p, double* dh_dy, double* dh_dp) const override {
    inputs_.fill(t, y, p, values_.data());
    if (!dh_dy) return expression_.evaluate(values_.data());
    const double h = expression_.gradient(values_.data(), partials_.data());
    const std::size_t n = model_->num_states();
    std::fill(dh_dp, dh_dp + model_->num_parameters(), 0.0);
    // values_ = [states, named parameters, t]
    for (std::size_t k = 0; k + 1 < values_.size(); ++k) {
      if (k < n)
        dh_dy[k] = partials_[k];
      else
        dh_dp[named_[k - n]] = partials_[k];
    }
    return h;
  }
  std::unique_ptr<anchor::ObservationFunction> clone() const override {
    return std::make_unique<ExpressionObservation>(*this);
  }

 private:
  std::shared_ptr<const core::Model> model_;
  std::string text_;
  Expression expression_;
  ExpressionInputs inputs_;
  mutable std::vector<double> values_, partials_;
  std::vector<std::size_t> named_;  // model parameter index of each named parameter, in variable order
};

// The value each parameter has when nothing is fitted: fixed values, and the median of each prior.
std::vector<double> central_parameters(const Scenario& s) {
  std::vector<double> p;
  for (const auto& spec : s.parameters) p.push_back(spec.distribution.quantile(0.5));
  return p;
}

// Rewrites relative paths to files beside the scenario so that they hold from `to`.
void rewrite_paths(YAML::Node node, const fs::path& from, const fs::path& to) {
  if (node.IsMap()) {
    for (auto kv : node) rewrite_paths(kv.second, from, to);
  } else if (node.IsSequence()) {
    for (auto v : node) rewrite_paths(v, from, to);
  } else if (node.IsScalar()) {
    const std::string text = node.Scalar();
    if (text.empty() || fs::path(text).is_absolute() || text.find_first_of("/.") == std::string::npos) return;
    std::error_code ec;
    const fs::path target = from / text;
    if (!fs::is_regular_file(target, ec)) return;
    node = fs::relative(fs::absolute(target), fs::absolute(to), ec).lexically_normal().string();
  }
}

std::string fidelity_table(const Fidelity& before, const Fidelity& after) {
  std::ostringstream t;
  t << "| observable | readings | RMSE before | RMSE after | bias before | bias after | R² before | R² after |\n"
       "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (std::size_t i = 0; i < after.observables.size(); ++i) {
    const auto &b = before.observables[i], &a = after.observables[i];
    t << "| " << a.observable << " | " << a.n << " | " << core::format_significant(b.rmse) << " | "
      << core::format_significant(a.rmse) << " | " << core::format_significant(b.bias) << " | "
      << core::format_significant(a.bias) << " | " << core::format_significant(b.r2) << " | "
      << core::format_significant(a.r2) << " |\n";
  }
  t << "\nLog-likelihood: " << core::format_significant(before.log_likelihood) << " before, "
    << core::format_significant(after.log_likelihood) << " after.\n";
  return t.str();
}

nlohmann::ordered_json fidelity_json(const Fidelity& f) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& r : f.observables)
    rows.push_back({{"observable", r.observable},
                    {"readings", r.n},
                    {"rmse", r.rmse},
                    {"mae", r.mae},
                    {"bias", r.bias},
                    {"r2", r.r2}});
  return {{"log_likelihood", f.log_likelihood}, {"failed_readings", f.failed}, {"observables", rows}};
}

nlohmann::ordered_json estimate_json(const anchor::ParameterEstimate& e) {
  nlohmann::ordered_json j = {{"name", e.name}};
  if (!e.unit.empty()) j["unit"] = e.unit;
  j["estimate"] = e.estimate;
  j["lower"] = e.lower;
  j["upper"] = e.upper;
  j[e.log ? "se_ln" : "se"] = e.se;
  if (e.at_bound) j["at_bound"] = true;
  if (!e.determined) j["determined"] = false;
  return j;
}

}  // namespace

std::optional<anchor::CalibrationProblem> calibration_problem(const Scenario& s, const anchor::RealData& data,
                                                              core::Diagnostics& diagnostics) {
  const std::size_t before = diagnostics.error_count();
  const core::SourceLocation file{s.file, 0, 0}, data_file{data.file, 1, 0};
  const auto& model = s.model.model;
  if (!s.anchor.present) {
    diagnostics.error(file,
                      "the scenario has no 'anchor:' section, which maps the real data's observables to "
                      "observation channels and names the parameters to fit");
    return std::nullopt;
  }
  if (model->has_jumps()) {
    diagnostics.error(file, "model '" + model->name() +
                                "' has jumps (doses, events), which forward sensitivities do not cross yet; "
                                "calibrate a model without them");
    return std::nullopt;
  }
  anchor::CalibrationProblem pr;
  pr.model = model;
  pr.seed = s.seed;
  pr.t0 = s.times.front();
  pr.ode = s.solver;
  pr.ode.sensitivity_parameters.clear();
  std::vector<EventSpec> stops;
  for (const auto& e : s.events)
    if (e.action == EventSpec::Action::kStop) stops.push_back(e);
  if (!stops.empty())
    pr.stop_events = [stops, model] { return scenario_events(stops, model.get()); };
  for (const auto& f : s.anchor.fit)
    pr.parameters.push_back({f.parameter, f.index, f.low, f.high, f.log, f.per_unit, f.start});
  std::vector<int> free;
  for (const auto& f : s.anchor.fit) free.push_back(f.index);
  for (const auto& o : s.anchor.observables) {
    anchor::CalibrationObservable ob;
    ob.name = o.name;
    ob.noise = o.noise;
    ob.sigma = o.sigma;
    const std::string expr =
        o.observation_index >= 0 ? s.observations[static_cast<std::size_t>(o.observation_index)].expression : "";
    const int state = o.state_index >= 0 ? o.state_index : model->state_index(expr);
    const int feature =
        o.observation_index >= 0 ? s.observations[static_cast<std::size_t>(o.observation_index)].derived_index : -1;
    if (feature >= 0 && model->derived_is_deterministic(static_cast<std::size_t>(feature)))
      ob.function = anchor::observe_feature(model, static_cast<std::size_t>(feature));
    else if (feature >= 0)
      ob.function = anchor::observe_random_feature(model, static_cast<std::size_t>(feature), free, s.seed, o.draws);
    else if (state >= 0)
      ob.function = anchor::observe_state(state, model->num_states(), model->num_parameters());
    else
      ob.function = std::make_shared<ExpressionObservation>(model, expr);
    pr.observables.push_back(std::move(ob));
  }

  // Covariates: scenario parameters known per unit, not fitted.
  std::vector<int> covariate_index;
  for (const auto& c : data.covariate_columns) {
    const int k = model->parameter_index(c);
    const bool named =
        std::any_of(s.parameters.begin(), s.parameters.end(), [&](const ParameterSpec& p) { return p.name == c; });
    const bool fitted =
        std::any_of(s.anchor.fit.begin(), s.anchor.fit.end(), [&](const AnchorFitSpec& f) { return f.parameter == c; });
    if (k < 0 || !named) {
      std::vector<std::string> names;
      for (const auto& p : s.parameters) names.push_back(p.name);
      diagnostics.error(data_file,
                        "column '" + c +
                            "' is neither unit, time, observable, value, sd nor units, so it is a covariate, "
                            "but the scenario has no parameter '" +
                            c + "'; its parameters are " + core::join(names));
    } else if (fitted) {
      diagnostics.error(data_file, "covariate column '" + c +
                                       "' names a parameter that anchor.fit fits; a parameter "
                                       "is either known per unit or fitted");
    }
    covariate_index.push_back(k);
  }
  // A population's group and covariates are known per unit: the data must carry them.
  std::vector<std::string> needed;
  if (!s.anchor.population.group.empty()) needed.push_back(s.anchor.population.group);
  for (const auto& e : s.anchor.population.covariates) needed.push_back(e.covariate);
  for (const auto& c : needed)
    if (std::find(data.covariate_columns.begin(), data.covariate_columns.end(), c) == data.covariate_columns.end())
      diagnostics.error(data_file, "anchor.population in " + s.file + " uses '" + c +
                                       "' per unit, but the data has no column '" + c + "'; its covariate columns are " +
                                       (data.covariate_columns.empty() ? std::string("none")
                                                                       : core::join(data.covariate_columns)));
  anchor::check_reading_times(data, pr.t0, s.times.back(), diagnostics);
  std::map<std::string, std::string> positive;
  for (const auto& p : s.parameters)
    if (p.distribution.kind == core::Distribution::Kind::kLogUniform ||
        p.distribution.kind == core::Distribution::Kind::kLogNormal)
      positive[p.name] = p.distribution.describe();
  anchor::check_covariate_signs(data, positive, diagnostics);
  std::vector<std::string> mapped;
  for (const auto& o : s.anchor.observables) mapped.push_back(o.name);
  const std::vector<double> central = central_parameters(s);
  for (const auto& u : data.units) {
    anchor::CalibrationUnit cu;
    cu.id = u.id;
    cu.parameters = central;
    for (std::size_t c = 0; c < data.covariate_columns.size(); ++c)
      if (covariate_index[c] >= 0)
        cu.parameters[static_cast<std::size_t>(covariate_index[c])] = u.covariates.at(data.covariate_columns[c]);
    for (const auto& series : u.series) {
      const auto it = std::find(mapped.begin(), mapped.end(), series.observable);
      const core::SourceLocation at{data.file, series.readings.front().line, 0};
      if (it == mapped.end()) {
        std::string msg = "observable '" + series.observable + "' is not mapped in " + s.file +
                          " anchor.observables; the mapped ones are " + core::join(mapped);
        const std::string hint = core::closest_match(series.observable, mapped);
        if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
        diagnostics.error(at, msg);
        continue;
      }
      const auto o = static_cast<std::size_t>(it - mapped.begin());
      const auto& spec = s.anchor.observables[o];
      if (!series.units.empty() && !spec.units.empty() && series.units != spec.units)
        diagnostics.error(at, "observable '" + series.observable + "' is in '" + series.units + "', but '" +
                                  spec.observation + "' is in '" + spec.units + "'; convert the readings");
      for (const auto& r : series.readings) {
        if (spec.noise == anchor::NoiseKind::kLogNormal && r.sd <= 0.0 && !(r.value > 0.0))
          diagnostics.error({data.file, r.line, 0}, "value " + core::format_number(r.value) + " of observable '" +
                                                        series.observable + "' must be > 0: its noise is log_normal");
        cu.measurements.push_back({static_cast<int>(o), r.time, r.value, r.sd});
      }
    }
    if (!cu.measurements.empty()) pr.units.push_back(std::move(cu));
  }
  if (diagnostics.error_count() > before) return std::nullopt;
  return pr;
}

std::vector<std::vector<double>> prior_parameters(const Scenario& s, const anchor::CalibrationProblem& pr) {
  std::vector<std::vector<double>> out;
  for (const auto& u : pr.units) {
    std::vector<double> p = u.parameters;
    for (const auto& f : s.anchor.fit) p[static_cast<std::size_t>(f.index)] = f.start;
    out.push_back(std::move(p));
  }
  return out;
}

Fidelity fidelity(const anchor::CalibrationProblem& pr, const std::vector<std::vector<double>>& predictions) {
  Fidelity f;
  const std::size_t O = pr.observables.size();
  std::vector<std::vector<double>> predicted(O), observed(O);
  for (std::size_t u = 0; u < pr.units.size(); ++u)
    for (std::size_t i = 0; i < pr.units[u].measurements.size(); ++i) {
      const auto o = static_cast<std::size_t>(pr.units[u].measurements[i].observable);
      predicted[o].push_back(predictions[u][i]);
      observed[o].push_back(pr.units[u].measurements[i].value);
    }
  for (std::size_t o = 0; o < O; ++o) {
    FidelityRow r;
    static_cast<anchor::PredictionScore&>(r) = anchor::score_predictions(predicted[o], observed[o]);
    r.observable = pr.observables[o].name;
    f.observables.push_back(r);
    f.failed += r.missing;
  }
  f.log_likelihood = f.failed > 0 ? -std::numeric_limits<double>::infinity() : anchor::log_likelihood(pr, predictions);
  return f;
}


anchor::PopulationSummary fit_population_of(const Scenario& s, const anchor::CalibrationProblem& pr) {
  const AnchorPopulationSpec& ps = s.anchor.population;
  anchor::PopulationSpec spec;
  spec.full_covariance = ps.full_covariance;
  spec.per_group = ps.per_group;
  spec.covariates = ps.covariates;
  if (!ps.group.empty()) {
    const auto g = static_cast<std::size_t>(s.model.model->parameter_index(ps.group));
    for (const auto& u : pr.units) spec.unit_group.push_back(core::format_number(u.parameters[g]));
  }
  return anchor::fit_population(pr, spec, s.anchor.options);
}

namespace {

// The population fit in the calibration's terms, so that calibrated.yaml, residuals.csv and
// fidelity.md are written alike: shared estimates, each random parameter's population (typical
// value and ω in the fitted space), σ, and each unit's parameters at its mode (EBE).
anchor::CalibrationSummary as_calibration(const anchor::CalibrationProblem& pr,
                                          const anchor::PopulationSummary& P) {
  anchor::CalibrationSummary c;
  c.success = P.success;
  c.message = P.message;
  c.log_likelihood = P.log_likelihood;
  c.readings = P.readings;
  c.sigma = P.sigma;
  c.sigmas = P.sigmas;
  c.unit_parameters = P.unit_parameters;
  c.seconds = P.seconds;
  c.starts = P.pooled.starts;
  c.best_start = P.pooled.best_start;
  c.starts_at_best = P.pooled.starts_at_best;
  for (const auto& f : P.fixed) {
    const bool random = std::any_of(P.model.random.begin(), P.model.random.end(),
                                    [&](const anchor::PopulationModel::Random& r) { return r.name == f.name; });
    if (!random && (f.unit.empty() || f.unit == P.model.groups.front())) c.shared.push_back(f);
  }
  for (std::size_t k = 0; k < P.model.random.size(); ++k) {
    const auto& rnd = P.model.random[k];
    const auto& fx = *std::find_if(P.fixed.begin(), P.fixed.end(),
                                   [&](const anchor::ParameterEstimate& e) { return e.name == rnd.name; });
    anchor::PopulationEstimate pe;
    pe.name = rnd.name;
    pe.log = rnd.log;
    pe.units = P.units;
    pe.mean = rnd.mean.front();
    pe.sd = P.omega[k].estimate;
    pe.mean_lower = rnd.log ? std::log(fx.lower) : fx.lower;  // the typical value's interval, fitted space
    pe.mean_upper = rnd.log ? std::log(fx.upper) : fx.upper;
    pe.raw_sd = pe.sd * (1.0 - P.shrinkage[k]);
    c.population.push_back(pe);
    for (std::size_t u = 0; u < pr.units.size(); ++u) {
      anchor::ParameterEstimate e;
      e.name = rnd.name;
      e.unit = pr.units[u].id;
      e.log = rnd.log;
      e.estimate = P.unit_parameters[u][static_cast<std::size_t>(rnd.index)];
      e.lower = e.upper = e.estimate;
      c.per_unit.push_back(e);
    }
  }
  c.fitted = P.fixed.size() + P.effects.size() + P.omega.size() + P.correlations.size();
  return c;
}

// calibrated.yaml's `population:` (population_section.cpp reads it): the fitted population as
// the generator of new units, with groups, covariate effects and Ω.
YAML::Node population_yaml(const Scenario& s, const anchor::PopulationSummary& P) {
  const auto& m = P.model;
  const auto numbers = [](const std::vector<double>& v) {
    YAML::Node n(YAML::NodeType::Sequence);
    n.SetStyle(YAML::EmitterStyle::Flow);
    for (double x : v) n.push_back(core::format_number(x));
    return n;
  };
  YAML::Node out;
  if (!s.anchor.population.group.empty()) {
    out["group"] = s.anchor.population.group;
    YAML::Node g(YAML::NodeType::Sequence);
    g.SetStyle(YAML::EmitterStyle::Flow);
    for (const auto& label : m.groups) g.push_back(label);
    out["groups"] = g;
  }
  for (const auto& r : m.random) {
    YAML::Node n(YAML::NodeType::Map);
    n.SetStyle(YAML::EmitterStyle::Flow);
    n["parameter"] = r.name;
    n["log"] = r.log;
    n["mean"] = numbers(r.mean);
    out["random"].push_back(n);
  }
  for (const auto& f : m.shared)
    if (f.value.size() > 1) {
      YAML::Node n(YAML::NodeType::Map);
      n.SetStyle(YAML::EmitterStyle::Flow);
      n["parameter"] = f.name;
      n["value"] = numbers(f.value);
      out["shared"].push_back(n);
    }
  const std::size_t q = m.random.size();
  YAML::Node omega(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < q; ++i)
    omega.push_back(numbers(std::vector<double>(m.omega.begin() + static_cast<long>(i * q),
                                                m.omega.begin() + static_cast<long>((i + 1) * q))));
  out["omega"] = omega;
  for (const auto& e : m.effects) {
    YAML::Node n(YAML::NodeType::Map);
    n.SetStyle(YAML::EmitterStyle::Flow);
    n["parameter"] = m.random[static_cast<std::size_t>(e.random)].name;
    n["covariate"] = e.covariate;
    n["log"] = e.log;
    n["reference"] = core::format_number(e.reference);
    n["beta"] = core::format_number(e.beta);
    out["effects"].push_back(n);
  }
  return out;
}

nlohmann::ordered_json nlme_json(const Scenario& s, const anchor::CalibrationProblem& pr,
                                 const anchor::PopulationSummary& P) {
  nlohmann::ordered_json j;
  j["method"] = "FOCE-I";
  j["message"] = P.message;
  j["log_likelihood"] = P.log_likelihood;
  j["objective"] = P.objective;  // -2 log-likelihood
  j["covariance_ok"] = P.covariance_ok;
  j["covariance"] = s.anchor.population.full_covariance ? "full" : "diagonal";
  j["groups"] = P.model.groups;
  const auto list = [](const std::vector<anchor::ParameterEstimate>& v) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const auto& e : v) a.push_back(estimate_json(e));
    return a;
  };
  j["fixed"] = list(P.fixed);          // typical values (model units), per group where per group
  j["omega"] = list(P.omega);          // sd of each random effect, fitted space (ln where log)
  j["correlations"] = list(P.correlations);
  j["covariate_effects"] = list(P.effects);
  for (const auto& e : P.model.effects)
    j["covariate_references"].push_back({{"covariate", e.covariate}, {"log", e.log}, {"reference", e.reference}});
  j["sigma"] = list(P.sigmas);
  j["shrinkage"] = P.shrinkage;
  for (std::size_t u = 0; u < pr.units.size(); ++u) j["eta"].push_back({{"unit", pr.units[u].id}, {"eta", P.eta[u]}});
  j["iterations"] = P.iterations;
  j["evaluations"] = P.evaluations;
  j["pooled_start"] = {{"log_likelihood", P.pooled.log_likelihood}, {"message", P.pooled.message}};
  j["seconds"] = P.seconds;
  return j;
}

}  // namespace

AnchorResult run_anchor(const Scenario& s, const anchor::RealData& data, const anchor::CalibrationProblem& pr,
                        const std::string& directory) {
  AnchorResult r;
  const auto prior = prior_parameters(s, pr);
  const auto before = anchor::predict(pr, prior);
  r.before = fidelity(pr, before);
  std::optional<anchor::PopulationSummary> nlme;
  if (s.anchor.population.present) {
    nlme = fit_population_of(s, pr);
    r.calibration = as_calibration(pr, *nlme);
  } else {
    r.calibration = anchor::calibrate(pr, s.anchor.options);
  }
  if (!r.calibration.success) return r;
  const auto after = anchor::predict(pr, r.calibration.unit_parameters);
  r.after = fidelity(pr, after);
  const auto& c = r.calibration;
  fs::create_directories(directory);

  // calibrated.yaml: the scenario as written (with --set applied), priors replaced.
  core::Diagnostics diags;
  auto root = core::load_yaml_file(s.file, diags);
  if (!root) throw std::runtime_error("cannot re-read " + s.file + ": " + diags.report());
  core::apply_overrides(*root, s.overrides, s.file, diags);
  YAML::Node params = (*root)["parameters"];
  const auto spec_of = [&](const std::string& name) -> const ParameterSpec& {
    return *std::find_if(s.parameters.begin(), s.parameters.end(),
                         [&](const ParameterSpec& p) { return p.name == name; });
  };
  const auto replace = [&](const std::string& name, YAML::Node n) {
    const ParameterSpec& spec = spec_of(name);
    if (!spec.units.empty()) n["units"] = spec.units;
    if (!spec.description.empty()) n["description"] = spec.description;
    params[name] = n;
  };
  for (const auto& e : c.shared) {
    YAML::Node n;
    n["value"] = core::format_number(e.estimate);
    replace(e.name, n);
  }
  for (std::size_t j = 0; j < c.population.size(); ++j) {
    const auto& pe = c.population[j];
    const auto& f = *std::find_if(s.anchor.fit.begin(), s.anchor.fit.end(),
                                  [&](const AnchorFitSpec& x) { return x.parameter == pe.name; });
    YAML::Node n;
    if (!(pe.sd > 0.0)) {
      n["value"] = core::format_number(pe.log ? std::exp(pe.mean) : pe.mean);
    } else if (pe.log) {
      n["distribution"] = "log_normal";
      n["mu"] = core::format_number(pe.mean);
      n["sigma"] = core::format_number(pe.sd);
    } else if (nlme) {  // the marginal whose draws give η (population: below); no bounds on a normal
      n["distribution"] = "normal";
      n["mean"] = core::format_number(pe.mean);
      n["sd"] = core::format_number(pe.sd);
    } else {
      n["distribution"] = "truncated_normal";
      n["mean"] = core::format_number(pe.mean);
      n["sd"] = core::format_number(pe.sd);
      n["low"] = core::format_number(f.low);
      n["high"] = core::format_number(f.high);
    }
    replace(pe.name, n);
  }
  for (std::size_t o = 0; o < s.anchor.observables.size(); ++o) {
    const auto& spec = s.anchor.observables[o];
    // (A σ not estimated, NaN: the readings had none to estimate it from; the noise stays.)
    if (spec.observation_index < 0 || spec.sigma > 0.0 || std::isnan(c.sigma[o])) continue;
    YAML::Node noise = (*root)["observations"][static_cast<std::size_t>(spec.observation_index)]["noise"];
    noise[spec.noise == anchor::NoiseKind::kAdditive || spec.noise == anchor::NoiseKind::kCombined ? "additive_sd"
          : spec.noise == anchor::NoiseKind::kLogNormal                                            ? "log_sd"
                                                        : "multiplicative_sd"] = core::format_number(c.sigma[o]);
    if (spec.noise == anchor::NoiseKind::kCombined)
      noise["multiplicative_sd"] = core::format_number(c.sigma_proportional[o]);
  }
  // The fit keeps its bounds, now that the priors it took them from are replaced: the
  // calibrated scenario can be anchored again (on new data, or in the collapse experiment).
  YAML::Node fit(YAML::NodeType::Sequence);
  for (const auto& f : s.anchor.fit) {
    YAML::Node n(YAML::NodeType::Map);
    n.SetStyle(YAML::EmitterStyle::Flow);
    n["parameter"] = f.parameter;
    n["low"] = core::format_number(f.low);
    n["high"] = core::format_number(f.high);
    n["log"] = f.log;
    if (f.per_unit) n["per_unit"] = true;
    fit.push_back(n);
  }
  (*root)["anchor"]["fit"] = fit;
  const fs::path out_dir = fs::path(directory);
  rewrite_paths(*root, fs::path(s.file).parent_path(), out_dir);
  YAML::Node prov;
  prov["calibrated_by"] = "physynth anchor";
  prov["scenario"] = fs::relative(fs::absolute(s.file), fs::absolute(out_dir)).lexically_normal().string();
  prov["scenario_sha256"] = s.source_sha256;
  prov["data"] = fs::relative(fs::absolute(data.file), fs::absolute(out_dir)).lexically_normal().string();
  prov["data_sha256"] = sha256_file(data.file);
  prov["units"] = pr.units.size();
  prov["readings"] = c.readings;
  prov["log_likelihood"] = core::format_number(c.log_likelihood);
  prov["log_likelihood_before"] = core::format_number(r.before.log_likelihood);
  prov["starts"] = c.starts.size();
  if (nlme) {
    prov["method"] = "population (FOCE-I)";
    (*root)["population"] = population_yaml(s, *nlme);
  }
  (*root)["provenance"] = prov;
  YAML::Emitter emitter;
  emitter << *root;
  const std::string yaml_path = (out_dir / "calibrated.yaml").string();
  write_file_atomically(yaml_path, std::string("# Calibrated by physynth anchor on ") + data.file +
                                       "; see fit.json.\n" + emitter.c_str() + "\n");
  r.files.push_back(yaml_path);

  // fit.json
  nlohmann::ordered_json j;
  j["scenario"] = s.file;
  j["data"] = data.file;
  j["message"] = c.message;
  j["log_likelihood"] = c.log_likelihood;
  j["readings"] = c.readings;
  j["units"] = pr.units.size();
  j["fitted"] = c.fitted;
  j["confidence"] = s.anchor.options.confidence;
  for (const auto& e : c.shared) j["shared"].push_back(estimate_json(e));
  if (!c.shared.empty()) {
    nlohmann::ordered_json cov = nlohmann::ordered_json::array();
    const std::size_t K = c.shared.size();
    for (std::size_t a = 0; a < K; ++a) {
      nlohmann::ordered_json row = nlohmann::ordered_json::array();
      for (std::size_t b = 0; b < K; ++b) {
        const double v = c.shared_covariance[a * K + b];
        row.push_back(std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr));
      }
      cov.push_back(row);
    }
    j["shared_covariance"] = cov;  // fitted space (ln where log); null: not determined by the data
  }
  for (const auto& e : c.sigmas) j["sigma"].push_back(estimate_json(e));
  for (const auto& e : c.per_unit) j["per_unit"].push_back(estimate_json(e));
  if (const auto names = anchor::undetermined(c); !names.empty()) j["not_determined"] = names;
  if (const auto names = anchor::sigma_not_estimated(pr, c); !names.empty())
    j["sigma_not_estimated"] = names;  // no reading without its own sd: calibrated.yaml keeps their noise
  for (const auto& pe : c.population)
    j["population"].push_back({{"name", pe.name},
                               {"space", pe.log ? "ln" : "linear"},
                               {"units", pe.units},
                               {"mean", pe.mean},
                               {"mean_lower", pe.mean_lower},
                               {"mean_upper", pe.mean_upper},
                               {"sd", pe.sd},
                               {"sd_of_estimates", pe.raw_sd}});
  for (const auto& st : c.starts)
    j["starts"].push_back({{"index", st.index},
                           {"start", st.start},
                           {"optimum", st.optimum},
                           {"log_likelihood", st.usable ? nlohmann::ordered_json(st.log_likelihood) : nullptr},
                           {"iterations", st.iterations},
                           {"message", st.message}});
  j["best_start"] = c.best_start;
  j["starts_at_best"] = c.starts_at_best;
  // Starts that reached no usable optimum, with why: a fit is only as good as its failed starts say.
  nlohmann::ordered_json failed = nlohmann::ordered_json::array();
  for (const auto& st : c.starts)
    if (!st.usable) failed.push_back({{"index", st.index}, {"message", st.message}});
  j["failed_starts"] = {{"count", failed.size()}, {"starts", failed}};
  j["seconds"] = c.seconds;
  j["fidelity"] = {{"before", fidelity_json(r.before)}, {"after", fidelity_json(r.after)}};
  if (nlme) j["nlme"] = nlme_json(s, pr, *nlme);

  // residuals.csv
  std::ostringstream csv;
  csv.precision(17);
  csv << "unit,observable,time,value,sd,before,after\n";
  for (std::size_t u = 0; u < pr.units.size(); ++u)
    for (std::size_t i = 0; i < pr.units[u].measurements.size(); ++i) {
      const auto& m = pr.units[u].measurements[i];
      csv << pr.units[u].id << ',' << pr.observables[static_cast<std::size_t>(m.observable)].name << ',' << m.time
          << ',' << m.value << ',' << (m.sd > 0.0 ? core::format_number(m.sd) : "") << ',' << before[u][i] << ','
          << after[u][i] << '\n';
    }
  const std::string csv_path = (out_dir / "residuals.csv").string();
  write_file_atomically(csv_path, csv.str());
  r.files.push_back(csv_path);

  const std::string md_path = (out_dir / "fidelity.md").string();
  write_file_atomically(md_path,
                        "# Fidelity of " + s.name + " on " + fs::path(data.file).filename().string() +
                            "\n\nBefore: every fitted parameter at its prior's median. After: calibrated.\n\n" +
                            fidelity_table(r.before, r.after));
  r.files.push_back(md_path);
  // fit.json last: it marks a finished anchor folder (report reads it), so one stopped or failed
  // part-way never looks complete.
  const std::string json_path = (out_dir / "fit.json").string();
  write_file_atomically(json_path, j.dump(2) + "\n");
  r.files.push_back(json_path);
  return r;
}

}  // namespace physynth::engine
