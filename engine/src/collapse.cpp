#include "physynth/engine/collapse.h"

#include <cmath>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "physynth/core/diagnostics.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/fidelity_audit.h"
#include "physynth/engine/run.h"

namespace physynth::engine {

namespace fs = std::filesystem;

const char* collapse_strategy_name(CollapseStrategy s) {
  switch (s) {
    case CollapseStrategy::kReplace:
      return "replace";
    case CollapseStrategy::kAccumulate:
      return "accumulate";
    case CollapseStrategy::kAnchor:
      return "anchor";
  }
  return "?";
}

namespace {

Scenario load(const std::string& file, const std::vector<std::string>& overrides) {
  core::Diagnostics d;
  auto s = load_scenario(file, overrides, d);
  if (!s) throw std::runtime_error(d.report("the collapse experiment stopped"));
  return std::move(*s);
}

// n synthetic units of the scenario in `file`, laid out like `real`, ids prefixed "g<generation>_".
anchor::RealData draw(const std::string& file, const anchor::RealData& real, std::size_t n, std::uint64_t seed,
                      int threads, int generation) {
  const Scenario s = load(file, {"sampling.design=random", "sampling.samples=" + std::to_string(n),
                                 "sampling.seed=" + std::to_string(seed)});
  ShardGenerator gen(s, threads);
  anchor::RealData out;
  const auto sources = observable_sources(s);
  // Failed samples, and samples stopped before their first reading, are skipped: draw on.
  for (std::uint64_t first = 0; out.units.size() < n && first < 20 * n; first += n)
    append_synthetic_units(gen.samples(first, n), real, sources, n, out);
  if (out.units.size() < n)
    throw std::runtime_error(file + ": fewer than " + std::to_string(n) + " of " + std::to_string(20 * n) +
                             " samples gave readings at the real data's times");
  for (auto& u : out.units) u.id = "g" + std::to_string(generation) + "_" + u.id;
  return out;
}

void append(anchor::RealData& to, const anchor::RealData& from) {
  if (to.units.empty()) to.covariate_columns = from.covariate_columns;
  to.units.insert(to.units.end(), from.units.begin(), from.units.end());
}

// Writes the data as tidy CSV and reads them back, so that the calibration sees exactly the file.
anchor::RealData write_and_read(const anchor::RealData& data, const std::string& path) {
  write_file_atomically(path, anchor::format_real_data(data));
  core::Diagnostics d;
  auto back = anchor::read_real_data(path, d);
  if (!back) throw std::runtime_error(d.report("the collapse experiment stopped"));
  return std::move(*back);
}

struct Calibrated {
  std::string scenario_file;
  nlohmann::ordered_json row;
};

// Calibrates `s` on `data` into `dir`; the row holds the fitted values.
Calibrated calibrate(const Scenario& s, const anchor::RealData& data, const std::string& dir, int threads) {
  core::Diagnostics d;
  auto pr = calibration_problem(s, data, d);
  if (!pr) throw std::runtime_error(d.report("the collapse experiment stopped"));
  Scenario with_threads = s;
  with_threads.anchor.options.threads = threads;
  const AnchorResult r = run_anchor(with_threads, data, *pr, dir);
  if (!r.calibration.success) throw std::runtime_error(dir + ": the calibration failed: " + r.calibration.message);
  Calibrated c;
  c.scenario_file = (fs::path(dir) / "calibrated.yaml").string();
  auto& row = c.row;
  row["training"] = {{"units", data.units.size()}, {"readings", data.readings()}};
  row["log_likelihood"] = r.calibration.log_likelihood;
  for (const auto& e : r.calibration.shared) row["shared"][e.name] = e.estimate;
  for (const auto& e : r.calibration.sigmas) row["sigma"][e.name] = e.estimate;
  for (const auto& p : r.calibration.population)
    row["population"][p.name] = {{"log", p.log}, {"mean", p.mean}, {"sd", p.sd}};
  return c;
}

// The distances of a generation's synthetic units to the real ones.
void add_distances(nlohmann::ordered_json& row, const anchor::RealData& real, const anchor::RealData& synthetic,
                   const CollapseOptions& opt, const std::string& dir) {
  FidelityAuditOptions ao;
  ao.permutations = opt.permutations;
  ao.seed = opt.seed;
  const auto audit = fidelity_audit(real, synthetic, ao);
  write_file_atomically((fs::path(dir) / "fidelity_audit.json").string(), audit.dump(2) + "\n");
  for (const auto& o : audit["observables"])
    row["observables"].push_back({{"observable", o["observable"]},
                                  {"wasserstein", o["wasserstein"]},
                                  {"wasserstein_over_real_sd", o["wasserstein_over_real_sd"]},
                                  {"ks", o["ks"]},
                                  {"ks_p_value", o["ks_p_value"]},
                                  {"real_sd", o["real"]["sd"]},
                                  {"synthetic_sd", o["synthetic"]["sd"]}});
  if (audit["joint"].contains("mmd")) {
    row["mmd2"] = audit["joint"]["mmd"]["mmd2"];
    row["mmd_p_value"] = audit["joint"]["mmd"]["p_value"];
  }
}

// Columns of the side-by-side table: (header, path into a row).
std::vector<std::pair<std::string, std::function<nlohmann::ordered_json(const nlohmann::ordered_json&)>>> columns_of(
    const nlohmann::ordered_json& row0) {
  std::vector<std::pair<std::string, std::function<nlohmann::ordered_json(const nlohmann::ordered_json&)>>> c;
  if (row0.contains("shared"))
    for (const auto& [name, v] : row0["shared"].items())
      c.emplace_back(name, [name = name](const nlohmann::ordered_json& r) { return r["shared"][name]; });
  if (row0.contains("population"))
    for (const auto& [name, v] : row0["population"].items()) {
      c.emplace_back(name + " mean",
                     [name = name](const nlohmann::ordered_json& r) { return r["population"][name]["mean"]; });
      c.emplace_back(name + " sd",
                     [name = name](const nlohmann::ordered_json& r) { return r["population"][name]["sd"]; });
    }
  if (row0.contains("sigma"))
    for (const auto& [name, v] : row0["sigma"].items())
      c.emplace_back(name, [name = name](const nlohmann::ordered_json& r) { return r["sigma"][name]; });
  for (std::size_t o = 0; o < row0["observables"].size(); ++o) {
    const std::string obs = row0["observables"][o]["observable"];
    c.emplace_back(obs + " sd (real " + report_number(row0["observables"][o]["real_sd"]) + ")",
                   [o](const nlohmann::ordered_json& r) { return r["observables"][o]["synthetic_sd"]; });
    c.emplace_back(obs + " W/sd",
                   [o](const nlohmann::ordered_json& r) { return r["observables"][o]["wasserstein_over_real_sd"]; });
    c.emplace_back(obs + " KS p", [o](const nlohmann::ordered_json& r) { return r["observables"][o]["ks_p_value"]; });
  }
  c.emplace_back("MMD p",
                 [](const nlohmann::ordered_json& r) { return r.value("mmd_p_value", nlohmann::ordered_json()); });
  return c;
}

void flatten(const std::string& strategy, int generation, const std::string& prefix, const nlohmann::ordered_json& v,
             std::ostringstream& csv) {
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) flatten(strategy, generation, prefix.empty() ? k : prefix + "." + k, x, csv);
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto& x = v[i];
      const std::string key =
          x.is_object() && x.contains("observable") ? x["observable"].get<std::string>() : std::to_string(i);
      flatten(strategy, generation, prefix + "." + key, x, csv);
    }
  } else if (v.is_number()) {
    csv << strategy << "," << generation << "," << prefix << "," << core::format_number(v.get<double>()) << "\n";
  }
}

}  // namespace

