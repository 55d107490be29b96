// The scenario's `output:` section: where and how a run writes (directory, formats, shards,
// compression, the report's options and raw waveforms).
#include <algorithm>
#include <cmath>

#include "scenario_readers.h"

namespace physynth::engine::detail {

// Names in `list` must be among `valid` (what they are: "observation", "parameter").
std::vector<std::string> read_names(const ConfigNode& list, const std::vector<std::string>& valid,
                                    const std::string& what, std::size_t at_most) {
  std::vector<std::string> out;
  if (!list.expect_sequence()) return out;
  if (list.size() > at_most)
    list.error(list.path() + " may name at most " + std::to_string(at_most) + " " + what + "s, got " +
               std::to_string(list.size()));
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto n = list[i].as_string()) {
      if (std::find(valid.begin(), valid.end(), *n) == valid.end()) {
        std::string msg = list[i].path() + ": unknown " + what + " '" + *n + "'" +
                          (valid.empty() ? "; the scenario has none" : "; they are " + core::join(valid));
        const std::string hint = core::closest_match(*n, valid);
        if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
        list[i].error(msg);
      } else {
        out.push_back(*n);
      }
    }
  return out;
}

namespace {

// output.waveforms: the raw signal behind the derived channels, at every k-th of their readings.
void read_waveforms(const ConfigNode& w, Scenario& s) {
  if (!w.expect_map()) return;
  w.check_keys({"every"});
  WaveformSpec& spec = s.output.waveforms;
  spec.present = true;
  read_int(w, "every", 1, 1000000, spec.every);
  const core::Model* model = s.model.model.get();
  if (model && !model->has_derived_signal()) {
    w.error("output.waveforms: model '" + model->name() +
            "' synthesises no raw signal; the bearing model (domain manufacturing) does, its vibration snapshots");
    return;
  }
  const bool reads_features = std::any_of(s.observations.begin(), s.observations.end(),
                                          [](const ObservationSpec& o) { return o.derived_index >= 0; });
  if (model && !reads_features) {
    w.error(
        "output.waveforms: no observation reads a feature of the signal (e.g. {name: vib_rms, feature: vib_rms}); "
        "waveforms are written at those readings");
    return;
  }
  if (std::find(s.output.formats.begin(), s.output.formats.end(), OutputFormat::kHdf5) == s.output.formats.end())
    w.error("output.waveforms are written into the HDF5 shards; add hdf5 to output.formats");
  if (!model || s.times.empty()) return;
  // A shard's snapshots are held in memory until the shard is written.
  std::size_t readings = 0;
  for (const auto& o : s.observations)
    if (o.derived_index >= 0)
      readings =
          std::max(readings, o.sample_interval > 0.0
                                 ? static_cast<std::size_t>((s.times.back() - s.times.front()) / o.sample_interval) + 1
                                 : s.times.size());
  const double kept = std::ceil(static_cast<double>(readings) / static_cast<double>(spec.every));
  const std::uint64_t per_shard = std::min<std::uint64_t>(s.output.shard_size, s.samples);
  const double bytes =
      static_cast<double>(per_shard) * kept * static_cast<double>(model->derived_signal_info().length) * sizeof(float);
  if (bytes > 2.0 * (1u << 30))
    w.error("output.waveforms: a shard's snapshots would take " + core::format_significant(bytes / (1u << 30), 3) +
            " GiB in memory (" + std::to_string(per_shard) + " samples x " + format_number(kept) + " readings x " +
            std::to_string(model->derived_signal_info().length) +
            " points x 4 bytes), more than 2 GiB; raise output.waveforms.every or lower output.shard_size");
}

}  // namespace

void read_output(const ConfigNode& out, Scenario& s) {
  if (out.expect_map()) {
    out.check_keys({"directory", "formats", "shard_size", "compression", "report", "waveforms"});
    if (out.has("report") && out["report"].expect_map()) {
      const ConfigNode rep = out["report"];
      ReportSpec& r = s.output.report;
      rep.check_keys({"plots", "width", "height", "format", "max_samples"});
      if (rep.has("plots")) r.plots = read_names(rep["plots"], report_plot_kinds(), "plot kind", 64);
      read_int(rep, "width", 64, 8192, r.width);
      read_int(rep, "height", 64, 8192, r.height);
      if (rep.has("format"))
        if (auto f = rep["format"].as_enum({"png", "vtk"})) r.format = *f;
      if (rep.has("max_samples"))
        if (auto n = rep["max_samples"].as_integer()) {
          if (*n < 1)
            rep["max_samples"].error("output.report.max_samples must be >= 1, got " + num_text(rep["max_samples"]));
          else
            r.max_samples = static_cast<std::uint64_t>(*n);
        }
    }
    if (out.has("directory"))
      if (auto d = out["directory"].as_string()) {
        if (d->empty())
          out["directory"].error("output.directory must not be empty");
        else
          s.output.directory = *d;
      }
    if (out.has("formats") && out["formats"].expect_sequence()) {
      s.output.formats.clear();
      const ConfigNode list = out["formats"];
      for (std::size_t i = 0; i < list.size(); ++i)
        if (auto f = list[i].as_enum({"hdf5", "csv", "npy"})) {
          const OutputFormat fmt = *f == "hdf5"  ? OutputFormat::kHdf5
                                   : *f == "csv" ? OutputFormat::kCsv
                                                 : OutputFormat::kNpy;
          if (std::find(s.output.formats.begin(), s.output.formats.end(), fmt) == s.output.formats.end())
            s.output.formats.push_back(fmt);
        }
      if (list.size() == 0) out["formats"].error("output.formats must name at least one of 'hdf5', 'csv' or 'npy'");
    }
    if (out.has("shard_size"))
      if (auto n = out["shard_size"].as_integer()) {
        if (*n < 1)
          out["shard_size"].error("output.shard_size must be >= 1, got " + num_text(out["shard_size"]));
        else
          s.output.shard_size = static_cast<std::uint64_t>(*n);
      }
    if (out.has("compression"))
      if (auto n = out["compression"].as_integer()) {
        if (*n < 0 || *n > 9)
          out["compression"].error("output.compression must be between 0 and 9, got " + num_text(out["compression"]));
        else
          s.output.compression = static_cast<int>(*n);
      }
    if (out.has("waveforms")) read_waveforms(out["waveforms"], s);  // after shard_size
  }
}

}  // namespace physynth::engine::detail
