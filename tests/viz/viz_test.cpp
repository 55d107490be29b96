// viz: VTK files read back with VTK's readers agree with the run's HDF5 data; each plot kind
// renders (under a private Xvfb when no display is set) at the requested size, not blank, with
// its colours; the report references only files that exist, and Chromium shows it.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <vtkDataArray.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPolyData.h>
#include <vtkUnsignedCharArray.h>
#include <vtkXMLImageDataReader.h>
#include <vtkXMLPolyDataReader.h>

#include "fault_spectra.h"  // viz/src
#include "physynth/anchor/real_data.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/collapse.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/run.h"
#include "physynth/viz/viz.h"
#include "support/png_check.h"
#include "support/scenarios.h"
#include "support/test_problems.h"

using namespace physynth;
namespace fs = std::filesystem;

namespace {

std::string out_dir(const std::string& name) {
  const std::string d = std::string(PHYSYNTH_TEST_OUTPUT) + "/viz/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string run(const std::string& scenario, const std::vector<std::string>& overrides, const std::string& name) {
  const auto s = testing::load_scenario(testing::repository_path(scenario), overrides);
  engine::RunOptions o;
  o.output_directory = out_dir(name);
  o.threads = 2;
  const auto r = engine::run_scenario(s, o);
  INFO(r.message);
  REQUIRE(r.completed);
  return o.output_directory;
}

engine::Shard first_shard(const std::string& dir) { return engine::read_hdf5(dir + "/shard-000000.h5"); }

vtkSmartPointer<vtkPolyData> read_vtp(const std::string& path) {
  REQUIRE(fs::exists(path));
  vtkNew<vtkXMLPolyDataReader> r;
  r->SetFileName(path.c_str());
  r->Update();
  return r->GetOutput();
}

double value(vtkPolyData* pd, const std::string& array, vtkIdType id) {
  vtkDataArray* a = pd->GetPointData()->GetArray(array.c_str());
  REQUIRE(a != nullptr);
  return a->GetTuple1(id);
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("viz: trajectories, ensemble steps and parameter clouds read back as the run's HDF5 data") {
  const std::string dir =
      run("scenarios/kinetics/michaelis_menten.yaml", {"sampling.samples=12", "time.points=21"}, "mm_vtk");
  viz::VisualOptions o;
  o.max_samples = 10;
  const auto files = viz::write_run_vtk(dir, dir + "/vtk", o);
  const engine::Shard h = first_shard(dir);
  const std::size_t T = h.times.size(), N = h.num_states();

  // Trajectories: polyline s holds sample s's states at every grid time, in order.
  const auto traj = read_vtp(dir + "/vtk/trajectories.vtp");
  REQUIRE(traj->GetNumberOfLines() == 10);
  REQUIRE(traj->GetNumberOfPoints() == static_cast<vtkIdType>(10 * T));
  for (std::size_t s = 0; s < 10; ++s)
    for (std::size_t t = 0; t < T; ++t) {
      const auto id = static_cast<vtkIdType>(s * T + t);
      CHECK(value(traj, "time", id) == h.times[t]);
      CHECK(value(traj, "sample", id) == static_cast<double>(s));
      for (std::size_t i = 0; i < N; ++i) CHECK(value(traj, h.state_names[i], id) == h.states[(s * T + t) * N + i]);
      for (const auto& ob : h.observations) {
        const auto it = std::find(ob.times.begin(), ob.times.end(), h.times[t]);
        const double expect = it == ob.times.end() ? NAN : ob.values[s * ob.times.size() + (it - ob.times.begin())];
        CHECK(same(value(traj, ob.name, id), expect));
      }
    }

  // The ensemble collection: one step per grid time, each a cloud of the samples at that time.
  const std::string pvd = slurp(dir + "/vtk/ensemble.pvd");
  const std::regex step(R"re(<DataSet timestep="([^"]+)" group="" part="0" file="([^"]+)"/>)re");
  std::size_t k = 0;
  for (auto it = std::sregex_iterator(pvd.begin(), pvd.end(), step); it != std::sregex_iterator(); ++it, ++k) {
    REQUIRE(k < T);
    CHECK(std::stod((*it)[1]) == h.times[k]);
    const auto cloud = read_vtp(dir + "/vtk/" + (*it)[2].str());
    REQUIRE(cloud->GetNumberOfPoints() == 10);
    for (std::size_t s = 0; s < 10; ++s)
      for (std::size_t i = 0; i < N; ++i)
        CHECK(value(cloud, h.state_names[i], static_cast<vtkIdType>(s)) == h.states[(s * T + k) * N + i]);
  }
  CHECK(k == T);

  // Parameters: every parameter and label per sample.
  const auto par = read_vtp(dir + "/vtk/parameters.vtp");
  REQUIRE(par->GetNumberOfPoints() == 10);
  for (std::size_t s = 0; s < 10; ++s) {
    for (std::size_t j = 0; j < h.num_parameters(); ++j)
      CHECK(value(par, h.parameter_names[j], static_cast<vtkIdType>(s)) == h.parameters[s * h.num_parameters() + j]);
    for (std::size_t l = 0; l < h.num_labels(); ++l)
      CHECK(same(value(par, h.label_names[l], static_cast<vtkIdType>(s)), h.labels[s * h.num_labels() + l]));
  }
  for (const auto& f : files) CHECK(fs::exists(f));
}

TEST_CASE("viz: a crop field is an image per day over the season, plots at their grid cells") {
  const std::string dir = run("scenarios/crop/field_map.yaml",
                              {"field.rows=3", "field.cols=4", "time.points=12", "output.formats=[hdf5]"}, "field_vtk");
  viz::write_run_vtk(dir, dir + "/vtk", viz::VisualOptions{});
  const engine::Shard h = first_shard(dir);
  const std::size_t T = h.times.size(), N = h.num_states();
  const std::string pvd = slurp(dir + "/vtk/field.pvd");
  for (std::size_t t = 0; t < T; t += 5) {
    char name[64];
    std::snprintf(name, sizeof name, "field/field_%04zu.vti", t);
    CHECK(pvd.find(name) != std::string::npos);
    vtkNew<vtkXMLImageDataReader> r;
    r->SetFileName((dir + "/vtk/" + name).c_str());
    r->Update();
    vtkImageData* img = r->GetOutput();
    int dims[3];
    img->GetDimensions(dims);
    CHECK(dims[0] == 4);
    CHECK(dims[1] == 3);
    CHECK(img->GetSpacing()[0] == h.field_cell_size_m);
    for (std::size_t s = 0; s < h.samples; ++s) {
      const vtkIdType id = static_cast<vtkIdType>(h.plot[2 * s]) * 4 + h.plot[2 * s + 1];
      for (std::size_t i = 0; i < N; ++i)
        CHECK(same(img->GetPointData()->GetArray(h.state_names[i].c_str())->GetTuple1(id),
                   h.states[(s * T + t) * N + i]));
    }
  }
}

TEST_CASE("viz: every plot kind renders at its size with its colours, and the report links only what exists") {
  viz::VisualOptions o;
  o.width = 640;
  o.height = 420;
  const std::array<int, 3> blue{31, 119, 180}, orange{255, 127, 14}, green{44, 160, 44}, black{0, 0, 0};

  // ensemble and parameters, then the page.
  const std::string mm = run("scenarios/kinetics/michaelis_menten.yaml", {"sampling.samples=40"}, "mm_plots");
  const viz::Report rep = viz::write_report(mm, o);
  std::set<std::string> kinds;
  for (const auto& f : rep.figures) {
    kinds.insert(f.kind);
    testing::check_plot(f, o, {f.kind == "parameters" ? orange : blue});
  }
  CHECK(kinds == std::set<std::string>{"ensemble", "parameters"});
  const std::string html = slurp(rep.html);
  const std::regex ref(R"re((?:src|href)="([^"]+)")re");
  std::size_t refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it, ++refs) {
    const std::string target = (*it)[1];
    INFO(target);
    CHECK(target.find("://") == std::string::npos);
    CHECK(target.front() != '/');
    CHECK(fs::exists(fs::path(mm) / target));
  }
  CHECK(refs >= rep.figures.size() + 3);
  CHECK(html.find("michaelis_menten") != std::string::npos);
  CHECK(html.find("Physics audit") != std::string::npos);

  // RUL curves (manufacturing).
  viz::VisualOptions only = o;
  only.plots = {"rul"};
  const std::string bearing = run("scenarios/manufacturing/bearing_fleet.yaml", {"sampling.samples=12"}, "bearing");
  const auto rul = viz::plot_run(bearing, bearing + "/plots", only);
  REQUIRE(rul.size() == 1);
  testing::check_plot(rul[0], o, {blue, orange, green});  // the first units' colours

  // The yield map of a field.
  only.plots = {"yield_map"};
  const std::string field = run("scenarios/crop/field_map.yaml",
                                {"field.rows=6", "field.cols=8", "time.points=12", "output.formats=[hdf5]"}, "field");
  const auto map = viz::plot_run(field, field + "/plots", only);
  REQUIRE(map.size() == 1);
  testing::check_plot(map[0], o, {{33, 145, 140}, {94, 201, 98}, {59, 82, 139}});  // viridis

  // Calibration before and after, and the posterior cloud (Puromycin).
  const auto puro = testing::load_scenario(testing::repository_path("scenarios/kinetics/puromycin.yaml"), {});
  core::Diagnostics d;
  auto data = anchor::read_real_data(testing::repository_path("data/kinetics/puromycin/treated.csv"), d);
  REQUIRE(data);
  auto problem = engine::calibration_problem(puro, *data, d);
  INFO(d.report());
  REQUIRE(problem);
  const std::string cal = out_dir("anchor");
  engine::run_anchor(puro, *data, *problem, cal);
  const viz::Report crep = viz::write_report(cal, o);
  REQUIRE(crep.figures.size() == 1);
  CHECK(crep.figures[0].kind == "calibration");
  testing::check_plot(crep.figures[0], o, {orange});
  CHECK(testing::read_png(crep.figures[0].file).near(black[0], black[1], black[2]) > 50);
  const auto post = read_vtp(cal + "/vtk/posterior.vtp");
  CHECK(post->GetNumberOfPoints() >= 500);
  const auto starts = read_vtp(cal + "/vtk/starts.vtp");
  CHECK(starts->GetPointData()->GetArray("log_likelihood") != nullptr);

  // The collapse experiment's curves.
  engine::CollapseOptions co;
  co.generations = 2;
  co.permutations = 10;
  co.threads = 2;
  const std::string col = out_dir("collapse");
  engine::run_collapse(puro, *data, co, col);
  only.plots = {"collapse"};
  const auto curves = viz::plot_collapse(col, col + "/plots", only);
  REQUIRE(!curves.empty());
  for (const auto& f : curves) testing::check_plot(f, o, {blue, orange, green});  // one per strategy
}

TEST_CASE("viz: the fault spectra are the snapshots whose features the bearing run recorded") {
  const std::string dir = run("scenarios/manufacturing/mixed_fleet.yaml", {"sampling.samples=30"}, "spectra");
  const auto r = viz::load_run(dir, 30);
  const auto spectra = viz::fault_spectra(r);
  std::set<std::string> modes;
  for (const auto& f : spectra) {
    INFO(f.mode << " sample " << f.sample << " at " << f.time);
    modes.insert(f.mode);
    CHECK(f.spall > 0.0);
    // The recorded features at that reading, from the run's HDF5 data.
    auto recorded = [&](const std::string& name) -> double {
      for (const auto& c : r.data.observations)
        if (c.name == name)
          for (std::size_t k = 0; k < c.times.size(); ++k)
            if (c.times[k] == f.time) return c.values[f.row * c.times.size() + k];
      FAIL("no reading of " << name << " at " << f.time);
      return NAN;
    };
    CHECK(f.features.envelope_bpfo == recorded("env_bpfo"));
    CHECK(f.features.envelope_bpfi == recorded("env_bpfi"));
    CHECK(f.features.envelope_bsf == recorded("env_bsf"));
    CHECK(f.features.envelope_ftf == recorded("env_ftf"));
    CHECK(f.features.rms == recorded("vib_rms"));
    // The plotted spectrum is the one the features were read from: its largest bin within
    // +-2 % of BPFO (bins rounded to the nearest, as Spectrum::peak_near) is the recorded env_bpfo.
    // order[j] is bin j + 1.
    const double resolution = f.order[0] * f.shaft_hz, bpfo_hz = f.orders.bpfo * f.shaft_hz;
    const long lo = std::lround(0.98 * bpfo_hz / resolution), hi = std::lround(1.02 * bpfo_hz / resolution);
    double peak = 0.0;
    for (long b = lo; b <= hi; ++b) peak = std::max(peak, f.amplitude[static_cast<std::size_t>(b - 1)]);
    CHECK(peak == Approx(f.features.envelope_bpfo).epsilon(1e-12));
  }
  CHECK(modes == std::set<std::string>{"outer_race", "inner_race", "rolling_element", "cage", "imbalance"});
  // An outer-race spall shows at BPFO above the other defect orders; an inner-race one at BPFI.
  for (const auto& f : spectra) {
    if (f.mode == "outer_race") CHECK(f.features.envelope_bpfo > 3.0 * f.features.envelope_bpfi);
    if (f.mode == "inner_race") CHECK(f.features.envelope_bpfi > 3.0 * f.features.envelope_bpfo);
  }

  viz::VisualOptions o;
  o.width = 640;
  o.height = 900;
  o.plots = {"spectra"};
  const auto figures = viz::plot_run(dir, dir + "/plots", o);
  REQUIRE(figures.size() == 1);
  CHECK(figures[0].kind == "spectra");
  testing::check_plot(figures[0], o, {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}});  // spectrum, BPFO, BPFI
}

TEST_CASE("viz: Chromium shows the report page with its plots") {
  const char* chromium = nullptr;
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(c)) chromium = c;
  INFO("install Chromium (scripts/install-deps.sh) for the screenshot of the report");
  REQUIRE(chromium != nullptr);
  const std::string mm = run("scenarios/kinetics/michaelis_menten.yaml", {"sampling.samples=30"}, "mm_page");
  viz::VisualOptions o;
  o.plots = {"ensemble"};
  const viz::Report rep = viz::write_report(mm, o);
  const std::string shot = mm + "/screenshot.png";
  const std::string cmd = std::string(chromium) +
                          " --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1400"
                          " --screenshot=" +
                          shot + " file://" + fs::absolute(rep.html).string() + " >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const testing::Pixels p = testing::read_png(shot);
  CHECK(p.width == 1100);
  CHECK(p.height == 1400);
  CHECK(p.non_white > 0.02);
  // The heading's rule and the plots' median lines are the plots' blue: the images loaded.
  CHECK(p.near(31, 119, 180, 30) > 200);
  // The band colours appear only inside the plot images.
  CHECK(p.near(198, 219, 239, 8) > 1000);
}
