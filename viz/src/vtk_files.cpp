// VTK XML files of runs and calibrations (viz.h), through VTK's XML writers.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include <vtkCellArray.h>
#include <vtkDoubleArray.h>
#include <vtkImageData.h>
#include <vtkIntArray.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyLine.h>
#include <vtkXMLImageDataWriter.h>
#include <vtkXMLPolyDataWriter.h>

#include <Eigen/Dense>

#include "physynth/core/diagnostics.h"
#include "physynth/engine/dataset.h"
#include "physynth/viz/viz.h"
#include "run_data.h"
#include "viz_common.h"

namespace fs = std::filesystem;

namespace physynth::viz {

namespace {

vtkSmartPointer<vtkDoubleArray> array(const std::string& name, vtkIdType tuples) {
  auto a = vtkSmartPointer<vtkDoubleArray>::New();
  a->SetName(name.c_str());
  a->SetNumberOfTuples(tuples);
  return a;
}

template <class Writer, class Data>
std::string write_xml(Data* data, const fs::path& path) {
  const fs::path partial = begin_vtk_file(path);
  vtkNew<Writer> w;
  w->SetFileName(partial.c_str());
  w->SetInputData(data);
  w->SetDataModeToAppended();
  w->EncodeAppendedDataOff();
  w->SetCompressorTypeToZLib();
  const bool ok = w->Write() == 1 && w->GetErrorCode() == 0;
  finish_vtk_file(partial, path, ok, w->GetErrorCode());
  return path.string();
}

// A ParaView collection: one dataset per time step.
std::string write_pvd(const fs::path& path, const std::vector<std::pair<double, std::string>>& steps) {
  std::string x =
      "<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n"
      "  <Collection>\n";
  for (const auto& [t, file] : steps)
    x += "    <DataSet timestep=\"" + core::format_number(t) + "\" group=\"\" part=\"0\" file=\"" + file + "\"/>\n";
  x += "  </Collection>\n</VTKFile>\n";
  engine::write_file_atomically(path.string(), x);
  return path.string();
}

// Channel c's value at grid time index t for row s, NaN where the channel has no reading then.
struct ChannelOnGrid {
  std::vector<long> column;  // per grid time: index into the channel's times, or -1
};
ChannelOnGrid on_grid(const std::vector<double>& grid, const engine::ObservationBlock& o) {
  ChannelOnGrid g;
  g.column.assign(grid.size(), -1);
  for (std::size_t k = 0; k < o.times.size(); ++k) {
    const auto it = std::lower_bound(grid.begin(), grid.end(), o.times[k]);
    if (it != grid.end() && *it == o.times[k])
      g.column[static_cast<std::size_t>(it - grid.begin())] = static_cast<long>(k);
  }
  return g;
}

// Adds every state, observation channel and per-record label at (row s, time index t) as
// tuple `id` of the point data arrays (created on first use).
struct PointFields {
  std::vector<vtkSmartPointer<vtkDoubleArray>> arrays;
  std::vector<ChannelOnGrid> grids;
  PointFields(const RunData& r, vtkPointData* pd, vtkIdType tuples) {
    const auto& d = r.data;
    for (std::size_t i = 0; i < r.N(); ++i) arrays.push_back(array(d.state_names[i], tuples));
    for (const auto& o : d.observations) {
      arrays.push_back(array(o.name, tuples));
      grids.push_back(on_grid(d.times, o));
    }
    for (const auto& n : d.record_label_names) arrays.push_back(array(n, tuples));
    arrays.push_back(array("time", tuples));
    arrays.push_back(array("sample", tuples));
    for (auto& a : arrays) pd->AddArray(a);
  }
  void set(const RunData& r, vtkIdType id, std::size_t s, std::size_t t) {
    const auto& d = r.data;
    std::size_t a = 0;
    for (std::size_t i = 0; i < r.N(); ++i) arrays[a++]->SetValue(id, r.state(s, t, i));
    for (std::size_t c = 0; c < d.observations.size(); ++c) {
      const long k = grids[c].column[t];
      const auto& o = d.observations[c];
      arrays[a++]->SetValue(id, k < 0 ? NAN : o.values[s * o.times.size() + static_cast<std::size_t>(k)]);
    }
    const std::size_t R = d.record_label_names.size();
    for (std::size_t l = 0; l < R; ++l) arrays[a++]->SetValue(id, d.record_labels[(s * r.T() + t) * R + l]);
    arrays[a++]->SetValue(id, d.times[t]);
    arrays[a++]->SetValue(id, static_cast<double>(r.sample[s]));
  }
};

// A point cloud: one vertex per point, point data added by the caller.
struct Cloud {
  vtkNew<vtkPolyData> pd;
  vtkNew<vtkPoints> points;
  vtkNew<vtkCellArray> verts;
  Cloud() { points->SetDataTypeToDouble(); }
  void add(const double x[3]) {
    const vtkIdType id = points->InsertNextPoint(x);
    verts->InsertNextCell(1, &id);
  }
  // The poly data with its points and vertices, to write.
  vtkPolyData* data() {
    pd->SetPoints(points);
    pd->SetVerts(verts);
    return pd.Get();
  }
  void add_arrays(const std::vector<vtkSmartPointer<vtkDoubleArray>>& arrays) {
    for (const auto& a : arrays) pd->GetPointData()->AddArray(a);
  }
};

std::string step_name(const std::string& stem, std::size_t k, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "_%04zu", k);
  return stem + buf + ext;
}

}  // namespace

