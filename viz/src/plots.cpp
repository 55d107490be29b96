// PNG plots through VTK's charts, rendered off screen (viz.h).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include <vtkAxis.h>
#include <vtkBrush.h>
#include <vtkChartHistogram2D.h>
#include <vtkChartLegend.h>
#include <vtkChartMatrix.h>
#include <vtkChartXY.h>
#include <vtkColorTransferFunction.h>
#include <vtkContextScene.h>
#include <vtkContextView.h>
#include <vtkDoubleArray.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkPen.h>
#include <vtkPlot.h>
#include <vtkPlotArea.h>
#include <vtkPlotBar.h>
#include <vtkPlotPoints.h>
#include <vtkPointData.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkTable.h>
#include <vtkTextProperty.h>
#include <vtkVector.h>
#include <vtkWindowToImageFilter.h>

#include "fault_spectra.h"
#include "physynth/anchor/two_sample.h"
#include "physynth/core/diagnostics.h"
#include "physynth/viz/viz.h"
#include "run_data.h"
#include "viz_common.h"

namespace fs = std::filesystem;

namespace physynth::viz {

namespace {

struct Rgb {
  unsigned char r, g, b;
};
// Tableau's categorical colours.
const Rgb kBlue{31, 119, 180}, kOrange{255, 127, 14}, kGreen{44, 160, 44}, kRed{214, 39, 40}, kPurple{148, 103, 189},
    kBlack{0, 0, 0}, kGrey{127, 127, 127};
const Rgb kPalette[] = {kBlue, kOrange, kGreen, kRed, kPurple, {140, 86, 75}, {227, 119, 194}, kGrey};

// One off-screen picture: a context view on its own render window.
class Canvas {
 public:
  Canvas(const VisualOptions& o) {
    ensure_display();
    view_->GetRenderer()->SetBackground(1.0, 1.0, 1.0);
    view_->GetRenderWindow()->SetOffScreenRendering(1);
    view_->GetRenderWindow()->SetSize(o.width, o.height);
  }
  vtkContextScene* scene() { return view_->GetScene(); }
  void save(const fs::path& path) {
    const fs::path partial = begin_vtk_file(path);
    view_->GetRenderWindow()->Render();
    vtkNew<vtkWindowToImageFilter> grab;
    grab->SetInput(view_->GetRenderWindow());
    grab->ReadFrontBufferOff();
    grab->Update();
    vtkNew<vtkPNGWriter> png;
    png->SetFileName(partial.c_str());
    png->SetInputConnection(grab->GetOutputPort());
    png->Write();
    finish_vtk_file(partial, path, png->GetErrorCode() == 0, png->GetErrorCode());
  }

