// report.html: one offline page per run, anchor or collapse folder (viz.h).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "physynth/core/diagnostics.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/output_folder.h"
#include "physynth/viz/viz.h"
#include "run_data.h"
#include "viz_common.h"

namespace fs = std::filesystem;

namespace physynth::viz {

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string num(const nlohmann::json& v) {
  if (v.is_number()) return core::format_significant(v.get<double>(), 4);
  if (v.is_null()) return "n/a";
  return esc(v.is_string() ? v.get<std::string>() : v.dump());
}

std::string rel(const fs::path& file, const fs::path& dir) {
  return fs::relative(fs::absolute(file), fs::absolute(dir)).generic_string();
}

struct Page {
  std::ostringstream body;
  void h2(const std::string& t) { body << "<h2>" << esc(t) << "</h2>\n"; }
  void p(const std::string& t) { body << "<p>" << t << "</p>\n"; }
  void table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
    body << "<table>";
    if (std::any_of(head.begin(), head.end(), [](const std::string& h) { return !h.empty(); })) {
      body << "<tr>";
      for (const auto& h : head) body << "<th>" << esc(h) << "</th>";
      body << "</tr>";
    }
    body << "\n";
    for (const auto& r : rows) {
      body << "<tr>";
      for (const auto& c : r) body << "<td>" << c << "</td>";
      body << "</tr>\n";
    }
    body << "</table>\n";
  }
  void figures(const std::vector<Figure>& figs, const fs::path& dir) {
    if (figs.empty()) return;
    h2("Plots");
    for (const auto& f : figs)
      body << "<figure><img src=\"" << esc(rel(f.file, dir)) << "\" alt=\"" << esc(f.title) << "\"><figcaption><b>"
           << esc(f.title) << ".</b> " << esc(f.caption) << "</figcaption></figure>\n";
  }
  void files(const std::vector<std::string>& vtk, const fs::path& dir) {
    if (vtk.empty()) return;
    h2("VTK files (open in ParaView)");
    body << "<ul>";
    for (const auto& f : vtk) {
      const std::string r = rel(f, dir);
      // The per-step files in subfolders are listed through their collection (.pvd).
      if (std::count(r.begin(), r.end(), '/') > 1) continue;
      body << "<li><a href=\"" << esc(r) << "\">" << esc(r) << "</a></li>";
    }
    body << "</ul>\n";
  }
  std::string html(const std::string& title) const {
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + esc(title) +
           "</title>\n<style>\n"
           "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1040px;margin:2em auto;"
           "padding:0 1em;color:#222;line-height:1.45}\n"
           "h1{font-size:1.7em;border-bottom:2px solid #1f77b4;padding-bottom:.2em}h2{font-size:1.25em;"
           "margin-top:1.6em}\n"
           "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
           "text-align:left}th{background:#eef4fa}\n"
           "figure{margin:1.2em 0}img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.92em;"
           "color:#444}\n"
           ".ok{color:#2ca02c}.bad{color:#d62728}code{background:#f4f4f4;padding:0 .2em}\n"
           "</style>\n</head>\n<body>\n<h1>" +
           esc(title) + "</h1>\n" + body.str() + "</body>\n</html>\n";
  }
};