std::vector<std::string> write_run_vtk(const std::string& run_dir, const std::string& out_dir,
                                       const VisualOptions& options) {
  return write_run_vtk(load_run(run_dir, options.max_samples), out_dir, options);
}

std::vector<std::string> write_run_vtk(const RunData& r, const std::string& out_dir, const VisualOptions& options) {
  const fs::path out(out_dir);
  std::vector<std::string> files;
  const std::size_t S = std::min<std::size_t>(r.S(), options.max_samples), T = r.T(), N = r.N();

  // Trajectories: one polyline per sample over the times it reached.
  {
    vtkNew<vtkPolyData> pd;
    vtkNew<vtkPoints> points;
    points->SetDataTypeToDouble();
    vtkNew<vtkCellArray> lines;
    std::vector<std::pair<std::size_t, std::size_t>> rows;
    for (std::size_t s = 0; s < S; ++s) {
      std::vector<vtkIdType> ids;
      for (std::size_t t = 0; t < T; ++t) {
        if (N > 0 && !std::isfinite(r.state(s, t, 0))) continue;
        ids.push_back(points->InsertNextPoint(r.data.times[t], N > 0 ? r.state(s, t, 0) : 0.0, static_cast<double>(s)));
        rows.emplace_back(s, t);
      }
      if (ids.size() >= 2) lines->InsertNextCell(static_cast<vtkIdType>(ids.size()), ids.data());
    }
    pd->SetPoints(points);
    pd->SetLines(lines);
    PointFields f(r, pd->GetPointData(), static_cast<vtkIdType>(rows.size()));
    for (std::size_t k = 0; k < rows.size(); ++k) f.set(r, static_cast<vtkIdType>(k), rows[k].first, rows[k].second);
    files.push_back(write_xml<vtkXMLPolyDataWriter>(pd.Get(), out / "trajectories.vtp"));
  }

  // The ensemble per output time: the samples as points in the space of the first three states.
  {
    std::vector<std::pair<double, std::string>> steps;
    for (std::size_t t = 0; t < T; ++t) {
      Cloud cloud;
      std::vector<std::size_t> rows;
      for (std::size_t s = 0; s < S; ++s) {
        if (N > 0 && !std::isfinite(r.state(s, t, 0))) continue;
        double x[3] = {0, 0, 0};
        for (std::size_t i = 0; i < std::min<std::size_t>(3, N); ++i) x[i] = r.state(s, t, i);
        cloud.add(x);
        rows.push_back(s);
      }
      PointFields f(r, cloud.pd->GetPointData(), static_cast<vtkIdType>(rows.size()));
      for (std::size_t k = 0; k < rows.size(); ++k) f.set(r, static_cast<vtkIdType>(k), rows[k], t);
      const std::string name = step_name("ensemble/ensemble", t, ".vtp");
      files.push_back(write_xml<vtkXMLPolyDataWriter>(cloud.data(), out / name));
      steps.emplace_back(r.data.times[t], name);
    }
    files.push_back(write_pvd(out / "ensemble.pvd", steps));
  }

  // Parameter samples as a point cloud; parameters and labels as point data.
  {
    const std::vector<std::size_t> vary = r.varying_parameters();
    Cloud cloud;
    for (std::size_t s = 0; s < S; ++s) {
      double x[3] = {0, 0, 0};
      for (std::size_t j = 0; j < std::min<std::size_t>(3, vary.size()); ++j) x[j] = r.parameter(s, vary[j]);
      cloud.add(x);
    }
    const auto& d = r.data;
    for (std::size_t k = 0; k < r.M(); ++k) {
      auto a = array(d.parameter_names[k], static_cast<vtkIdType>(S));
      for (std::size_t s = 0; s < S; ++s) a->SetValue(static_cast<vtkIdType>(s), r.parameter(s, k));
      cloud.pd->GetPointData()->AddArray(a);
    }
    for (std::size_t l = 0; l < d.num_labels(); ++l) {
      auto a = array(d.label_names[l], static_cast<vtkIdType>(S));
      for (std::size_t s = 0; s < S; ++s) a->SetValue(static_cast<vtkIdType>(s), d.labels[s * d.num_labels() + l]);
      cloud.pd->GetPointData()->AddArray(a);
    }
    vtkNew<vtkIntArray> status;
    status->SetName("status");
    status->SetNumberOfTuples(static_cast<vtkIdType>(S));
    for (std::size_t s = 0; s < S; ++s) status->SetValue(static_cast<vtkIdType>(s), d.status[s]);
    cloud.pd->GetPointData()->AddArray(status);
    auto sample = array("sample", static_cast<vtkIdType>(S));
    for (std::size_t s = 0; s < S; ++s) sample->SetValue(static_cast<vtkIdType>(s), static_cast<double>(r.sample[s]));
    cloud.pd->GetPointData()->AddArray(sample);
    files.push_back(write_xml<vtkXMLPolyDataWriter>(cloud.data(), out / "parameters.vtp"));
  }

  // A field: per output time an image of the plots, every state as point data (one point per
  // plot, spaced by the cell size). Every plot of the field (load_run reads a field whole).
  if (r.data.field_rows > 0) {
    const int rows = r.data.field_rows, cols = r.data.field_cols;
    const double h = r.data.field_cell_size_m > 0 ? r.data.field_cell_size_m : 1.0;
    std::vector<std::pair<double, std::string>> steps;
    for (std::size_t t = 0; t < T; ++t) {
      vtkNew<vtkImageData> img;
      img->SetDimensions(cols, rows, 1);
      img->SetSpacing(h, h, 1.0);
      img->SetOrigin(0.5 * h, 0.5 * h, 0.0);
      const vtkIdType P = static_cast<vtkIdType>(rows) * cols;
      for (std::size_t i = 0; i < N; ++i) {
        auto a = array(r.data.state_names[i], P);
        for (vtkIdType k = 0; k < P; ++k) a->SetValue(k, NAN);
        for (std::size_t s = 0; s < r.S(); ++s) {
          const vtkIdType k = static_cast<vtkIdType>(r.data.plot[2 * s]) * cols + r.data.plot[2 * s + 1];
          a->SetValue(k, r.state(s, t, i));
        }
        img->GetPointData()->AddArray(a);
      }
      const std::string name = step_name("field/field", t, ".vti");
      files.push_back(write_xml<vtkXMLImageDataWriter>(img.Get(), out / name));
      steps.emplace_back(r.data.times[t], name);
    }
    files.push_back(write_pvd(out / "field.pvd", steps));
  }
  return files;
}