 private:
  vtkNew<vtkContextView> view_;
};

void style(vtkChart* chart, const std::string& title, const std::string& x, const std::string& y, int font = 16) {
  chart->SetTitle(title);
  chart->GetTitleProperties()->SetFontSize(font + 4);
  chart->GetTitleProperties()->SetBold(true);
  for (int a : {vtkAxis::BOTTOM, vtkAxis::LEFT}) {
    vtkAxis* axis = chart->GetAxis(a);
    axis->SetTitle(a == vtkAxis::BOTTOM ? x : y);
    axis->GetTitleProperties()->SetFontSize(font);
    axis->GetTitleProperties()->SetBold(false);
    axis->GetLabelProperties()->SetFontSize(font - 2);
    axis->GetGridPen()->SetColor(225, 225, 225);
  }
}

void legend(vtkChartXY* chart, int font = 15) {
  chart->SetShowLegend(true);
  chart->GetLegend()->SetLabelSize(font);
  chart->GetLegend()->GetBrush()->SetColor(255, 255, 255, 220);
}

void colour(vtkPlot* p, Rgb c, float width = 2.0f, unsigned char alpha = 255) {
  p->SetColor(c.r, c.g, c.b, alpha);
  p->SetWidth(width);
}

// A table of named double columns, `rows` long.
vtkSmartPointer<vtkTable> table(const std::vector<std::string>& names, std::size_t rows) {
  auto t = vtkSmartPointer<vtkTable>::New();
  for (const auto& n : names) {
    vtkNew<vtkDoubleArray> a;
    a->SetName(n.c_str());
    t->AddColumn(a);
  }
  t->SetNumberOfRows(static_cast<vtkIdType>(rows));
  return t;
}

// A two-column table of (x, y) pairs.
vtkSmartPointer<vtkTable> xy_table(const std::string& x, const std::string& y,
                                   const std::vector<std::pair<double, double>>& pts) {
  auto t = table({x, y}, pts.size());
  for (std::size_t i = 0; i < pts.size(); ++i) {
    t->SetValue(static_cast<vtkIdType>(i), 0, pts[i].first);
    t->SetValue(static_cast<vtkIdType>(i), 1, pts[i].second);
  }
  return t;
}

bool wanted(const VisualOptions& o, const std::string& kind) {
  return o.plots.empty() || std::find(o.plots.begin(), o.plots.end(), kind) != o.plots.end();
}

std::string slug(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return s;
}

// --- ensemble bands --------------------------------------------------------------------

struct Series {
  std::string name, units;
  std::vector<double> times;
  std::function<double(std::size_t s, std::size_t k)> value;
};

// Below this many reading times a channel's spread is drawn as a box per reading, not a band.
constexpr std::size_t kFewReadings = 5;

Figure ensemble_band(const RunData& r, const Series& c, const fs::path& out, const VisualOptions& o) {
  std::vector<std::array<double, 6>> rows;  // t, q05, q25, q50, q75, q95
  for (std::size_t k = 0; k < c.times.size(); ++k) {
    std::vector<double> v;
    for (std::size_t s = 0; s < r.S(); ++s) {
      const double x = c.value(s, k);
      if (std::isfinite(x)) v.push_back(x);
    }
    if (v.empty()) continue;
    rows.push_back({c.times[k], anchor::quantile(v, 0.05), anchor::quantile(v, 0.25), anchor::quantile(v, 0.5),
                    anchor::quantile(v, 0.75), anchor::quantile(v, 0.95)});
  }
  if (rows.empty()) throw std::runtime_error("no finite values of '" + c.name + "' to draw");
  auto t = table({"t", "q05", "q25", "median", "q75", "q95"}, rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (int j = 0; j < 6; ++j) t->SetValue(static_cast<vtkIdType>(i), j, rows[i][static_cast<std::size_t>(j)]);
  Canvas canvas(o);
  vtkNew<vtkChartXY> chart;
  canvas.scene()->AddItem(chart);
  if (rows.size() < kFewReadings) {
    // A channel read a few times (a yield monitor at harvest): a band between two or three
    // points says little and VTK's area plot may draw nothing, so each reading time gets a
    // box: 5-95 % as a thin bar, 25-75 % as a thick one, the median as a point.
    for (const auto& row : rows) {
      for (const auto& [lo, hi, width, rgb] :
           {std::tuple<int, int, float, Rgb>{1, 5, 3.0f, Rgb{158, 202, 225}}, {2, 4, 14.0f, Rgb{66, 146, 198}}}) {
        auto seg = table({"t", "v"}, 2);
        seg->SetValue(0, 0, row[0]);
        seg->SetValue(0, 1, row[static_cast<std::size_t>(lo)]);
        seg->SetValue(1, 0, row[0]);
        seg->SetValue(1, 1, row[static_cast<std::size_t>(hi)]);
        vtkPlot* bar = chart->AddPlot(vtkChart::LINE);
        bar->SetInputData(seg, 0, 1);
        colour(bar, rgb, width);
        bar->SetLabel(lo == 1 ? "90 % of samples" : "50 % of samples");
        if (&row != &rows.front()) bar->SetLegendVisibility(false);
      }
    }
    auto* median = vtkPlotPoints::SafeDownCast(chart->AddPlot(vtkChart::POINTS));
    median->SetInputData(t, 0, 3);
    colour(median, kBlack, 1.0f);
    median->SetMarkerStyle(vtkPlotPoints::CIRCLE);
    median->SetMarkerSize(10.0f);
    median->SetLabel("median");
    // Room on both sides of the first and last reading, so no box is cut in half at the edge.
    const double t0 = rows.front()[0], t1 = rows.back()[0], pad = std::max(0.08 * (t1 - t0), 0.5);
    chart->GetAxis(vtkAxis::BOTTOM)->SetBehavior(vtkAxis::FIXED);
    chart->GetAxis(vtkAxis::BOTTOM)->SetRange(t0 - pad, t1 + pad);
    // Head room above the tallest box for the legend.
    double lo = rows.front()[1], hi = rows.front()[5];
    for (const auto& row : rows) {
      lo = std::min(lo, row[1]);
      hi = std::max(hi, row[5]);
    }
    const double span = hi > lo ? hi - lo : std::max(std::abs(hi), 1.0);
    chart->GetAxis(vtkAxis::LEFT)->SetBehavior(vtkAxis::FIXED);
    chart->GetAxis(vtkAxis::LEFT)->SetRange(lo - 0.05 * span, hi + 0.35 * span);
  } else {
  auto* outer = vtkPlotArea::SafeDownCast(chart->AddPlot(vtkChart::AREA));
  outer->SetInputData(t);
  outer->SetInputArray(0, "t");
  outer->SetInputArray(1, "q05");
  outer->SetInputArray(2, "q95");
  outer->GetBrush()->SetColor(198, 219, 239);
  outer->SetLabel("90 % of samples");
  auto* inner = vtkPlotArea::SafeDownCast(chart->AddPlot(vtkChart::AREA));
  inner->SetInputData(t);
  inner->SetInputArray(0, "t");
  inner->SetInputArray(1, "q25");
  inner->SetInputArray(2, "q75");
  inner->GetBrush()->SetColor(107, 174, 214);
  inner->SetLabel("50 % of samples");
  vtkPlot* median = chart->AddPlot(vtkChart::LINE);
  median->SetInputData(t, 0, 3);
  colour(median, kBlue, 3.0f);
  median->SetLabel("median");
  }
  style(chart, c.name + ": " + std::to_string(r.S()) + " samples", with_units("time", r.data.time_units),
        with_units(c.name, c.units));
  legend(chart);
  Figure f{"ensemble", (out / ("ensemble-" + slug(c.name) + ".png")).string(), "Ensemble of " + c.name,
           "Median (line), 50 % and 90 % bands of " + c.name + " over " + std::to_string(r.S()) +
               " samples at each reading time."};
  canvas.save(f.file);
  return f;
}

// --- parameters: marginals and pairwise scatter ------------------------------------------

Figure parameter_matrix(const RunData& r, const fs::path& out, const VisualOptions& o) {
  std::vector<std::size_t> vary = r.varying_parameters();
  if (vary.size() > 5) vary.resize(5);
  const int k = static_cast<int>(vary.size());
  const auto& d = r.data;
  // Each panel gets room enough to read: the default plot size (960 x 600) crams five rows of
  // charts, so at the default size the matrix grows with its parameters; a size asked for is kept.
  VisualOptions room = o;
  const engine::ReportSpec defaults;
  if (o.width == defaults.width && o.height == defaults.height) {
    room.width = std::max(o.width, 240 * k);
    room.height = std::max(o.height, 200 * k);
  }
  Canvas canvas(room);
  // Each parameter's range, and the axis range that shows it with a margin, so points and bars
  // at the ends are not cut in half by the frame.
  std::map<std::size_t, std::pair<double, double>> range;
  for (std::size_t pc : vary) {
    double lo = INFINITY, hi = -INFINITY;
    for (std::size_t s = 0; s < r.S(); ++s) {
      lo = std::min(lo, r.parameter(s, pc));
      hi = std::max(hi, r.parameter(s, pc));
    }
    range[pc] = {lo, hi};
  }
  // Values far from 1 (a Paris constant of 1e-14) are drawn in units of a power of ten, named on
  // the axis: VTK's bars and ticks lose their width and labels at such scales.
  std::map<std::size_t, double> unit;
  for (std::size_t pc : vary) {
    const double m = std::max(std::abs(range[pc].first), std::abs(range[pc].second));
    const int e = m > 0.0 ? static_cast<int>(std::floor(std::log10(m))) : 0;
    unit[pc] = (e <= -3 || e >= 5) ? std::pow(10.0, e) : 1.0;
    range[pc] = {range[pc].first / unit[pc], range[pc].second / unit[pc]};
  }
  const auto value = [&](std::size_t s, std::size_t pc) { return r.parameter(s, pc) / unit[pc]; };
  const auto title = [&](std::size_t pc) {
    std::string u = unit_at(d.parameter_units, pc);
    if (unit[pc] != 1.0) u = core::format_number(unit[pc]) + (u.empty() ? "" : " " + u);
    return with_units(d.parameter_names[pc], u);
  };
  const auto padded = [&](vtkAxis* axis, std::size_t pc) {
    const auto [lo, hi] = range[pc];
    const double m = 0.06 * (hi > lo ? hi - lo : std::max(std::abs(hi), 1.0));
    axis->SetBehavior(vtkAxis::FIXED);
    axis->SetRange(lo - m, hi + m);
  };
  vtkNew<vtkChartMatrix> matrix;
  canvas.scene()->AddItem(matrix);
  matrix->SetSize(vtkVector2i(k, k));
  matrix->SetGutter(vtkVector2f(k > 3 ? 40.f : 60.f, k > 3 ? 40.f : 60.f));
  const int font = k > 3 ? 11 : 14;
  std::vector<vtkSmartPointer<vtkTable>> keep;
  for (int row = 0; row < k; ++row)
    for (int col = 0; col <= row; ++col) {
      vtkChart* chart = matrix->GetChart(vtkVector2i(col, k - 1 - row));
      const std::size_t pc = vary[static_cast<std::size_t>(col)], pr = vary[static_cast<std::size_t>(row)];
      const std::string xname = row == k - 1 ? title(pc) : "";
      if (row == col) {
        // Histogram: 20 bins over the range, bars as wide as their bins (a bar's width is in
        // data units: the default of 1 is a hairline for a Paris constant of 1e-14).
        const auto [lo, hi] = range[pc];
        const int B = 20;
        std::vector<double> count(B, 0.0);
        for (std::size_t s = 0; s < r.S(); ++s) {
          const int b = std::min(B - 1, static_cast<int>((value(s, pc) - lo) / (hi - lo) * B));
          count[static_cast<std::size_t>(b)] += 1.0;
        }
        auto t = table({"x", "count"}, B);
        for (int b = 0; b < B; ++b) {
          t->SetValue(b, 0, lo + (b + 0.5) * (hi - lo) / B);
          t->SetValue(b, 1, count[static_cast<std::size_t>(b)]);
        }
        keep.push_back(t);
        auto* bars = vtkPlotBar::SafeDownCast(chart->AddPlot(vtkChart::BAR));
        bars->SetInputData(t, 0, 1);
        colour(bars, kBlue, 1.0f);
        bars->SetWidth(static_cast<float>(0.85 * (hi - lo) / B));
        style(chart, "", xname, col == 0 ? "samples" : "", font);
        padded(chart->GetAxis(vtkAxis::BOTTOM), pc);
      } else {
        auto t = table({"x", "y"}, r.S());
        for (std::size_t s = 0; s < r.S(); ++s) {
          t->SetValue(static_cast<vtkIdType>(s), 0, value(s, pc));
          t->SetValue(static_cast<vtkIdType>(s), 1, value(s, pr));
        }
        keep.push_back(t);
        auto* pts = vtkPlotPoints::SafeDownCast(chart->AddPlot(vtkChart::POINTS));
        pts->SetInputData(t, 0, 1);
        colour(pts, kOrange, 1.0f);
        pts->SetMarkerStyle(vtkPlotPoints::CIRCLE);
        pts->SetMarkerSize(k > 3 ? 3.f : 5.f);
        style(chart, "", xname, col == 0 ? title(pr) : "", font);
        padded(chart->GetAxis(vtkAxis::BOTTOM), pc);
        padded(chart->GetAxis(vtkAxis::LEFT), pr);
      }
    }
  Figure f{"parameters", (out / "parameters.png").string(), "Parameter samples",
           "Marginal histograms (diagonal) and pairwise scatter of the " + std::to_string(k) +
               " varying parameters over " + std::to_string(r.S()) + " samples."};
  canvas.save(f.file);
  return f;
}

// --- RUL curves ---------------------------------------------------------------------------

Figure rul_curves(const RunData& r, std::size_t label, const fs::path& out, const VisualOptions& o) {
  const auto& d = r.data;
  const std::size_t R = d.record_label_names.size(), count = std::min<std::size_t>(r.S(), 25);
  Canvas canvas(o);
  vtkNew<vtkChartXY> chart;
  canvas.scene()->AddItem(chart);
  std::vector<vtkSmartPointer<vtkTable>> keep;
  for (std::size_t s = 0; s < count; ++s) {
    std::vector<std::pair<double, double>> pts;
    for (std::size_t t = 0; t < r.T(); ++t) {
      const double v = d.record_labels[(s * r.T() + t) * R + label];
      if (std::isfinite(v)) pts.emplace_back(d.times[t], v);
    }
    if (pts.size() < 2) continue;
    auto t = xy_table("t", "rul", pts);
    keep.push_back(t);
    vtkPlot* line = chart->AddPlot(vtkChart::LINE);
    line->SetInputData(t, 0, 1);
    colour(line, kPalette[s % 8], 3.0f);
    line->SetLegendVisibility(false);
  }
  const std::string name = d.record_label_names[label];
  style(chart, name + " of " + std::to_string(count) + " units", with_units("time", d.time_units),
        with_units(name, unit_at(d.record_label_units, label)));
  Figure f{"rul", (out / "rul.png").string(), "Remaining useful life",
           "The per-record label " + name + " against time for the first " + std::to_string(count) +
               " samples; each curve ends where its unit fails or the run ends."};
  canvas.save(f.file);
  return f;
}

// --- yield map ----------------------------------------------------------------------------

Figure yield_map(const RunData& field, std::size_t label, const fs::path& out, const VisualOptions& o) {
  const auto& d = field.data;
  const int rows = d.field_rows, cols = d.field_cols;
  const double h = d.field_cell_size_m > 0 ? d.field_cell_size_m : 1.0;
  vtkNew<vtkImageData> img;
  img->SetDimensions(cols, rows, 1);
  img->SetOrigin(0.5 * h, 0.5 * h, 0.0);
  img->SetSpacing(h, h, 1.0);
  img->AllocateScalars(VTK_DOUBLE, 1);
  double lo = INFINITY, hi = -INFINITY;
  for (int k = 0; k < rows * cols; ++k) *static_cast<double*>(img->GetScalarPointer(k % cols, k / cols, 0)) = NAN;
  for (std::size_t s = 0; s < field.S(); ++s) {
    const double v = d.labels[s * d.num_labels() + label];
    *static_cast<double*>(img->GetScalarPointer(d.plot[2 * s + 1], d.plot[2 * s], 0)) = v;
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!(hi > lo)) hi = lo + 1.0;
  vtkNew<vtkColorTransferFunction> map;  // viridis, five stops
  const double stops[5][3] = {{0.267, 0.005, 0.329},
                              {0.229, 0.322, 0.546},
                              {0.128, 0.567, 0.551},
                              {0.369, 0.789, 0.383},
                              {0.993, 0.906, 0.144}};
  for (int i = 0; i < 5; ++i) map->AddRGBPoint(lo + (hi - lo) * i / 4.0, stops[i][0], stops[i][1], stops[i][2]);
  map->SetNanColor(1.0, 1.0, 1.0);
  Canvas canvas(o);
  vtkNew<vtkChartHistogram2D> chart;
  canvas.scene()->AddItem(chart);
  chart->SetInputData(img);
  chart->SetTransferFunction(map);
  const std::string name = d.label_names[label];
  style(chart, name + " over the field", "x [m]", "y [m]");
  Figure f{"yield_map", (out / "yield-map.png").string(), "Map of " + name,
           name + " of each of the " + std::to_string(rows) + " x " + std::to_string(cols) + " plots (" +
               core::format_number(h) + " m cells), from " + core::format_number(lo) + " to " +
               core::format_number(hi) + " " + unit_at(d.label_units, label) + "."};
  canvas.save(f.file);
  return f;
}

// --- PINN against CVODES --------------------------------------------------------------------

Figure pinn_error(const RunData& r, const CsvTable& audit, const fs::path& out, const VisualOptions& o) {
  std::vector<std::size_t> error_cols;
  for (std::size_t c = 0; c < audit.header.size(); ++c)
    if (audit.header[c].rfind("error_", 0) == 0) error_cols.push_back(c);
  const std::size_t sample_col = audit.column("sample");
  std::map<std::uint64_t, std::size_t> row_of;
  for (std::size_t s = 0; s < r.S(); ++s) row_of[r.sample[s]] = s;
  std::vector<std::size_t> vary = r.varying_parameters();
  if (vary.size() > 4) vary.resize(4);
  std::vector<std::pair<std::size_t, double>> points;  // run row, worst state error
  for (std::size_t i = 0; i < audit.rows.size(); ++i) {
    double worst = NAN;
    for (std::size_t c : error_cols) {
      const double e = audit.number(i, c);
      if (std::isfinite(e)) worst = std::isfinite(worst) ? std::max(worst, e) : e;
    }
    const auto it = row_of.find(static_cast<std::uint64_t>(audit.number(i, sample_col)));
    if (std::isfinite(worst) && worst > 0 && it != row_of.end()) points.emplace_back(it->second, worst);
  }
  if (points.empty() || vary.empty()) throw std::runtime_error("no verified PINN samples to draw");
  Canvas canvas(o);
  vtkNew<vtkChartMatrix> matrix;
  canvas.scene()->AddItem(matrix);
  matrix->SetSize(vtkVector2i(static_cast<int>(vary.size()), 1));
  matrix->SetGutter(vtkVector2f(50.f, 60.f));
  std::vector<vtkSmartPointer<vtkTable>> keep;
  const auto& d = r.data;
  for (std::size_t j = 0; j < vary.size(); ++j) {
    auto t = table({"theta", "error"}, points.size());
    for (std::size_t i = 0; i < points.size(); ++i) {
      t->SetValue(static_cast<vtkIdType>(i), 0, r.parameter(points[i].first, vary[j]));
      t->SetValue(static_cast<vtkIdType>(i), 1, points[i].second);
    }
    keep.push_back(t);
    vtkChart* chart = matrix->GetChart(vtkVector2i(static_cast<int>(j), 0));
    auto* pts = vtkPlotPoints::SafeDownCast(chart->AddPlot(vtkChart::POINTS));
    pts->SetInputData(t, 0, 1);
    colour(pts, kRed, 1.0f);
    pts->SetMarkerStyle(vtkPlotPoints::CIRCLE);
    pts->SetMarkerSize(6.f);
    chart->GetAxis(vtkAxis::LEFT)->SetLogScale(true);
    style(chart, "", with_units(d.parameter_names[vary[j]], unit_at(d.parameter_units, vary[j])),
          j == 0 ? "relative L2 error" : "", 14);
  }
  Figure f{"pinn_error", (out / "pinn-error.png").string(), "PINN against CVODES",
           "Relative L2 error (worst state) of the " + std::to_string(points.size()) +
               " samples re-solved with CVODES, against each varying parameter."};
  canvas.save(f.file);
  return f;
}

// --- fault-frequency spectra --------------------------------------------------------------

Figure spectra_plot(const std::vector<FaultSpectrum>& spectra, const RunData& r, const fs::path& out,
                    const VisualOptions& o) {
  const int k = static_cast<int>(spectra.size());
  Canvas canvas(o);
  vtkNew<vtkChartMatrix> matrix;
  canvas.scene()->AddItem(matrix);
  matrix->SetSize(vtkVector2i(1, k));
  matrix->SetGutter(vtkVector2f(60.f, k > 3 ? 45.f : 60.f));
  const int font = k > 3 ? 12 : 14;
  std::vector<vtkSmartPointer<vtkTable>> keep;
  for (int i = 0; i < k; ++i) {
    const FaultSpectrum& f = spectra[static_cast<std::size_t>(i)];
    vtkChart* chart = matrix->GetChart(vtkVector2i(0, k - 1 - i));  // the first mode on top
    std::vector<std::pair<double, double>> pts(f.order.size());
    double top = 0.0;
    for (std::size_t b = 0; b < f.order.size(); ++b) {
      pts[b] = {f.order[b], f.amplitude[b]};
      top = std::max(top, f.amplitude[b]);
    }
    auto t = xy_table("order", "envelope", pts);
    keep.push_back(t);
    vtkPlot* line = chart->AddPlot(vtkChart::LINE);
    line->SetInputData(t, 0, 1);
    line->SetLabel("envelope spectrum");
    colour(line, kBlue, 1.5f);
    // The defect frequencies as vertical markers (orders are the same for every unit of a geometry).
    const std::pair<const char*, double> marks[] = {
        {"FTF", f.orders.ftf}, {"BPFO", f.orders.bpfo}, {"BPFI", f.orders.bpfi}, {"BSF", f.orders.bsf}};
    const Rgb mark_colour[] = {kGrey, kOrange, kGreen, kRed};
    for (std::size_t m = 0; m < 4; ++m) {
      auto mt = xy_table("order", marks[m].first, {{marks[m].second, 0.0}, {marks[m].second, top * 1.05}});
      keep.push_back(mt);
      vtkPlot* mark = chart->AddPlot(vtkChart::LINE);
      mark->SetInputData(mt, 0, 1);
      mark->SetLabel(marks[m].first);
      colour(mark, mark_colour[m], 2.0f, 200);
      mark->GetPen()->SetLineType(vtkPen::DASH_LINE);
      mark->SetLegendVisibility(i == 0);
    }
    line->SetLegendVisibility(i == 0);
    const std::string title = f.mode + ": sample " + std::to_string(f.sample) + " at " +
                              core::format_significant(f.time, 4) + " " + r.data.time_units + ", spall " +
                              core::format_significant(f.spall, 3) + " mm, " + core::format_significant(f.shaft_hz, 3) +
                              " Hz shaft";
    style(chart, title, i == k - 1 ? "frequency / shaft frequency (order)" : "", "envelope [g]", font);
    chart->GetTitleProperties()->SetFontSize(font + 1);
    if (i == 0) legend(vtkChartXY::SafeDownCast(chart), font);
  }
  Figure fig{"spectra", (out / "fault-spectra.png").string(), "Fault-frequency spectra",
             "Envelope spectrum of the vibration snapshot behind the recorded features, for the unit of each fault "
             "mode with the largest spall at its last reading; dashed lines mark the cage (FTF), outer-race (BPFO), "
             "inner-race (BPFI) and ball-spin (BSF) orders."};
  canvas.save(fig.file);
  return fig;
}

}  // namespace

std::vector<Figure> plot_run(const std::string& run_dir, const std::string& out_dir, const VisualOptions& o) {
  return plot_run(load_run(run_dir, samples_to_read(o)), out_dir, o);
}

std::vector<Figure> plot_run(const RunData& r, const std::string& out_dir, const VisualOptions& o) {
  const fs::path out(out_dir);
  std::vector<Figure> figures;
  const std::string run_dir = r.folder.directory;
  const auto& d = r.data;
  if (wanted(o, "ensemble")) {
    std::vector<Series> series;
    for (std::size_t c = 0; c < d.observations.size(); ++c) {
      const auto& ob = d.observations[c];
      series.push_back({ob.name, ob.units, ob.times,
                        [&ob](std::size_t s, std::size_t k) { return ob.values[s * ob.times.size() + k]; }});
    }
    if (series.empty())
      for (std::size_t i = 0; i < r.N(); ++i)
        series.push_back({d.state_names[i], unit_at(d.state_units, i), d.times,
                          [&r, i](std::size_t s, std::size_t k) { return r.state(s, k, i); }});
    if (series.size() > 8) series.resize(8);
    for (const auto& c : series) figures.push_back(ensemble_band(r, c, out, o));
  }
  if (wanted(o, "parameters") && !r.varying_parameters().empty()) figures.push_back(parameter_matrix(r, out, o));
  if (wanted(o, "rul")) {
    for (std::size_t l = 0; l < d.record_label_names.size(); ++l) {
      const std::string& n = d.record_label_names[l];
      if (n == "rul" || n.find("remaining") != std::string::npos) {
        figures.push_back(rul_curves(r, l, out, o));
        break;
      }
    }
  }
  if (wanted(o, "yield_map") && d.field_rows > 0 && d.num_labels() > 0) {
    std::size_t label = 0;
    for (std::size_t l = 0; l < d.num_labels(); ++l)
      if (d.label_names[l].find("yield") != std::string::npos) {
        label = l;
        break;
      }
    figures.push_back(yield_map(r, label, out, o));  // load_run reads a field whole
  }
  const fs::path audit = fs::path(run_dir) / "pinn_audit.csv";
  if (wanted(o, "pinn_error") && fs::exists(audit)) {
    const CsvTable t = read_csv(audit.string());
    bool any = false;
    for (std::size_t i = 0; i < t.rows.size() && !any; ++i)
      for (std::size_t c = 0; c < t.header.size(); ++c)
        any = any || (t.header[c].rfind("error_", 0) == 0 && std::isfinite(t.number(i, c)));
    if (any) figures.push_back(pinn_error(r, t, out, o));
  }
  if (wanted(o, "spectra")) {
    const auto spectra = fault_spectra(r);
    if (!spectra.empty()) figures.push_back(spectra_plot(spectra, r, out, o));
  }
  return figures;
}

std::vector<Figure> plot_validation(const std::string& anchor_dir, const std::string& out_dir,
                                    const VisualOptions& o);

std::vector<Figure> plot_calibration(const std::string& anchor_dir, const std::string& out_dir,
                                     const VisualOptions& o) {
  std::vector<Figure> figures = plot_validation(anchor_dir, out_dir, o);
  if (!wanted(o, "calibration")) return figures;
  const CsvTable t = read_csv((fs::path(anchor_dir) / "residuals.csv").string());
  const std::size_t cu = t.column("unit"), co = t.column("observable"), cv = t.column("value"), cb = t.column("before"),
                    ca = t.column("after");
  if (co == std::string::npos || cv == std::string::npos || cb == std::string::npos || ca == std::string::npos)
    throw std::runtime_error(anchor_dir + "/residuals.csv: expected columns unit, observable, value, before, after");
  std::vector<std::string> observables;
  for (const auto& row : t.rows)
    if (std::find(observables.begin(), observables.end(), row[co]) == observables.end()) observables.push_back(row[co]);
  for (const auto& name : observables) {
    std::vector<std::size_t> rows;
    std::set<std::string> units;
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      if (t.rows[i][co] == name) {
        rows.push_back(i);
        if (cu != std::string::npos) units.insert(t.rows[i][cu]);
      }
    // Each prediction against its reading: on the black diagonal where the model is right. This
    // works whatever the readings are taken over (time, a dose, a covariate).
    auto tab = table({"real", "before", "after"}, rows.size());
    double lo = INFINITY, hi = -INFINITY;
    for (std::size_t k = 0; k < rows.size(); ++k) {
      for (int j = 0; j < 3; ++j) {
        const double v = t.number(rows[k], j == 0 ? cv : (j == 1 ? cb : ca));
        tab->SetValue(static_cast<vtkIdType>(k), j, v);
        if (std::isfinite(v)) {
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
      }
    }
    Canvas canvas(o);
    vtkNew<vtkChartXY> chart;
    canvas.scene()->AddItem(chart);
    const auto diagonal = xy_table("x", "y", {{lo, lo}, {hi, hi}});
    vtkPlot* line = chart->AddPlot(vtkChart::LINE);
    line->SetInputData(diagonal, 0, 1);
    colour(line, kBlack, 2.0f);
    line->SetLabel("model = reading");
    const std::pair<const char*, Rgb> series[] = {{"before calibration", kOrange}, {"after calibration", kBlue}};
    for (int j = 0; j < 2; ++j) {
      auto* p = vtkPlotPoints::SafeDownCast(chart->AddPlot(vtkChart::POINTS));
      p->SetInputData(tab, 0, 1 + j);
      colour(p, series[j].second, 1.0f);
      p->SetMarkerStyle(j == 0 ? vtkPlotPoints::DIAMOND : vtkPlotPoints::CIRCLE);
      p->SetMarkerSize(8.f);
      p->SetLabel(series[j].first);
    }
    style(chart, name + ": the model against the real readings", "real " + name, "model " + name);
    legend(chart);
    Figure f{"calibration", (fs::path(out_dir) / ("calibration-" + slug(name) + ".png")).string(),
             "Calibration of " + name,
             "The model's prediction at each of the " + std::to_string(rows.size()) + " real readings of " + name +
                 " (" + std::to_string(units.size()) +
                 " units) against the reading, with the priors' medians (before) and the calibrated parameters "
                 "(after); on the diagonal the model is right."};
    canvas.save(f.file);
    figures.push_back(f);
  }
  return figures;
}

std::vector<Figure> plot_validation(const std::string& anchor_dir, const std::string& out_dir,
                                    const VisualOptions& o) {
  std::vector<Figure> figures;
  const fs::path file = fs::path(anchor_dir) / "validation.csv";
  if (!wanted(o, "calibration") || !fs::exists(file)) return figures;
  const CsvTable t = read_csv(file.string());
  const std::size_t cu = t.column("unit"), co = t.column("observable"), cc = t.column("rmse_calibrated"),
                    cp = t.column("rmse_prior"), cb = t.column("rmse_baseline");
  for (const std::size_t c : {cu, co, cc, cp, cb})
    if (c == std::string::npos)
      throw std::runtime_error(file.string() +
                               ": expected columns unit, observable, rmse_calibrated, rmse_prior, rmse_baseline");
  std::vector<std::string> observables;
  for (const auto& row : t.rows)
    if (std::find(observables.begin(), observables.end(), row[co]) == observables.end()) observables.push_back(row[co]);
  for (const auto& name : observables) {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      if (t.rows[i][co] == name) rows.push_back(i);
    // Three bars per held-out unit, side by side at its number: calibrated, prior, baseline.
    Canvas canvas(o);
    vtkNew<vtkChartXY> chart;
    canvas.scene()->AddItem(chart);
    const std::pair<const char*, Rgb> series[] = {
        {"calibrated (refit without the unit)", kBlue}, {"priors' medians", kOrange}, {"training units' mean", kGrey}};
    const std::size_t columns[] = {cc, cp, cb};
    std::vector<vtkSmartPointer<vtkTable>> keep;
    for (int j = 0; j < 3; ++j) {
      auto tab = table({"unit", "rmse"}, rows.size());
      for (std::size_t k = 0; k < rows.size(); ++k) {
        tab->SetValue(static_cast<vtkIdType>(k), 0, static_cast<double>(k + 1));
        const double v = t.number(rows[k], columns[j]);
        tab->SetValue(static_cast<vtkIdType>(k), 1, std::isfinite(v) ? v : 0.0);
      }
      keep.push_back(tab);
      auto* bars = vtkPlotBar::SafeDownCast(chart->AddPlot(vtkChart::BAR));
      bars->SetInputData(tab, 0, 1);  // the chart sets the three series side by side around each x
      colour(bars, series[j].second, 1.0f);
      bars->SetLabel(series[j].first);
    }
    style(chart, name + ": held-out units predicted without their readings", "held-out unit (validation.csv order)",
          "RMSE of " + name);
    legend(chart);
    Figure f{"calibration", (fs::path(out_dir) / ("validation-" + slug(name) + ".png")).string(),
             "Out of sample: " + name,
             "For each of the " + std::to_string(rows.size()) + " held-out units (in the order of validation.csv), the RMSE "
                 "of its " + name + " readings predicted by the calibration refitted without it, by the priors' "
                 "medians and by the training units' mean curve. Lower is better; where the blue bar is not the "
                 "lowest, the calibration does not transfer to that unit."};
    canvas.save(f.file);
    figures.push_back(f);
  }
  return figures;
}

// One line per strategy (column cs) of y (column cy) against x (column cx) over the rows `use`
// accepts, sorted by x; with markers at the points. Returns the tables the chart draws from.
template <class Use>
std::vector<vtkSmartPointer<vtkTable>> strategy_lines(vtkChartXY* chart, const CsvTable& t, std::size_t cs,
                                                      const std::vector<std::string>& strategies, std::size_t cx,
                                                      std::size_t cy, const std::string& x_name, bool markers,
                                                      Use use) {
  std::vector<vtkSmartPointer<vtkTable>> keep;
  for (std::size_t k = 0; k < strategies.size(); ++k) {
    std::vector<std::pair<double, double>> pts;
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      if (t.rows[i][cs] == strategies[k] && use(i) && std::isfinite(t.number(i, cy)))
        pts.emplace_back(t.number(i, cx), t.number(i, cy));
    if (pts.empty()) continue;
    std::sort(pts.begin(), pts.end());
    auto tab = xy_table(x_name, strategies[k], pts);
    keep.push_back(tab);
    vtkPlot* line = chart->AddPlot(vtkChart::LINE);
    line->SetInputData(tab, 0, 1);
    colour(line, kPalette[k % 8], 3.0f);
    line->SetLabel(strategies[k]);
    if (!markers) continue;
    auto* dots = vtkPlotPoints::SafeDownCast(chart->AddPlot(vtkChart::POINTS));
    dots->SetInputData(tab, 0, 1);
    colour(dots, kPalette[k % 8], 1.0f);
    dots->SetMarkerStyle(vtkPlotPoints::CIRCLE);
    dots->SetMarkerSize(7.f);
    dots->SetLegendVisibility(false);
  }
  return keep;
}

std::vector<Figure> plot_collapse(const std::string& collapse_dir, const std::string& out_dir, const VisualOptions& o) {
  std::vector<Figure> figures;
  if (!wanted(o, "collapse")) return figures;
  const CsvTable t = read_csv((fs::path(collapse_dir) / "collapse.csv").string());
  const std::size_t cs = t.column("strategy"), cg = t.column("generation"), cq = t.column("quantity"),
                    cv = t.column("value");
  if (cs == std::string::npos || cg == std::string::npos || cq == std::string::npos || cv == std::string::npos)
    throw std::runtime_error(collapse_dir + "/collapse.csv: expected columns strategy, generation, quantity, value");
  std::vector<std::string> quantities, strategies;
  for (const auto& row : t.rows) {
    if (std::find(quantities.begin(), quantities.end(), row[cq]) == quantities.end()) quantities.push_back(row[cq]);
    if (std::find(strategies.begin(), strategies.end(), row[cs]) == strategies.end()) strategies.push_back(row[cs]);
  }
  // What moves between generations: not the bookkeeping (training sizes) or the real data's own sd.
  quantities.erase(std::remove_if(quantities.begin(), quantities.end(),
                                  [](const std::string& q) {
                                    return q == "generation" || q.rfind("training.", 0) == 0 ||
                                           q.find(".real_sd") != std::string::npos;
                                  }),
                   quantities.end());
  if (quantities.size() > 12) quantities.resize(12);
  for (const auto& q : quantities) {
    Canvas canvas(o);
    vtkNew<vtkChartXY> chart;
    canvas.scene()->AddItem(chart);
    const auto keep = strategy_lines(chart, t, cs, strategies, cg, cv, "generation", true,
                                     [&](std::size_t i) { return t.rows[i][cq] == q; });
    style(chart, q + " per generation", "generation", q);
    legend(chart);
    Figure f{"collapse", (fs::path(out_dir) / ("collapse-" + slug(q) + ".png")).string(), q + " across generations",
             q + " in each generation of the collapse experiment, one line per strategy (replace, accumulate, "
                 "anchor)."};
    canvas.save(f.file);
    figures.push_back(f);
  }
  return figures;
}

// The hybrid-mix curve of `physynth active --mix` (mix.csv): the real test RMSE against synthetic
// rows per real row, and the synthetic rows alone as a level line.
Figure plot_mix(const std::string& active_dir, const std::string& out_dir, const VisualOptions& o) {
  const CsvTable t = read_csv((fs::path(active_dir) / "mix.csv").string());
  const std::size_t cr = t.column("ratio"), cv = t.column("rmse");
  if (cr == std::string::npos || cv == std::string::npos)
    throw std::runtime_error(active_dir + "/mix.csv: expected columns ratio and rmse");
  std::vector<std::pair<double, double>> mix, alone;
  double alone_rmse = std::nan("");
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    if (t.rows[i][cr] == "synthetic_only") alone_rmse = t.number(i, cv);
    else if (std::isfinite(t.number(i, cv))) mix.emplace_back(t.number(i, cr), t.number(i, cv));
  }
  std::sort(mix.begin(), mix.end());
  Canvas canvas(o);
  vtkNew<vtkChartXY> chart;
  canvas.scene()->AddItem(chart);
  std::vector<vtkSmartPointer<vtkTable>> keep;
  const auto add = [&](const std::string& name, const std::vector<std::pair<double, double>>& pts, int k) {
    if (pts.empty()) return;
    auto tab = xy_table("ratio", name, pts);
    keep.push_back(tab);
    vtkPlot* line = chart->AddPlot(vtkChart::LINE);
    line->SetInputData(tab, 0, 1);
    colour(line, kPalette[k], 3.0f);
    line->SetLabel(name);
  };
  add("real + synthetic", mix, 0);
  if (std::isfinite(alone_rmse) && !mix.empty())
    add("synthetic alone", {{mix.front().first, alone_rmse}, {mix.back().first, alone_rmse}}, 1);
  style(chart, "Hybrid mixes: error on the real test units", "synthetic rows per real training row", "RMSE");
  legend(chart);
  Figure f{"active", (fs::path(out_dir) / "active-mix.png").string(), "Hybrid mixes",
           "The model's RMSE on the real test units (never trained on) when trained on the real training units plus "
           "synthetic rows at each ratio; the level line is the synthetic rows alone."};
  canvas.save(f.file);
  return f;
}

std::vector<Figure> plot_active(const std::string& active_dir, const std::string& out_dir, const VisualOptions& o) {
  std::vector<Figure> figures;
  if (!wanted(o, "active")) return figures;
  if (fs::exists(fs::path(active_dir) / "mix.csv")) figures.push_back(plot_mix(active_dir, out_dir, o));
  if (!fs::exists(fs::path(active_dir) / "rounds.csv")) return figures;
  // Learning curves: each error measure against the training samples, a line per strategy.
  const CsvTable t = read_csv((fs::path(active_dir) / "rounds.csv").string());
  const std::size_t cs = t.column("strategy"), cn = t.column("samples");
  if (cs == std::string::npos || cn == std::string::npos)
    throw std::runtime_error(active_dir + "/rounds.csv: expected columns strategy, samples and the errors");
  std::vector<std::string> strategies;
  for (const auto& row : t.rows)
    if (std::find(strategies.begin(), strategies.end(), row[cs]) == strategies.end()) strategies.push_back(row[cs]);
  const std::vector<std::pair<std::string, std::string>> measures = {
      {"rmse", "test RMSE"}, {"p95_abs_error", "95th percentile of the absolute error"},
      {"max_abs_error", "largest absolute error"}, {"real_rmse", "RMSE on the real data"},
      {"real_max_abs_error", "largest absolute error on the real data"}};
  for (const auto& [column, what] : measures) {
    const std::size_t cv = t.column(column);
    if (cv == std::string::npos) continue;
    Canvas canvas(o);
    vtkNew<vtkChartXY> chart;
    canvas.scene()->AddItem(chart);
    const auto keep = strategy_lines(chart, t, cs, strategies, cn, cv, "samples", false, [](std::size_t) { return true; });
    style(chart, "Learning curves: " + what, "training samples", what);
    legend(chart);
    Figure f{"active", (fs::path(out_dir) / ("active-" + slug(column) + ".png")).string(), "Learning curves (" + what + ")",
             "The downstream model's " + what +
                 (column.rfind("real_", 0) == 0 ? " (the --real file, never trained on)"
                                                : " on the fixed test set (prior samples, never trained on)") +
                 " after each round, one line per strategy at equal budgets."};
    canvas.save(f.file);
    figures.push_back(f);
  }
  // Where the samples went: the active strategy's first two design coordinates, by origin.
  const CsvTable smp = read_csv((fs::path(active_dir) / "samples.csv").string());
  std::vector<std::size_t> coords;
  for (std::size_t c = 0; c < smp.header.size(); ++c)
    if (smp.header[c].rfind("u_", 0) == 0) coords.push_back(c);
  const std::size_t so = smp.column("origin"), ss = smp.column("strategy");
  if (coords.size() >= 2 && so != std::string::npos && ss != std::string::npos) {
    Canvas canvas(o);
    vtkNew<vtkChartXY> chart;
    canvas.scene()->AddItem(chart);
    std::vector<vtkSmartPointer<vtkTable>> keep;
    const std::vector<std::string> origins = {"initial", "space-filling", "targeted"};
    for (std::size_t k = 0; k < origins.size(); ++k) {
      std::vector<std::pair<double, double>> pts;
      for (std::size_t i = 0; i < smp.rows.size(); ++i)
        if (smp.rows[i][ss] == "active" && smp.rows[i][so] == origins[k])
          pts.emplace_back(smp.number(i, coords[0]), smp.number(i, coords[1]));
      if (pts.empty()) continue;
      auto tab = xy_table(smp.header[coords[0]], origins[k], pts);
      keep.push_back(tab);
      auto* p = vtkPlotPoints::SafeDownCast(chart->AddPlot(vtkChart::POINTS));
      p->SetInputData(tab, 0, 1);
      colour(p, kPalette[k % 8], 1.0f);
      p->SetMarkerStyle(vtkPlotPoints::CIRCLE);
      p->SetMarkerSize(5.f);
      p->SetLabel(origins[k]);
    }
    if (!keep.empty()) {
      style(chart, "Where the active samples went", smp.header[coords[0]].substr(2) + " (design coordinate)",
            smp.header[coords[1]].substr(2) + " (design coordinate)");
      legend(chart);
      Figure f{"active", (fs::path(out_dir) / "active-samples.png").string(), "Where the samples went",
               "The active strategy's samples in the first two design coordinates (each parameter's prior quantile): "
               "the initial Sobol points, each round's prior probes (space-filling) and the draws steered towards "
               "the model's errors (targeted)."};
      canvas.save(f.file);
      figures.push_back(f);
    }
  }
  return figures;
}

}  // namespace physynth::viz