void run_sections(Page& pg, const fs::path& dir, const nlohmann::json& m) {
  const auto& sc = m["scenario"]["resolved"];
  pg.h2("Scenario");
  pg.table({"", ""}, {{"name", esc(sc.value("name", ""))},
                      {"description", esc(sc.value("description", ""))},
                      {"domain", esc(sc.value("domain", ""))},
                      {"file", "<code>" + esc(m["scenario"].value("file", "")) + "</code>"},
                      {"sha256", "<code>" + esc(m["scenario"].value("sha256", "")) + "</code>"},
                      {"backend", esc(sc.value("backend", "cvode"))},
                      {"seed", num(m.value("seed", nlohmann::json()))}});
  pg.h2("Counts");
  const auto& c = m["counts"];
  pg.table({"samples", "ok", "stopped by an event", "failed"},
           {{num(m.value("samples", nlohmann::json())), num(c.value("ok", nlohmann::json())),
             num(c.value("stopped_by_event", nlohmann::json())), num(c.value("failed", nlohmann::json()))}});
  if (fs::exists(dir / "audit.json")) {
    const nlohmann::json a = read_json((dir / "audit.json").string());
    pg.h2("Physics audit");
    std::vector<std::vector<std::string>> rows;
    for (const auto& law : a["conservation"].value("laws", nlohmann::json::array()))
      rows.push_back({"conservation: " + esc(law.value("law", "")),
                      "worst relative violation " + num(law.value("worst_relative_violation", nlohmann::json()))});
    for (const auto& st : a["negative_amounts"].value("states", nlohmann::json::array()))
      if (st.value("must_be_nonnegative", false))
        rows.push_back({"non-negative: " + esc(st.value("state", "")),
                        "minimum " + num(st.value("minimum", nlohmann::json())) + ", " +
                            num(st.value("samples_below_minus_tolerance", nlohmann::json())) +
                            " samples below minus the solver tolerance"});
    if (a.contains("pinn")) {
      const auto& p = a["pinn"];
      rows.push_back({"PINN residual", "median " + num(p["residual"].value("median", nlohmann::json())) + ", max " +
                                           num(p["residual"].value("max", nlohmann::json()))});
      rows.push_back({"PINN against its solver", num(p["verified"].value("samples", nlohmann::json())) +
                                                     " samples re-solved, worst relative L2 error " +
                                                     num(p["verified"].value("worst", nlohmann::json()))});
      // (resolved_with_cvodes in run folders written before 2026-12-06)
      const auto& gate = p["gate"];
      rows.push_back(
          {"gated", num(gate.value("resolved_with_solver", gate.value("resolved_with_cvodes", nlohmann::json()))) +
                        " samples re-solved by the solver"});
    }
    pg.table({"check", "result"}, rows);
  }
  if (fs::exists(dir / "fidelity_audit.json")) {
    const nlohmann::json f = read_json((dir / "fidelity_audit.json").string());
    pg.h2("Fidelity against real data");
    std::vector<std::vector<std::string>> rows;
    for (const auto& o : f.value("observables", nlohmann::json::array()))
      rows.push_back({esc(o.value("observable", "")), num(o.value("ks", nlohmann::json())),
                      num(o.value("ks_p_value", nlohmann::json())),
                      num(o.value("wasserstein_over_real_sd", nlohmann::json()))});
    pg.table({"observable", "KS", "KS p (units permuted)", "Wasserstein / real sd"}, rows);
    const auto& j = f["joint"];
    pg.table({"joint test", "value", "p"},
             {{"MMD²", num(j["mmd"].value("mmd2", nlohmann::json())), num(j["mmd"].value("p_value", nlohmann::json()))},
              {"classifier accuracy", num(j["classifier"].value("accuracy", nlohmann::json())),
               num(j["classifier"].value("p_value", nlohmann::json()))},
              {"precision", num(j.value("precision", nlohmann::json())), ""},
              {"recall", num(j.value("recall", nlohmann::json())), ""}});
  }
}

