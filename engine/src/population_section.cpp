// The scenario's `population:` section: the population a mixed-effects fit found, as a
// generator (`physynth anchor` writes it into calibrated.yaml; scenario.h says how it draws).
//
//   population:
//     group: variety                      # optional; its prior must only draw listed groups
//     groups: ["1", "2"]
//     random:                             # mean per group (or one), in the fitted space
//       - {parameter: ka, log: true, mean: [0.46]}
//     shared:                             # per-group values of shared parameters, model units
//       - {parameter: LUEmax, value: [2.4, 3.0]}
//     omega: [[0.4, 0.05], [0.05, 0.07]]  # covariance of η, fitted space
//     effects:                            # φ += beta * (covariate, or ln(covariate / reference))
//       - {parameter: cl, covariate: wt, log: true, reference: 70, beta: 0.75}
#include <Eigen/Cholesky>
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>

#include "physynth/core/text.h"
#include "scenario_readers.h"

namespace physynth::engine::detail {

namespace {

// The scenario parameter named by `node` (a string key), or null after reporting.
const ParameterSpec* parameter_at(const ConfigNode& node, const Scenario& s) {
  auto name = node.as_string();
  if (!name) return nullptr;
  const auto it =
      std::find_if(s.parameters.begin(), s.parameters.end(), [&](const ParameterSpec& p) { return p.name == *name; });
  if (it != s.parameters.end()) return &*it;
  std::vector<std::string> names;
  for (const auto& p : s.parameters) names.push_back(p.name);
  std::string msg = node.path() + ": '" + *name + "' is not a scenario parameter; they are " + core::join(names);
  const std::string hint = core::closest_match(*name, names);
  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  node.error(msg);
  return nullptr;
}

// A list of numbers with one entry, or one per group.
std::optional<std::vector<double>> per_group(const ConfigNode& node, std::size_t groups) {
  auto v = node.as_number_list();
  if (!v) return std::nullopt;
  if (v->size() != 1 && v->size() != groups) {
    node.error(node.path() + " needs 1 value or one per group (" + std::to_string(groups) + "), got " +
               std::to_string(v->size()));
    return std::nullopt;
  }
  return v;
}

}  // namespace

void read_population_generator(const ConfigNode& node, Scenario& s) {
  if (!node.expect_map()) return;
  node.check_keys({"group", "groups", "random", "shared", "omega", "effects"});
  PopulationGeneratorSpec& g = s.population;
  anchor::PopulationModel& m = g.model;
  g.present = true;
  const core::Model& model = *s.model.model;
  const std::size_t before = node.diagnostics().error_count();

  m.groups = {""};
  if (node.has("group")) {
    if (const ParameterSpec* p = parameter_at(node["group"], s)) g.group = p->name;
    if (node.require("groups")) {
      m.groups.clear();
      const ConfigNode list = node["groups"];
      if (list.expect_sequence())
        for (std::size_t i = 0; i < list.size(); ++i)
          if (auto t = list[i].as_string()) m.groups.push_back(*t);
    }
    if (!g.group.empty() && !m.groups.empty()) {
      const ParameterSpec& p = *std::find_if(s.parameters.begin(), s.parameters.end(),
                                             [&](const ParameterSpec& q) { return q.name == g.group; });
      std::vector<double> can;
      if (p.distribution.kind == core::Distribution::Kind::kChoice) can = p.distribution.choices;
      if (p.distribution.is_fixed()) can = {p.distribution.value};
      const bool listed = !can.empty() && std::all_of(can.begin(), can.end(), [&](double v) {
        return m.group_index(core::format_number(v)) >= 0;
      });
      if (!listed)
        node["group"].error(node["group"].path() + ": the prior of '" + g.group + "' (" + p.distribution.describe() +
                            ") must be a fixed value or a choice among the groups " + core::join(m.groups) +
                            ", so that every sample has a fitted group");
    }
  }
  const std::size_t G = std::max<std::size_t>(1, m.groups.size());

  if (node.require("random") && node["random"].expect_sequence()) {
    const ConfigNode list = node["random"];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode r = list[i];
      if (!r.expect_map()) continue;
      r.check_keys({"parameter", "log", "mean"});
      if (!r.require("parameter") || !r.require("mean")) continue;
      const ParameterSpec* p = parameter_at(r["parameter"], s);
      anchor::PopulationModel::Random rnd;
      read_flag(r, "log", rnd.log);
      const auto mean = per_group(r["mean"], G);
      if (!p || !mean) continue;
      const auto want = rnd.log ? core::Distribution::Kind::kLogNormal : core::Distribution::Kind::kNormal;
      if (p->distribution.kind != want) {
        r["parameter"].error(r["parameter"].path() + ": '" + p->name + "' is drawn as " +
                             p->distribution.describe() + "; a random parameter's prior is its marginal, " +
                             (rnd.log ? "log_normal" : "normal") + ", whose draws give η");
        continue;
      }
      rnd.name = p->name;
      rnd.index = model.parameter_index(p->name);
      rnd.mean = *mean;
      m.random.push_back(rnd);
    }
  }
  if (node.has("shared") && node["shared"].expect_sequence()) {
    const ConfigNode list = node["shared"];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode f = list[i];
      if (!f.expect_map()) continue;
      f.check_keys({"parameter", "value"});
      if (!f.require("parameter") || !f.require("value")) continue;
      const ParameterSpec* p = parameter_at(f["parameter"], s);
      const auto value = per_group(f["value"], G);
      if (!p || !value) continue;
      anchor::PopulationModel::Fixed fx;
      fx.name = p->name;
      fx.index = model.parameter_index(p->name);
      fx.value = *value;
      m.shared.push_back(fx);
    }
  }
  const std::size_t q = m.random.size();
  if (node.require("omega")) {
    const ConfigNode rows = node["omega"];
    Eigen::MatrixXd omega = Eigen::MatrixXd::Zero(static_cast<long>(q), static_cast<long>(q));
    bool shaped = rows.expect_sequence() && rows.size() == q;
    for (std::size_t i = 0; shaped && i < q; ++i) {
      const auto row = rows[i].as_number_list();
      shaped = row && row->size() == q;
      for (std::size_t j = 0; shaped && j < q; ++j) omega(static_cast<long>(i), static_cast<long>(j)) = (*row)[j];
    }
    if (!shaped) {
      rows.error(rows.path() + " must be a " + std::to_string(q) + " x " + std::to_string(q) +
                 " matrix (a list of rows), one row and column per random parameter");
    } else {
      const Eigen::LLT<Eigen::MatrixXd> llt(omega);
      if ((omega - omega.transpose()).cwiseAbs().maxCoeff() > 1e-12 * std::max(1.0, omega.cwiseAbs().maxCoeff()) ||
          llt.info() != Eigen::Success) {
        rows.error(rows.path() + " must be symmetric and positive definite (a covariance)");
      } else {
        const Eigen::MatrixXd L = llt.matrixL();
        for (std::size_t i = 0; i < q; ++i)
          for (std::size_t j = 0; j < q; ++j) {
            m.omega.push_back(omega(static_cast<long>(i), static_cast<long>(j)));
            m.cholesky.push_back(L(static_cast<long>(i), static_cast<long>(j)));
          }
      }
    }
  }
  if (node.has("effects") && node["effects"].expect_sequence()) {
    const ConfigNode list = node["effects"];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const ConfigNode e = list[i];
      if (!e.expect_map()) continue;
      e.check_keys({"parameter", "covariate", "log", "reference", "beta"});
      if (!e.require("parameter") || !e.require("covariate") || !e.require("beta")) continue;
      anchor::PopulationModel::Effect fx;
      const auto name = e["parameter"].as_string();
      const auto it = std::find_if(m.random.begin(), m.random.end(),
                                   [&](const anchor::PopulationModel::Random& r) { return name && r.name == *name; });
      if (name && it == m.random.end()) {
        std::vector<std::string> names;
        for (const auto& r : m.random) names.push_back(r.name);
        e["parameter"].error(e["parameter"].path() + ": '" + *name + "' is not a random parameter; they are " +
                             core::join(names));
      }
      const ParameterSpec* c = parameter_at(e["covariate"], s);
      read_flag(e, "log", fx.log);
      if (auto b = e["beta"].as_number()) fx.beta = *b;
      if (fx.log) {
        if (e.require("reference")) read_real(e, "reference", 0.0, 1e300, fx.reference);
      } else if (e.has("reference")) {
        if (auto v = e["reference"].as_number()) fx.reference = *v;
      }
      if (!name || it == m.random.end() || !c) continue;
      fx.random = static_cast<int>(it - m.random.begin());
      fx.covariate = c->name;
      fx.covariate_index = model.parameter_index(c->name);
      m.effects.push_back(fx);
    }
  }
  if (node.diagnostics().error_count() > before) g.present = false;
}

}  // namespace physynth::engine::detail