std::vector<std::string> write_calibration_vtk(const std::string& anchor_dir, const std::string& out_dir,
                                               const VisualOptions& options) {
  const nlohmann::json fit = read_json((fs::path(anchor_dir) / "fit.json").string());
  const fs::path out(out_dir);
  std::vector<std::string> files;
  // The shared estimates (fitted space: ln where log) and their covariance.
  std::vector<std::string> names;
  std::vector<bool> log_space;
  std::vector<double> mean;
  for (const auto& e : fit.value("shared", nlohmann::json::array())) {
    names.push_back(e.at("name").get<std::string>());
    const bool lg = e.contains("se_ln");
    log_space.push_back(lg);
    const double v = e.at("estimate").get<double>();
    mean.push_back(lg ? std::log(v) : v);
  }
  const std::size_t K = names.size();
  bool determined = K > 0 && fit.contains("shared_covariance");
  if (determined)
    for (const auto& row : fit.at("shared_covariance"))
      for (const auto& v : row) determined = determined && v.is_number();
  if (determined) {
    Eigen::MatrixXd C(static_cast<Eigen::Index>(K), static_cast<Eigen::Index>(K));
    const auto& cj = fit.at("shared_covariance");
    for (std::size_t a = 0; a < K; ++a)
      for (std::size_t b = 0; b < K; ++b)
        C(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) = cj.at(a).at(b).get<double>();
    // Draws x = mean + L z (C = L L^T, eigen-decomposition so a singular C still works).
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C);
    const Eigen::MatrixXd L = eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
    Eigen::MatrixXd Cinv = C.completeOrthogonalDecomposition().pseudoInverse();
    std::mt19937_64 rng(20261121);
    std::normal_distribution<double> normal;
    const std::size_t D = std::max<std::size_t>(options.max_samples, 500);
    Cloud cloud;
    std::vector<vtkSmartPointer<vtkDoubleArray>> arr;
    for (const auto& n : names) arr.push_back(array(n, static_cast<vtkIdType>(D)));
    auto mahal = array("mahalanobis_distance", static_cast<vtkIdType>(D));
    for (std::size_t d = 0; d < D; ++d) {
      Eigen::VectorXd z(static_cast<Eigen::Index>(K));
      for (auto& v : z) v = normal(rng);
      const Eigen::VectorXd dx = L * z;
      double x[3] = {0, 0, 0};
      for (std::size_t k = 0; k < K; ++k) {
        const double fitted = mean[k] + dx(static_cast<Eigen::Index>(k));
        if (k < 3) x[k] = fitted;
        arr[k]->SetValue(static_cast<vtkIdType>(d), log_space[k] ? std::exp(fitted) : fitted);
      }
      mahal->SetValue(static_cast<vtkIdType>(d), std::sqrt(std::max(0.0, dx.dot(Cinv * dx))));
      cloud.add(x);
    }
    cloud.add_arrays(arr);
    cloud.pd->GetPointData()->AddArray(mahal);
    files.push_back(write_xml<vtkXMLPolyDataWriter>(cloud.data(), out / "posterior.vtp"));
  }
  // Every start's optimum, with its log-likelihood.
  const auto starts = fit.value("starts", nlohmann::json::array());
  if (!starts.empty() && K > 0) {
    Cloud cloud;
    std::vector<vtkSmartPointer<vtkDoubleArray>> arr;
    for (const auto& n : names) arr.push_back(array(n, static_cast<vtkIdType>(starts.size())));
    auto ll = array("log_likelihood", static_cast<vtkIdType>(starts.size()));
    auto index = array("start", static_cast<vtkIdType>(starts.size()));
    for (std::size_t s = 0; s < starts.size(); ++s) {
      const auto& opt = starts[s].at("optimum");
      double x[3] = {0, 0, 0};
      for (std::size_t k = 0; k < K && k < opt.size(); ++k) {
        const double v = opt.at(k).get<double>();
        if (k < 3) x[k] = log_space[k] ? std::log(v) : v;
        arr[k]->SetValue(static_cast<vtkIdType>(s), v);
      }
      const auto& l = starts[s].at("log_likelihood");
      ll->SetValue(static_cast<vtkIdType>(s), l.is_number() ? l.get<double>() : NAN);
      index->SetValue(static_cast<vtkIdType>(s), starts[s].value("index", static_cast<double>(s)));
      cloud.add(x);
    }
    cloud.add_arrays(arr);
    cloud.pd->GetPointData()->AddArray(ll);
    cloud.pd->GetPointData()->AddArray(index);
    files.push_back(write_xml<vtkXMLPolyDataWriter>(cloud.data(), out / "starts.vtp"));
  }
  return files;
}

}  // namespace physynth::viz
