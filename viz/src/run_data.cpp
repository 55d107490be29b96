#include "run_data.h"

#include <algorithm>
#include <cmath>

namespace physynth::viz {

std::size_t RunData::find(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? std::string::npos : static_cast<std::size_t>(it - names.begin());
}

std::vector<std::size_t> RunData::varying_parameters() const {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < M(); ++k) {
    double lo = INFINITY, hi = -INFINITY;
    for (std::size_t s = 0; s < S(); ++s) {
      lo = std::min(lo, parameter(s, k));
      hi = std::max(hi, parameter(s, k));
    }
    if (hi > lo) out.push_back(k);
  }
  return out;
}

namespace {

template <class V>
void append_rows(V& into, const V& from, std::size_t row_size, std::size_t rows) {
  into.insert(into.end(), from.begin(), from.begin() + static_cast<std::ptrdiff_t>(row_size * rows));
}

}  // namespace

RunData load_run(const std::string& run_dir, std::size_t max_samples) {
  RunData r;
  r.folder = engine::open_run_folder(run_dir, true, "the report");
  r.total_samples = r.folder.manifest.value("samples", std::uint64_t{0});
  engine::Shard& d = r.data;
  bool first = true;
  for (const auto& path : r.folder.hdf5_shards) {
    if (!first && d.samples >= max_samples) break;
    engine::Shard sh = engine::read_hdf5(path);
    // A field is drawn whole (its images and map), however many samples were asked for.
    if (sh.field_rows > 0) max_samples = std::max(max_samples, static_cast<std::size_t>(sh.field_rows) * sh.field_cols);
    const std::size_t take = std::min(sh.samples, max_samples - std::min(max_samples, d.samples));
    if (first) {
      d = sh;  // names, units, grid; the rows are replaced below
      d.samples = 0;
      d.states.clear();
      d.parameters.clear();
      d.labels.clear();
      d.record_labels.clear();
      d.status.clear();
      d.t_reached.clear();
      d.plot.clear();
      for (auto& o : d.observations) o.values.clear();
      first = false;
    }
    const std::size_t T = d.times.size();
    append_rows(d.states, sh.states, T * d.num_states(), take);
    append_rows(d.parameters, sh.parameters, d.num_parameters(), take);
    append_rows(d.labels, sh.labels, d.num_labels(), take);
    append_rows(d.record_labels, sh.record_labels, T * d.record_label_names.size(), take);
    append_rows(d.status, sh.status, 1, take);
    append_rows(d.t_reached, sh.t_reached, 1, take);
    if (!sh.plot.empty()) append_rows(d.plot, sh.plot, 2, take);
    for (std::size_t c = 0; c < d.observations.size(); ++c)
      append_rows(d.observations[c].values, sh.observations[c].values, sh.observations[c].times.size(), take);
    for (std::size_t s = 0; s < take; ++s) r.sample.push_back(sh.first_sample + s);
    d.samples += take;
  }
  return r;
}

std::size_t samples_to_read(const VisualOptions& options) {
  return std::max<std::size_t>(options.band_samples, options.max_samples);
}

std::string with_units(const std::string& name, const std::string& units) {
  return units.empty() || units == "1" ? name : name + " [" + units + "]";
}

}  // namespace physynth::viz
