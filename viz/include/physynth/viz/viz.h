// Pictures of a run, a calibration and a collapse experiment: VTK XML files that ParaView
// opens, PNG plots rendered off screen through VTK's charts, and one HTML report per folder.
// VTK stays inside viz/src; this header is free of VTK types.
//
//   VTK files (no display needed)
//     trajectories.vtp          each sample a polyline (t, first state, sample), every state,
//                               observation channel and per-record label as point data
//     ensemble.pvd + ensemble/  per output time a point cloud of the samples in the space of the
//                               first three states (a collection ParaView animates)
//     parameters.vtp            the samples in the space of the first three varying parameters,
//                               every parameter and label as point data
//     field.pvd + field/        crop fields: per output time an image of the plots (.vti)
//     posterior.vtp, starts.vtp a calibration's Laplace posterior draws and its starts' optima
//   PNG plots (a display: ensure_display starts a private Xvfb when none is set)
//     ensemble-<name>.png       median and 50 / 90 % bands of each observation channel
//     parameters.png            marginals and pairwise scatter of the varying parameters
//     rul.png                   remaining useful life against time (manufacturing)
//     fault-spectra.png         bearings: envelope spectrum of one unit per fault mode with the
//                               defect orders marked (the snapshot behind the recorded features)
//     yield-map.png             a field's final label as a map (crop fields)
//     pinn-error.png            PINN against CVODES error over the parameter range
//     calibration-<obs>.png     predictions against the real readings, before and after calibration
//     collapse-<quantity>.png   a collapse experiment's quantities per generation and strategy
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/engine/scenario.h"

namespace physynth::viz {

// The scenario's `output.report` section (engine::ReportSpec: plots, size, format, max_samples),
// and how many samples the ensemble bands and marginals are computed over.
struct VisualOptions : engine::ReportSpec {
  std::size_t band_samples = 5000;
};

// Options from a run's manifest (its resolved scenario's output.report), defaults where absent.
VisualOptions options_from_manifest(const nlohmann::json& manifest);

struct Figure {
  std::string kind;     // one of engine::report_plot_kinds()
  std::string file;     // PNG path
  std::string title;    // one line
  std::string caption;  // what it shows, one or two sentences
};

// Makes sure VTK can render: uses $DISPLAY when set, else starts a private Xvfb (stopped at
// exit) and sets DISPLAY. Throws std::runtime_error saying what to install when there is none.
void ensure_display();

// VTK XML files of a run folder (written by physynth run, HDF5 shards), into out_dir; returns
// the paths written. Needs no display.
std::vector<std::string> write_run_vtk(const std::string& run_dir, const std::string& out_dir,
                                       const VisualOptions& options);

// posterior.vtp (draws from the Laplace approximation in fit.json) and starts.vtp (each start's
// optimum and log-likelihood) of an anchor folder.
std::vector<std::string> write_calibration_vtk(const std::string& anchor_dir, const std::string& out_dir,
                                               const VisualOptions& options);

// PNG plots of a run folder, an anchor folder and a collapse folder (each the kinds that apply).
std::vector<Figure> plot_run(const std::string& run_dir, const std::string& out_dir, const VisualOptions& options);
std::vector<Figure> plot_calibration(const std::string& anchor_dir, const std::string& out_dir,
                                     const VisualOptions& options);
std::vector<Figure> plot_collapse(const std::string& collapse_dir, const std::string& out_dir,
                                  const VisualOptions& options);
// Learning curves and where the samples went, of a physynth active folder (rounds.csv, samples.csv).
std::vector<Figure> plot_active(const std::string& active_dir, const std::string& out_dir, const VisualOptions& options);

struct Report {
  std::string html;                // report.html
  std::vector<std::string> files;  // every file written (plots, VTK files, the page)
  std::vector<Figure> figures;
};

// report.html in `dir`, a run folder (manifest.json), an anchor folder (fit.json), a
// collapse folder (collapse.json) or an active folder (active.json): summary, counts, audits, fidelity numbers and the plots
// (drawn into dir/plots, VTK files into dir/vtk). One self-contained page that opens offline;
// it references only files inside dir. With options.format == "vtk" no PNG is drawn.
Report write_report(const std::string& dir, const VisualOptions& options);

}  // namespace physynth::viz