CollapseResult run_collapse(const Scenario& scenario, const anchor::RealData& real, const CollapseOptions& opt,
                            const std::string& directory) {
  if (opt.generations < 1)
    throw std::invalid_argument("generations must be >= 1, got " + std::to_string(opt.generations));
  if (opt.strategies.empty()) throw std::invalid_argument("no strategy to run");
  CollapseResult result;
  const std::size_t n = opt.units > 0 ? opt.units : real.units.size();
  fs::create_directories(directory);
  const auto say = [&](const std::string& line) {
    if (opt.progress) opt.progress(line);
  };
  auto& rep = result.report;
  rep["format"] = "physynth-collapse-1";
  rep["scenario"] = scenario.file;
  rep["real"] = {{"file", real.file}, {"units", real.units.size()}, {"readings", real.readings()}};
  rep["synthetic_units_per_generation"] = n;
  rep["generations"] = opt.generations;
  rep["seed"] = opt.seed;

  // Generation 0, shared by the strategies.
  const std::string g0 = (fs::path(directory) / "gen-0").string();
  Calibrated first = calibrate(scenario, real, g0, opt.threads);
  const anchor::RealData s0 = write_and_read(draw(first.scenario_file, real, n, opt.seed, opt.threads, 0),
                                             (fs::path(g0) / "synthetic.csv").string());
  first.row["generation"] = 0;
  add_distances(first.row, real, s0, opt, g0);
  say("generation 0 (real data): log-likelihood " + report_number(first.row["log_likelihood"]));

  for (const CollapseStrategy strategy : opt.strategies) {
    const std::string name = collapse_strategy_name(strategy);
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    rows.push_back(first.row);
    std::string previous = first.scenario_file;
    anchor::RealData latest = s0, everything = real;
    append(everything, s0);
    for (int g = 1; g <= opt.generations; ++g) {
      const std::string dir = (fs::path(directory) / name / ("gen-" + std::to_string(g))).string();
      fs::create_directories(dir);
      anchor::RealData training;
      if (strategy == CollapseStrategy::kReplace) {
        training = latest;
      } else if (strategy == CollapseStrategy::kAccumulate) {
        training = everything;
      } else {
        training = real;
        append(training, latest);
      }
      training = write_and_read(training, (fs::path(dir) / "training.csv").string());
      Calibrated c = calibrate(load(previous, {}), training, dir, opt.threads);
      latest = write_and_read(draw(c.scenario_file, real, n, opt.seed + static_cast<std::uint64_t>(g), opt.threads, g),
                              (fs::path(dir) / "synthetic.csv").string());
      append(everything, latest);
      c.row["generation"] = g;
      add_distances(c.row, real, latest, opt, dir);
      say(name + " generation " + std::to_string(g) + ": trained on " + std::to_string(training.units.size()) +
          " units, log-likelihood " + report_number(c.row["log_likelihood"]));
      rows.push_back(c.row);
      previous = c.scenario_file;
    }
    rep["strategies"][name] = rows;
  }

  // collapse.json, collapse.csv, collapse.md.
  const std::string json_path = (fs::path(directory) / "collapse.json").string();
  std::ostringstream csv, md;
  csv << "strategy,generation,quantity,value\n";
  md << "# Collapse experiment: " << scenario.name << "\n\n"
     << "Generation 0 is calibrated on `" << real.file << "` (" << real.units.size() << " units, " << real.readings()
     << " readings); each generation draws " << n << " synthetic units and the next is calibrated on them "
     << "(replace), on the real and every synthetic unit so far (accumulate), or on them plus the real units "
        "(anchor). Distances are of each generation's synthetic units to the real ones: W/sd is the Wasserstein "
        "distance over the real sd; the KS and MMD p-values are permutation tests over whole units.\n";
  for (const auto& [name, rows] : rep["strategies"].items()) {
    const auto cols = columns_of(rows[0]);
    md << "\n## " << name << "\n\n| generation | training units | log-likelihood |";
    for (const auto& c : cols) md << " " << c.first << " |";
    md << "\n|---:|---:|---:|";
    for (std::size_t i = 0; i < cols.size(); ++i) md << "---:|";
    md << "\n";
    for (const auto& r : rows) {
      md << "| " << r["generation"].get<int>() << " | " << r["training"]["units"] << " | "
         << report_number(r["log_likelihood"]) << " |";
      for (const auto& c : cols) md << " " << report_number(c.second(r)) << " |";
      md << "\n";
      flatten(name, r["generation"].get<int>(), "", r, csv);
    }
  }
  const std::string csv_path = (fs::path(directory) / "collapse.csv").string();
  const std::string md_path = (fs::path(directory) / "collapse.md").string();
  write_file_atomically(csv_path, csv.str());
  write_file_atomically(md_path, md.str());
  write_file_atomically(json_path, rep.dump(2) + "\n");  // last: it marks a finished collapse folder
  result.files = {json_path, csv_path, md_path};
  return result;
}

}  // namespace physynth::engine
