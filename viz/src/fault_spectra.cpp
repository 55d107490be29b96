#include "fault_spectra.h"

#include <cmath>
#include <map>
#include <set>

#include "physynth/core/random.h"
#include "physynth/engine/run_folder.h"

namespace physynth::viz {

namespace mf = domains::manufacturing;

std::vector<FaultSpectrum> fault_spectra(const RunData& r) {
  const auto& resolved = r.folder.manifest["scenario"]["resolved"];
  if (resolved.value("domain", "") != "manufacturing" || resolved.contains("regimes")) return {};
  const auto model = engine::model_of_run(r.folder);
  const auto* bearing = dynamic_cast<const mf::BearingDegradation*>(model.get());
  if (!bearing) return {};
  const auto& d = r.data;
  const std::size_t mode_k = RunData::find(d.parameter_names, "fault_mode");
  const std::size_t spall_i = RunData::find(d.state_names, "spall");
  if (spall_i == std::string::npos || d.parameter_names.size() != model->num_parameters()) return {};

  // Rows of the output grid that are readings of a feature channel.
  std::set<std::size_t> readings;
  for (const auto& ob : resolved.value("observations", nlohmann::json::array()))
    if (ob.contains("feature"))
      for (const auto& c : d.observations)
        if (c.name == ob.value("name", ""))
          for (double t : c.times) {
            const auto it = std::lower_bound(d.times.begin(), d.times.end(), t);
            if (it != d.times.end() && *it == t) readings.insert(static_cast<std::size_t>(it - d.times.begin()));
          }
  if (readings.empty())
    for (std::size_t t = 0; t < r.T(); ++t) readings.insert(t);

  // Per mode, the unit with the largest spall at its last reading with finite states.
  std::map<int, std::pair<std::size_t, std::size_t>> chosen;  // mode -> (row, grid row)
  std::map<int, double> largest;
  for (std::size_t s = 0; s < r.S(); ++s) {
    std::size_t last = std::string::npos;
    for (std::size_t t : readings)
      if (std::isfinite(r.state(s, t, spall_i))) last = t;
    if (last == std::string::npos) continue;
    const int mode = mode_k == std::string::npos ? 0 : static_cast<int>(std::lround(r.parameter(s, mode_k)));
    const double spall = r.state(s, last, spall_i);
    if (!largest.count(mode) || spall > largest[mode]) {
      largest[mode] = spall;
      chosen[mode] = {s, last};
    }
  }

  const std::uint64_t seed = r.folder.manifest.value("seed", std::uint64_t{0});
  std::vector<FaultSpectrum> out;
  for (const auto& [mode, where] : chosen) {
    const auto [s, t] = where;
    FaultSpectrum f;
    f.row = s;
    f.sample = r.sample[s];
    f.time = d.times[t];
    f.spall = r.state(s, t, spall_i);
    const double* p = &d.parameters[s * r.M()];
    std::vector<double> y(r.N());
    for (std::size_t i = 0; i < r.N(); ++i) y[i] = r.state(s, t, i);
    core::CounterRng rng(seed, f.sample, core::stream::kDerivedBase + static_cast<std::uint32_t>(t));
    const auto snap = bearing->snapshot(y.data(), p, rng);
    f.mode = mf::fault_mode_name(snap.state.mode);
    f.shaft_hz = snap.state.shaft_hz;
    f.orders = mf::defect_orders(bearing->geometry());
    f.features = mf::snapshot_features(snap.signal, bearing->geometry(), snap.options, f.shaft_hz);
    const auto env = mf::defect_envelope_spectrum(snap.signal, bearing->geometry(), snap.options, f.shaft_hz);
    // Up to 2.5 times the fastest defect frequency: its first harmonics and sidebands.
    const double top = 2.5 * std::max({f.orders.bpfi, f.orders.bpfo, f.orders.bsf});
    for (std::size_t b = 1; b < env.amplitude.size(); ++b) {
      const double order = static_cast<double>(b) * env.resolution_hz / f.shaft_hz;
      if (order > top) break;
      f.order.push_back(order);
      f.amplitude.push_back(env.amplitude[b]);
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace physynth::viz
