#include "physynth/engine/fidelity_audit.h"
#include "physynth/core/constants.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "physynth/anchor/two_sample.h"
#include "physynth/core/diagnostics.h"
#include "physynth/engine/run_folder.h"

namespace physynth::engine {

namespace {

std::size_t index_in(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

// A channel's values of one sample at time t: exact at a channel time, linear between two, NaN
// outside or next to a missing value. *interpolated is set when t is between channel times.
double value_at(const std::vector<double>& times, const double* values, double t, bool* interpolated) {
  *interpolated = false;
  if (times.empty()) return kNaN;
  const double tol = 1e-9 * std::max(1.0, std::abs(times.back() - times.front()));
  const auto it = std::lower_bound(times.begin(), times.end(), t - tol);
  if (it == times.end()) return kNaN;
  const auto k = static_cast<std::size_t>(it - times.begin());
  if (std::abs(times[k] - t) <= tol) return values[k];
  if (k == 0) return kNaN;
  *interpolated = true;
  const double w = (t - times[k - 1]) / (times[k] - times[k - 1]);
  return values[k - 1] + w * (values[k] - values[k - 1]);
}

// Rows of [time, covariates, observables] per unit, time and replicate; NaN where missing.
struct Table {
  std::vector<std::vector<double>> rows;
  std::vector<int> unit;
};

Table table_of(const anchor::RealData& d, const std::vector<std::string>& covariates,
               const std::vector<std::string>& observables) {
  Table t;
  for (std::size_t u = 0; u < d.units.size(); ++u) {
    const auto& unit = d.units[u];
    std::map<double, std::vector<std::vector<double>>> at;  // time -> per observable, its readings
    for (const auto& se : unit.series) {
      const std::size_t o = index_in(observables, se.observable);
      if (o == observables.size()) continue;
      for (const auto& r : se.readings) {
        auto& slot = at[r.time];
        slot.resize(observables.size());
        slot[o].push_back(r.value);
      }
    }
    for (const auto& [time, per] : at) {
      std::size_t replicates = 0;
      for (const auto& v : per) replicates = std::max(replicates, v.size());
      for (std::size_t r = 0; r < replicates; ++r) {
        std::vector<double> row{time};
        for (const auto& c : covariates) {
          const auto it = unit.covariates.find(c);
          row.push_back(it != unit.covariates.end() ? it->second : kNaN);
        }
        for (const auto& v : per) row.push_back(r < v.size() ? v[r] : kNaN);
        t.rows.push_back(std::move(row));
        t.unit.push_back(static_cast<int>(u));
      }
    }
  }
  return t;
}

struct Moments {
  double mean = kNaN, sd = kNaN;
  std::size_t n = 0;
};

Moments moments(const std::vector<double>& v) {
  Moments m;
  m.n = v.size();
  if (v.empty()) return m;
  m.mean = 0.0;
  for (double x : v) m.mean += x / static_cast<double>(v.size());
  double ss = 0.0;
  for (double x : v) ss += (x - m.mean) * (x - m.mean);
  m.sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : kNaN;
  return m;
}

// Readings of one observable, with their units' indices.
void readings_of(const anchor::RealData& d, const std::string& observable, std::vector<double>& values,
                 std::vector<int>& groups) {
  for (std::size_t u = 0; u < d.units.size(); ++u)
    for (const auto& se : d.units[u].series)
      if (se.observable == observable)
        for (const auto& r : se.readings) {
          values.push_back(r.value);
          groups.push_back(static_cast<int>(u));
        }
}

// Complete rows of the chosen columns, each divided by its scale; at most max_units units (in order).
anchor::Records records(const Table& t, const std::vector<std::size_t>& columns, const std::vector<double>& centre,
                        const std::vector<double>& scale, std::size_t max_units) {
  anchor::Records r;
  r.dims = columns.size();
  std::set<int> units;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    std::vector<double> f;
    for (std::size_t j = 0; j < columns.size(); ++j) {
      const double v = t.rows[i][columns[j]];
      if (!std::isfinite(v)) break;
      f.push_back((v - centre[j]) / scale[j]);
    }
    if (f.size() != columns.size()) continue;
    if (!units.count(t.unit[i]) && units.size() >= max_units) continue;
    units.insert(t.unit[i]);
    r.add(f, t.unit[i]);
  }
  return r;
}

std::size_t unit_count(const anchor::Records& r) { return std::set<int>(r.group.begin(), r.group.end()).size(); }

// The joint tests permute and hold out whole units: with fewer real units they say nothing.
constexpr std::size_t kMinRealUnits = 3;

nlohmann::ordered_json test_json(const anchor::TestResult& t, const char* statistic) {
  return {{statistic, t.statistic}, {"p_value", t.p_value}, {"permutations", t.permutations}};
}

}  // namespace

std::vector<ObservableSource> observable_sources(const Scenario& s) {
  std::vector<ObservableSource> out;
  for (const auto& o : s.anchor.observables) out.push_back({o.name, o.observation.empty() ? o.name : o.observation});
  return out;
}

std::size_t append_synthetic_units(const Shard& shard, const anchor::RealData& design,
                                   const std::vector<ObservableSource>& sources, std::size_t max_units,
                                   anchor::RealData& out, SyntheticCoverage* coverage) {
  if (design.units.empty())
    throw std::invalid_argument("the real data have no units to lay the synthetic ones out like");
  if (out.units.empty()) out.covariate_columns = design.covariate_columns;
  // Each observable's source in the shard: an observation block, or a state.
  struct Source {
    const ObservationBlock* block = nullptr;
    std::size_t state = 0;
    std::string units;
  };
  std::map<std::string, Source> source;
  for (const auto& name : design.observables()) {
    std::string channel = name;
    for (const auto& s : sources)
      if (s.observable == name) channel = s.channel;
    Source src;
    for (const auto& b : shard.observations)
      if (b.name == channel) src.block = &b;
    if (src.block) {
      src.units = src.block->units;
    } else {
      src.state = index_in(shard.state_names, channel);
      if (src.state == shard.state_names.size()) {
        std::string channels;
        for (const auto& b : shard.observations) channels += (channels.empty() ? "" : ", ") + b.name;
        for (const auto& st : shard.state_names) channels += (channels.empty() ? "" : ", ") + st;
        throw std::invalid_argument(
            "observable '" + name + "' is read from '" + channel +
            "', which is neither an observation channel nor a state of the run (there are: " + channels + ")");
      }
      src.units = shard.state_units.size() > src.state ? shard.state_units[src.state] : "";
    }
    source[name] = src;
  }
  std::vector<std::size_t> covariate(design.covariate_columns.size());
  for (std::size_t c = 0; c < covariate.size(); ++c) {
    covariate[c] = index_in(shard.parameter_names, design.covariate_columns[c]);
    if (covariate[c] == shard.parameter_names.size())
      throw std::invalid_argument("covariate column '" + design.covariate_columns[c] +
                                  "' of the real data is not a parameter of the run");
  }
  std::size_t interpolated = 0;
  const std::size_t T = shard.times.size(), n = shard.num_states();
  std::vector<double> state_values(T);
  for (std::size_t i = 0; i < shard.samples && out.units.size() < max_units; ++i) {
    if (shard.status[i] == static_cast<std::int8_t>(SampleStatus::kFailed)) continue;
    const std::uint64_t sample = shard.first_sample + i;
    const auto& like = design.units[static_cast<std::size_t>(sample % design.units.size())];
    anchor::RealUnit unit;
    unit.id = "synthetic_" + std::to_string(sample);
    for (std::size_t c = 0; c < covariate.size(); ++c)
      unit.covariates[design.covariate_columns[c]] = shard.parameters[i * shard.num_parameters() + covariate[c]];
    std::size_t readings = 0;
    for (const auto& se : like.series) {
      const Source& src = source.at(se.observable);
      const std::vector<double>* times = &shard.times;
      const double* values = nullptr;
      if (src.block) {
        times = &src.block->times;
        values = src.block->values.data() + i * src.block->times.size();
      } else {
        for (std::size_t k = 0; k < T; ++k) state_values[k] = shard.states[(i * T + k) * n + src.state];
        values = state_values.data();
      }
      anchor::RealSeries out_series;
      out_series.observable = se.observable;
      out_series.units = src.units;
      if (coverage) coverage->expected += se.readings.size();
      for (const auto& r : se.readings) {
        bool between = false;
        const double v = value_at(*times, values, r.time, &between);
        if (!std::isfinite(v)) continue;
        if (coverage) ++coverage->found;
        interpolated += between ? 1 : 0;
        anchor::Reading reading;
        reading.time = r.time;
        reading.value = v;
        out_series.readings.push_back(reading);
      }
      readings += out_series.readings.size();
      if (!out_series.readings.empty()) unit.series.push_back(std::move(out_series));
    }
    if (readings > 0) out.units.push_back(std::move(unit));
  }
  return interpolated;
}

anchor::RealData synthetic_units_of_run(const std::string& run_directory, const anchor::RealData& design,
                                        std::size_t max_units, std::size_t* interpolated, SyntheticCoverage* coverage) {
  const RunFolder run = open_run_folder(run_directory, true, "the audit");
  std::vector<ObservableSource> sources;
  const auto anchor_section = run.manifest["scenario"]["resolved"]["anchor"];
  if (anchor_section.is_object() && anchor_section["observables"].is_array())
    for (const auto& o : anchor_section["observables"]) {
      const std::string name = o.value("name", "");
      const std::string channel = o.value("observation", "");
      sources.push_back({name, channel.empty() ? name : channel});
    }
  anchor::RealData out;
  out.file = run_directory;
  std::size_t count = 0;
  for (const auto& path : run.hdf5_shards) {
    if (out.units.size() >= max_units) break;
    const Shard shard = read_hdf5(path);
    if (path == run.hdf5_shards.front() && !shard.times.empty()) {
      core::Diagnostics diags;
      anchor::check_reading_times(design, shard.times.front(), shard.times.back(), diags);
      // Covariates of log-scale parameters, as the run's resolved scenario describes them ("log_uniform(...)").
      std::map<std::string, std::string> positive;
      const nlohmann::json params = run.manifest["scenario"]["resolved"].value("parameters", nlohmann::json::object());
      for (const auto& [name, spec] : params.items()) {
        const std::string d = spec.is_object() ? spec.value("distribution", "") : "";
        if (d.rfind("log_uniform(", 0) == 0 || d.rfind("log_normal(", 0) == 0) positive[name] = d;
      }
      anchor::check_covariate_signs(design, positive, diags);
      if (diags.has_errors()) throw std::runtime_error(diags.report("nothing was audited"));
    }
    try {
      count += append_synthetic_units(shard, design, sources, max_units, out, coverage);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
  }
  if (interpolated) *interpolated = count;
  return out;
}

namespace {

// Median and 5th-95th percentile of a measure over the splits, as JSON.
nlohmann::ordered_json spread_json(const std::vector<double>& v) {
  std::vector<double> f;
  for (double x : v)
    if (std::isfinite(x)) f.push_back(x);
  return {{"median", anchor::quantile(f, 0.5)}, {"p5", anchor::quantile(f, 0.05)}, {"p95", anchor::quantile(f, 0.95)}};
}

// The same distances between halves of the real units: how far the real data are from themselves,
// the scale on which the synthetic distances read (as holdout-based auditors do).
nlohmann::ordered_json real_against_real(const anchor::RealData& real, const std::vector<std::string>& observables,
                                         const anchor::Records& r, const FidelityAuditOptions& opt, bool no_joint) {
  nlohmann::ordered_json ref;
  const std::size_t units = real.units.size();
  if (units < 4) {
    ref["skipped"] = "fewer than 4 real units (" + std::to_string(units) + ") to split in halves";
    return ref;
  }
  ref["what"] = "the real units split in halves at random, each distance computed between the halves";
  ref["splits"] = opt.reference_splits;
  std::mt19937_64 rng(opt.seed ^ 0x5eedf00dULL);
  std::vector<std::vector<char>> in_a;  // per split, per real unit: in the first half
  for (int k = 0; k < opt.reference_splits; ++k) {
    std::vector<std::size_t> order(units);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<char> a(units, 0);
    for (std::size_t i = 0; i < units / 2; ++i) a[order[i]] = 1;
    in_a.push_back(std::move(a));
  }
  nlohmann::ordered_json obs = nlohmann::ordered_json::array();
  for (const auto& name : observables) {
    std::vector<double> v;
    std::vector<int> g;
    readings_of(real, name, v, g);
    const double sd = moments(v).sd;
    std::vector<double> ks, w;
    for (const auto& a : in_a) {
      std::vector<double> va, vb;
      for (std::size_t i = 0; i < v.size(); ++i) (a[static_cast<std::size_t>(g[i])] ? va : vb).push_back(v[i]);
      ks.push_back(anchor::ks_statistic(va, vb));
      w.push_back(sd > 0.0 ? anchor::wasserstein1(va, vb) / sd : kNaN);
    }
    obs.push_back({{"observable", name}, {"ks", spread_json(ks)}, {"wasserstein_over_real_sd", spread_json(w)}});
  }
  ref["observables"] = obs;
  if (no_joint) return ref;
  std::map<std::string, std::vector<double>> m;
  for (std::size_t k = 0; k < in_a.size(); ++k) {
    anchor::Records a, b;
    a.dims = b.dims = r.dims;
    for (std::size_t i = 0; i < r.size(); ++i)
      (in_a[k][static_cast<std::size_t>(r.group[i])] ? a : b)
          .add(std::vector<double>(r.row(i), r.row(i) + r.dims), r.group[i]);
    if (a.size() < 4 || b.size() < 4) continue;
    m["mmd2"].push_back(anchor::mmd_test(a, b, 0, opt.seed).statistic);
    m["classifier_accuracy"].push_back(anchor::classifier_test(a, b, opt.neighbours, 0, opt.seed).statistic);
    const auto pr = anchor::precision_recall(a, b, opt.neighbours);
    m["precision"].push_back(pr.precision);
    m["recall"].push_back(pr.recall);
    const auto dc = anchor::density_coverage(a, b, opt.neighbours);
    m["density"].push_back(dc.density);
    m["coverage"].push_back(dc.coverage);
    const auto ab = anchor::alpha_precision_beta_recall(a, b, opt.neighbours);
    m["alpha_precision"].push_back(ab.alpha_precision);
    m["beta_recall"].push_back(ab.beta_recall);
    m["authenticity"].push_back(ab.authenticity);
  }
  nlohmann::ordered_json joint;
  for (const char* key : {"mmd2", "classifier_accuracy", "precision", "recall", "density", "coverage",
                          "alpha_precision", "beta_recall", "authenticity"})
    joint[key] = spread_json(m[key]);
  ref["joint"] = joint;
  return ref;
}

}  // namespace

nlohmann::ordered_json fidelity_audit(const anchor::RealData& real, const anchor::RealData& synthetic,
                                      const FidelityAuditOptions& opt) {
  const std::vector<std::string> observables = real.observables();
  if (!opt.label.empty() && index_in(observables, opt.label) == observables.size())
    throw std::invalid_argument("label '" + opt.label + "' is not an observable of the real data");
  const Table rt = table_of(real, real.covariate_columns, observables),
              st = table_of(synthetic, real.covariate_columns, observables);
  std::vector<std::string> all = {"time"};
  all.insert(all.end(), real.covariate_columns.begin(), real.covariate_columns.end());
  all.insert(all.end(), observables.begin(), observables.end());
  const std::size_t first_observable = 1 + real.covariate_columns.size();

  // Features: every column with spread in the real data (observables always), on its scale.
  std::vector<std::size_t> columns;
  std::vector<std::string> names;
  std::vector<double> centre, scale;
  for (std::size_t c = 0; c < all.size(); ++c) {
    std::vector<double> v;
    for (const auto& row : rt.rows)
      if (std::isfinite(row[c])) v.push_back(row[c]);
    const Moments m = moments(v);
    const bool spread = m.sd > 0.0;
    if (!spread && c < first_observable) continue;
    columns.push_back(c);
    names.push_back(all[c]);
    centre.push_back(m.mean);
    scale.push_back(spread ? m.sd : 1.0);
  }

  nlohmann::ordered_json j;
  j["format"] = "physynth-fidelity-audit-1";
  j["real"] = {{"file", real.file}, {"units", real.units.size()}, {"readings", real.readings()}};
  j["synthetic"] = {{"units", synthetic.units.size()}, {"readings", synthetic.readings()}};
  j["features"] = names;
  j["feature_scale"] = scale;
  j["permutations"] = opt.permutations;
  j["seed"] = opt.seed;

  // Per observable.
  j["observables"] = nlohmann::ordered_json::array();
  for (std::size_t o = 0; o < observables.size(); ++o) {
    std::vector<double> rv, sv;
    std::vector<int> rg, sg;
    readings_of(real, observables[o], rv, rg);
    readings_of(synthetic, observables[o], sv, sg);
    const Moments rm = moments(rv), sm = moments(sv);
    const auto ks = anchor::ks_test(rv, rg, sv, sg, opt.permutations, opt.seed + o);
    const double w = anchor::wasserstein1(rv, sv);
    j["observables"].push_back({{"observable", observables[o]},
                                {"real", {{"readings", rm.n}, {"mean", rm.mean}, {"sd", rm.sd}}},
                                {"synthetic", {{"readings", sm.n}, {"mean", sm.mean}, {"sd", sm.sd}}},
                                {"ks", ks.statistic},
                                {"ks_p_value", ks.p_value},
                                {"wasserstein", w},
                                {"wasserstein_over_real_sd", rm.sd > 0.0 ? w / rm.sd : kNaN}});
  }

  // Jointly.
  const auto everything = std::numeric_limits<std::size_t>::max();
  const anchor::Records r = records(rt, columns, centre, scale, everything);
  const anchor::Records s_all = records(st, columns, centre, scale, everything);
  const std::size_t real_units = unit_count(r);
  const anchor::Records s = records(st, columns, centre, scale, real_units);
  const anchor::Records s_mmd = records(st, columns, centre, scale, 10 * real_units);
  nlohmann::ordered_json joint;
  joint["real_records"] = r.size();
  joint["real_units"] = real_units;
  joint["synthetic_records"] = s_all.size();
  joint["synthetic_units"] = unit_count(s_all);
  if (r.size() < 4 || s.size() < 4) {
    joint["skipped"] =
        "fewer than 4 records with every feature on one side (observables read at different times "
        "have no joint records)";
  } else if (real_units < kMinRealUnits) {
    joint["skipped"] = "too few real units for the joint tests: " + std::to_string(real_units) +
                       ", and the unit-level permutations and the leave-one-unit-out classifier need at least " +
                       std::to_string(kMinRealUnits);
  } else {
    joint["balanced_synthetic_units"] = unit_count(s);
    joint["balanced_synthetic_records"] = s.size();
    double h = 0.0;
    const auto mmd = anchor::mmd_test(r, s_mmd, opt.permutations, opt.seed + 101, &h);
    joint["mmd"] = test_json(mmd, "mmd2");
    joint["mmd"]["bandwidth"] = h;
    joint["mmd"]["synthetic_units"] = unit_count(s_mmd);
    const auto c2 = anchor::classifier_test(r, s, opt.neighbours, opt.permutations, opt.seed + 102);
    joint["classifier"] = test_json(c2, "accuracy");
    joint["classifier"]["neighbours"] = opt.neighbours;
    const auto pr = anchor::precision_recall(r, s, opt.neighbours);
    joint["precision"] = pr.precision;
    joint["recall"] = pr.recall;
    const auto cr = anchor::correlation_matrix(r), cs = anchor::correlation_matrix(s_all);
    double worst = 0.0, frob = 0.0;
    for (std::size_t k = 0; k < cr.size(); ++k)
      if (std::isfinite(cr[k]) && std::isfinite(cs[k])) {
        worst = std::max(worst, std::abs(cr[k] - cs[k]));
        frob += (cr[k] - cs[k]) * (cr[k] - cs[k]);
      }
    joint["correlation"] = {
        {"real", cr}, {"synthetic", cs}, {"max_abs_difference", worst}, {"frobenius_difference", std::sqrt(frob)}};
    const auto dc = anchor::density_coverage(r, s, opt.neighbours);
    joint["density"] = dc.density;
    joint["coverage"] = dc.coverage;
    const auto ab = anchor::alpha_precision_beta_recall(r, s, opt.neighbours);
    joint["alpha_precision"] = ab.alpha_precision;
    joint["beta_recall"] = ab.beta_recall;
    joint["authenticity"] = ab.authenticity;
    joint["alpha_beta_curves"] = {
        {"levels", ab.levels}, {"alpha_precision", ab.precision_curve}, {"beta_recall", ab.recall_curve}};
    const auto nndr = anchor::nearest_neighbour_ratio(r, s_all);
    joint["nearest_neighbour_ratio"] = {{"synthetic_median", nndr.synthetic_median},
                                        {"synthetic_p5", nndr.synthetic_p5},
                                        {"real_median", nndr.real_median},
                                        {"real_p5", nndr.real_p5}};
    const auto dcr = anchor::closest_records(r, s_all);
    joint["closest_record"] = {{"synthetic_median", dcr.synthetic_median},
                               {"real_median", dcr.real_median},
                               {"real_p5", dcr.real_p5},
                               {"share_below_real_p5", dcr.share_below_real_p5},
                               {"exact_copies", dcr.exact_copies}};
  }
  j["joint"] = joint;
  if (opt.reference_splits > 0)
    j["reference"] = real_against_real(real, observables, r, opt, joint.contains("skipped"));

  if (!opt.label.empty()) {
    const std::size_t label_column = index_in(all, opt.label);
    std::vector<std::size_t> fc;
    std::vector<double> fcentre, fscale;
    for (std::size_t k = 0; k < columns.size(); ++k)
      if (columns[k] != label_column) {
        fc.push_back(columns[k]);
        fcentre.push_back(centre[k]);
        fscale.push_back(scale[k]);
      }
    nlohmann::ordered_json t;
    t["label"] = opt.label;
    std::vector<std::string> fnames;
    for (std::size_t c : fc) fnames.push_back(all[c]);
    t["features"] = fnames;
    if (fc.empty()) {
      t["skipped"] = "no feature besides the label";
    } else {
      // Targets: the label of the same complete rows (records() keeps the rows' order).
      const auto with_label = [&](const Table& tab, std::size_t max_units, anchor::Records& x, std::vector<double>& y) {
        std::vector<std::size_t> cols = fc;
        cols.push_back(label_column);
        std::vector<double> c2 = fcentre, s2 = fscale;
        c2.push_back(0.0);
        s2.push_back(1.0);
        const anchor::Records full = records(tab, cols, c2, s2, max_units);
        x.dims = fc.size();
        for (std::size_t i = 0; i < full.size(); ++i) {
          x.add(std::vector<double>(full.row(i), full.row(i) + fc.size()), full.group[i]);
          y.push_back(full.row(i)[fc.size()]);
        }
      };
      anchor::Records xr, xs;
      std::vector<double> yr, ys;
      with_label(rt, everything, xr, yr);
      with_label(st, everything, xs, ys);
      const auto tstr = anchor::knn_regression(xs, ys, xr, yr, opt.neighbours);
      const auto trtr = anchor::knn_regression(xr, yr, xr, yr, opt.neighbours, true);
      t["train_synthetic_test_real"] = {{"rmse", tstr.rmse}, {"r2", tstr.r2}, {"records", tstr.n}};
      t["train_real_test_real"] = {
          {"rmse", trtr.rmse}, {"r2", trtr.r2}, {"records", trtr.n}, {"note", "leave one real unit out"}};
      t["model"] = "k-nearest-neighbour regression on the scaled features, k = " + std::to_string(opt.neighbours);
    }
    j["tstr"] = t;
  }
  return j;
}

std::string report_number(const nlohmann::ordered_json& v) {
  return core::format_significant(v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN());
}

std::string fidelity_audit_markdown(const nlohmann::ordered_json& a) {
  const auto num = report_number;
  std::ostringstream m;
  m << "# Fidelity audit\n\n"
    << "Real: `" << a["real"]["file"].get<std::string>() << "`, " << a["real"]["units"] << " units, "
    << a["real"]["readings"] << " readings. Synthetic: " << a["synthetic"]["units"] << " units, "
    << a["synthetic"]["readings"] << " readings, laid out like the real ones.\n\n";
  if (a.contains("interpolated_readings") && a["interpolated_readings"].get<std::size_t>() > 0)
    m << "**Note:** " << a["interpolated_readings"] << " synthetic readings fall between the channel's times and "
      << "were interpolated, which smooths their noise; give the channel a `sample_interval` that hits the real "
         "reading times.\n\n";
  // A distance beside the same distance between halves of the real units (median, 5-95 %).
  const bool have_ref = a.contains("reference") && a["reference"].contains("observables");
  const auto ref = [&](const nlohmann::ordered_json& r) -> std::string {
    if (!r.is_object() || !r.contains("median")) return "";
    return num(r["median"]) + " (" + num(r["p5"]) + "–" + num(r["p95"]) + ")";
  };
  m << "## Per observable\n\n| observable | real mean | real sd | synthetic mean | synthetic sd | KS | KS p | "
       "Wasserstein | W / real sd |"
    << (have_ref ? " KS, real vs real | W / real sd, real vs real |" : "")
    << "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|" << (have_ref ? "---:|---:|" : "") << "\n";
  for (std::size_t i = 0; i < a["observables"].size(); ++i) {
    const auto& o = a["observables"][i];
    m << "| " << o["observable"].get<std::string>() << " | " << num(o["real"]["mean"]) << " | " << num(o["real"]["sd"])
      << " | " << num(o["synthetic"]["mean"]) << " | " << num(o["synthetic"]["sd"]) << " | " << num(o["ks"]) << " | "
      << num(o["ks_p_value"]) << " | " << num(o["wasserstein"]) << " | " << num(o["wasserstein_over_real_sd"]) << " |";
    if (have_ref) {
      const auto& r = a["reference"]["observables"][i];
      m << " " << ref(r["ks"]) << " | " << ref(r["wasserstein_over_real_sd"]) << " |";
    }
    m << "\n";
  }
  if (a.contains("reference") && a["reference"].contains("skipped"))
    m << "\nNo real-against-real reference: " << a["reference"]["skipped"].get<std::string>() << ".\n";
  const auto& jt = a["joint"];
  const nlohmann::ordered_json no_ref = nlohmann::ordered_json::object();
  const auto& rj = a.contains("reference") && a["reference"].contains("joint") ? a["reference"]["joint"] : no_ref;
  const auto rr = [&](const char* key) { return rj.contains(key) ? ref(rj[key]) : std::string(); };
  m << "\n## Jointly\n\nFeatures (each over its real sd): ";
  for (std::size_t i = 0; i < a["features"].size(); ++i) m << (i ? ", " : "") << a["features"][i].get<std::string>();
  m << ".\n\n";
  if (jt.contains("skipped")) {
    m << "Skipped: " << jt["skipped"].get<std::string>() << ".\n";
  } else {
    m << "| measure | value | real vs real (halves: median, 5–95 %) | reading |\n|---|---:|---:|---|\n"
      << "| MMD² (Gaussian kernel, h = " << num(jt["mmd"]["bandwidth"]) << ") | " << num(jt["mmd"]["mmd2"]) << " | "
      << rr("mmd2") << " | permutation p = " << num(jt["mmd"]["p_value"]) << " (against "
      << jt["mmd"]["synthetic_units"] << " synthetic units) |\n"
      << "| classifier two-sample test (k-NN, leave one unit out) | accuracy " << num(jt["classifier"]["accuracy"])
      << " | " << rr("classifier_accuracy") << " | 0.5 = indistinguishable; p = " << num(jt["classifier"]["p_value"])
      << " |\n"
      << "| precision | " << num(jt["precision"]) << " | " << rr("precision")
      << " | share of synthetic records that look real |\n"
      << "| recall | " << num(jt["recall"]) << " | " << rr("recall")
      << " | share of real records the synthetic data cover |\n"
      << "| density | " << num(jt["density"]) << " | " << rr("density")
      << " | about 1: as dense where the real data are (Naeem et al. 2020) |\n"
      << "| coverage | " << num(jt["coverage"]) << " | " << rr("coverage")
      << " | share of real neighbourhoods holding a synthetic record |\n"
      << "| α-precision | " << num(jt["alpha_precision"]) << " | " << rr("alpha_precision")
      << " | 1: synthetic records fill the real support's quantiles as real ones do (Alaa et al. 2022) |\n"
      << "| β-recall | " << num(jt["beta_recall"]) << " | " << rr("beta_recall")
      << " | 1: the real variety is reproduced, quantile by quantile |\n"
      << "| authenticity | " << num(jt["authenticity"]) << " | " << rr("authenticity")
      << " | share of synthetic records farther from their nearest real record than it is from its nearest real "
         "neighbour; low: copies |\n"
      << "| nearest-neighbour distance ratio, synthetic median | "
      << num(jt["nearest_neighbour_ratio"]["synthetic_median"]) << " | "
      << num(jt["nearest_neighbour_ratio"]["real_median"])
      << " (real records among other units) | near 0: on a real record |\n"
      << "| correlation, largest difference | " << num(jt["correlation"]["max_abs_difference"]) << " | | |\n"
      << "| closest real record, synthetic median | " << num(jt["closest_record"]["synthetic_median"]) << " | "
      << num(jt["closest_record"]["real_median"]) << " (real units to each other) | |\n"
      << "| synthetic records closer than the real 5th percentile | "
      << num(jt["closest_record"]["share_below_real_p5"])
      << " | | exact copies: " << jt["closest_record"]["exact_copies"] << " |\n";
    if (!rj.empty())
      m << "\nEach distance beside the same distance between two random halves of the real units ("
        << a["reference"]["splits"] << " splits): a synthetic value inside that range is as far from the real data as "
        << "the real data are from themselves.\n";
    m << "\nClassifier, precision and recall on " << jt["real_units"] << " real and " << jt["balanced_synthetic_units"]
      << " synthetic units; MMD as stated; correlation and distances on all " << jt["synthetic_units"]
      << " synthetic units; " << a["permutations"] << " permutations of whole units"
      << (a["permutations"].get<int>() == 0 ? " (so no p-values)" : "") << ".\n";
  }
  if (a.contains("synthetic_coverage") && a["synthetic_coverage"]["fraction"].get<double>() < 1.0)
    m << "\nThe synthetic units have values for " << num(a["synthetic_coverage"]["fraction"])
      << " of the real readings laid out on them (" << a["synthetic_coverage"]["readings_with_values"] << " of "
      << a["synthetic_coverage"]["readings_asked"]
      << "): units that stopped early (an event, a failure) cover only part of the real time span.\n";
  if (a.contains("tstr")) {
    const auto& t = a["tstr"];
    m << "\n## Train synthetic, test real: " << t["label"].get<std::string>() << "\n\n";
    if (t.contains("skipped")) {
      m << "Skipped: " << t["skipped"].get<std::string>() << ".\n";
    } else {
      m << t["model"].get<std::string>() << ".\n\n| trained on | RMSE on real | R² on real |\n|---|---:|---:|\n"
        << "| synthetic | " << num(t["train_synthetic_test_real"]["rmse"]) << " | "
        << num(t["train_synthetic_test_real"]["r2"]) << " |\n"
        << "| real (leave one unit out) | " << num(t["train_real_test_real"]["rmse"]) << " | "
        << num(t["train_real_test_real"]["r2"]) << " |\n";
    }
  }
  return m.str();
}

nlohmann::ordered_json audit_run(const std::string& run_directory, const anchor::RealData& real,
                                 const FidelityAuditOptions& options, std::size_t max_units) {
  std::size_t interpolated = 0;
  SyntheticCoverage coverage;
  const auto synthetic = synthetic_units_of_run(run_directory, real, max_units, &interpolated, &coverage);
  auto audit = fidelity_audit(real, synthetic, options);
  audit["run"] = run_directory;
  audit["interpolated_readings"] = interpolated;
  audit["synthetic_coverage"] = {
      {"readings_asked", coverage.expected},
      {"readings_with_values", coverage.found},
      {"fraction", coverage.expected ? static_cast<double>(coverage.found) / coverage.expected : 1.0}};
  return audit;
}

}  // namespace physynth::engine