void anchor_sections(Page& pg, const fs::path& dir) {
  const nlohmann::json f = read_json((dir / "fit.json").string());
  pg.h2("Calibration");
  pg.table({"", ""}, {{"scenario", "<code>" + esc(f.value("scenario", "")) + "</code>"},
                      {"data", "<code>" + esc(f.value("data", "")) + "</code>"},
                      {"readings", num(f.value("readings", nlohmann::json()))},
                      {"units", num(f.value("units", nlohmann::json()))},
                      {"log-likelihood", num(f.value("log_likelihood", nlohmann::json()))},
                      {"starts at the best optimum", num(f.value("starts_at_best", nlohmann::json()))},
                      {"result", esc(f.value("message", ""))},
                      {"failed starts", num(f.contains("failed_starts") ? f["failed_starts"].value("count", 0) : 0)}});
  std::vector<std::vector<std::string>> rows;
  for (const char* group : {"shared", "sigma"})
    for (const auto& e : f.value(group, nlohmann::json::array()))
      rows.push_back({esc(e.value("name", "")), num(e.value("estimate", nlohmann::json())),
                      num(e.value("lower", nlohmann::json())), num(e.value("upper", nlohmann::json())),
                      e.value("at_bound", false) ? "<span class=bad>on a bound: the interval is not trustworthy</span>"
                                                 : std::string(group) == "sigma" ? "noise σ, estimated"
                                                                                 : "inside its bounds"});
  const std::string level = num(100.0 * f.value("confidence", 0.95)) + " %";
  pg.table({"parameter", "estimate", "lower (" + level + ")", "upper (" + level + ")", "note"}, rows);
  if (f.contains("fidelity")) {
    std::vector<std::vector<std::string>> fr;
    const auto& before = f["fidelity"]["before"];
    const auto& after = f["fidelity"]["after"];
    const auto list = [](const nlohmann::json& x) {
      return x.is_array() ? x : x.value("observables", nlohmann::json::array());
    };
    const auto b = list(before), a = list(after);
    for (std::size_t i = 0; i < a.size(); ++i) {
      const auto& bi = i < b.size() ? b[i] : nlohmann::json::object();
      fr.push_back({esc(a[i].value("observable", a[i].value("name", ""))), num(bi.value("rmse", nlohmann::json())),
                    num(a[i].value("rmse", nlohmann::json())), num(bi.value("r2", nlohmann::json())),
                    num(a[i].value("r2", nlohmann::json()))});
    }
    pg.h2("Fidelity before and after");
    pg.table({"observable", "RMSE before", "RMSE after", "R² before", "R² after"}, fr);
  }
  // --validate: each held-out unit's prediction error, three ways, summed up per observable.
  if (fs::exists(dir / "validation.json")) {
    const nlohmann::json v = read_json((dir / "validation.json").string());
    struct Sum {
      int units = 0, beats_prior = 0, beats_baseline = 0;
      double calibrated = 0, prior = 0, baseline = 0;
    };
    std::vector<std::pair<std::string, Sum>> sums;
    for (const auto& sc : v.value("scores", nlohmann::json::array())) {
      const std::string o = sc.value("observable", "");
      auto it = std::find_if(sums.begin(), sums.end(), [&](const auto& e) { return e.first == o; });
      if (it == sums.end()) it = sums.insert(sums.end(), {o, Sum{}});
      const auto value = [&](const char* key) {
        return sc.contains(key) && sc[key].is_number() ? sc[key].get<double>() : std::nan("");
      };
      const double c = value("rmse_calibrated"), p = value("rmse_prior"), b = value("rmse_baseline");
      Sum& s = it->second;
      ++s.units, s.calibrated += c, s.prior += p, s.baseline += b;
      s.beats_prior += c < p, s.beats_baseline += c < b;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& [o, s] : sums)
      rows.push_back({esc(o), std::to_string(s.units), num(s.calibrated / s.units), num(s.prior / s.units),
                      num(s.baseline / s.units),
                      std::to_string(s.beats_prior) + " / " + std::to_string(s.beats_baseline)});
    pg.h2("Out of sample (" + esc(v.value("by", "")) + "s left out, " + num(v.value("folds", nlohmann::json())) +
          " folds)");
    pg.table({"observable", "held-out units", "mean RMSE calibrated", "prior", "baseline",
              "calibration better than prior / baseline on"},
             rows);
}
}

void collapse_sections(Page& pg, const fs::path& dir) {
  std::ifstream in(dir / "collapse.md");
  std::stringstream ss;
  ss << in.rdbuf();
  pg.h2("Collapse experiment");
  pg.body << "<pre>" << esc(ss.str()) << "</pre>\n";
}

// The closed loop's summary: the final figures per strategy (active.json).
void active_sections(Page& pg, const fs::path& dir) {
  const nlohmann::json a = read_json((dir / "active.json").string());
  if (a.contains("mix")) {
    const auto& m = a["mix"];
    pg.h2("Hybrid mixes");
    pg.body << "<p>Target <b>" << esc(a.value("target", "")) << "</b>; trained on <code>"
            << esc(m["train"].value("file", "")) << "</code> (" << m["train"].value("rows", 0)
            << " rows) plus synthetic rows, scored on <code>" << esc(m["test"].value("file", "")) << "</code> ("
            << m["test"].value("rows", 0) << " rows, never trained on); model: " << esc(a.value("model", ""))
            << ".</p>\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : m["points"])
      rows.push_back({esc(p.value("ratio", "")), num(p["real_rows"]), num(p["synthetic_rows"]), num(p["rmse"]),
                      num(p["max_abs_error"])});
    pg.table({"synthetic per real row", "real rows", "synthetic rows", "real test RMSE", "largest error"}, rows);
    return;
  }
  pg.h2("Closed loop");
  pg.body << "<p>Target <b>" << esc(a.value("target", "")) << "</b>, " << a.value("budget", 0)
          << " training samples per strategy in " << a.value("rounds", 0) << " rounds, errors on "
          << a.value("test", 0) << " prior test samples; model: " << esc(a.value("model", "")) << ".</p>\n";
  const bool real = a.contains("real");
  if (real)
    pg.body << "<p>Real data: <code>" << esc(a["real"].value("file", "")) << "</code>, "
            << a["real"].value("units", 0) << " units, " << a["real"].value("rows", 0)
            << " rows (never trained on).</p>\n";
  std::vector<std::vector<std::string>> rows;
  const auto value = [](const nlohmann::json& v, const char* key) {
    return v.contains(key) && v[key].is_number() ? num(v[key].get<double>()) : std::string("n/a");
  };
  if (a.contains("strategies"))
    for (const auto& [name, v] : a["strategies"].items()) {
      rows.push_back({name, value(v, "final_rmse"), value(v, "final_p95_abs_error"), value(v, "final_max_abs_error")});
      if (real) {
        rows.back().push_back(value(v, "final_real_rmse"));
        rows.back().push_back(value(v, "final_real_max_abs_error"));
      }
    }
  std::vector<std::string> head = {"strategy", "final test RMSE", "95th percentile", "largest error"};
  if (real) {
    head.push_back("real RMSE");
    head.push_back("real largest error");
  }
  pg.table(head, rows);
}

}  // namespace

Report write_report(const std::string& directory, const VisualOptions& options) {
  const fs::path dir(directory);
  Report r;
  Page pg;
  std::string title;
  const bool png = options.format != "vtk";
  const fs::path plots = dir / "plots", vtk = dir / "vtk";
  std::vector<std::string> vtk_files;
  const bool is_run = fs::exists(dir / "manifest.json"), is_fit = fs::exists(dir / "fit.json"),
             is_collapse = fs::exists(dir / "collapse.json"), is_active = fs::exists(dir / "active.json");
  if (!is_run && !is_fit && !is_collapse && !is_active)
    throw std::runtime_error(directory +
                             ": not a physynth folder: expected manifest.json (run), fit.json (anchor), "
                             "collapse.json (collapse) or active.json (active)");
  // The folder is this report's until it is written; an earlier report's files go first, so
  // none of a plot kind no longer drawn stays behind.
  const auto folder = engine::OutputFolder::take(directory, "report", true);
  for (const char* old : {"report.html", "plots/", "vtk/"}) folder->remove_physynth_path(old);
  if (is_run) {
    // The shards are read once for the VTK files and the plots.
    const RunData run = load_run(directory, samples_to_read(options));
    const nlohmann::json& m = run.folder.manifest;
    title = "physynth run: " + m["scenario"]["resolved"].value("name", dir.filename().string());
    run_sections(pg, dir, m);
    vtk_files = write_run_vtk(run, vtk.string(), options);
    if (png) r.figures = plot_run(run, plots.string(), options);
  } else if (is_fit) {
    title = "physynth anchor: " + dir.filename().string();
    anchor_sections(pg, dir);
    vtk_files = write_calibration_vtk(directory, vtk.string(), options);
    if (png) r.figures = plot_calibration(directory, plots.string(), options);
  } else if (is_active) {
    title = "physynth active: " + dir.filename().string();
    active_sections(pg, dir);
    if (png) r.figures = plot_active(directory, plots.string(), options);
  } else {
    title = "physynth collapse: " + dir.filename().string();
    collapse_sections(pg, dir);
    if (png) r.figures = plot_collapse(directory, plots.string(), options);
  }
  pg.figures(r.figures, dir);
  pg.files(vtk_files, dir);
  r.files = vtk_files;
  for (const auto& f : r.figures) r.files.push_back(f.file);
  r.html = (dir / "report.html").string();
  engine::write_file_atomically(r.html, pg.html(title));
  r.files.push_back(r.html);
  return r;
}

VisualOptions options_from_manifest(const nlohmann::json& manifest) {
  VisualOptions o;
  // Each level looked up only where it is there: a run folder written by another command
  // (petab --simulate) has no output section.
  const nlohmann::json* rep = &manifest;
  for (const char* key : {"scenario", "resolved", "output", "report"}) {
    if (!rep->is_object() || !rep->contains(key)) return o;
    rep = &(*rep)[key];
  }
  if (!rep->is_object()) return o;
  const auto& report = *rep;
  if (report.contains("plots")) o.plots = report["plots"].get<std::vector<std::string>>();
  o.width = report.value("width", o.width);
  o.height = report.value("height", o.height);
  o.format = report.value("format", o.format);
  o.max_samples = report.value("max_samples", o.max_samples);  // defaults: engine::ReportSpec
  return o;
}

}  // namespace physynth::viz
