// Units simulated by a scenario, written as real data (anchor/real_data.h), for the tests of
// physynth active's --real and --mix: what the loop must read back as the model's rows.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "physynth/anchor/real_data.h"
#include "physynth/core/text.h"
#include "physynth/engine/run.h"

namespace physynth::testing {

// Units simulated by the scenario itself, written as real data (anchor/real_data.h): every
// `keep`-th reading of each channel, the target label (per sample, at time 0; or a per-record
// one at each kept reading), a covariate column. What the loop must read as the model's rows.
inline std::string write_real(const engine::Scenario& s, std::size_t units, std::size_t keep, const std::string& target,
                       const std::string& covariate, const std::string& name) {
  engine::ShardGenerator gen(s, 1);
  const engine::Shard sh = gen.samples(900000, units);
  const auto path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream out(path);
  out << "unit,time,observable,value" << (covariate.empty() ? "" : "," + covariate) << "\n";
  const std::size_t P = sh.parameter_names.size();
  const auto c = std::find(sh.parameter_names.begin(), sh.parameter_names.end(), covariate) - sh.parameter_names.begin();
  for (std::size_t i = 0; i < units; ++i) {
    const std::string cov = covariate.empty() ? "" : "," + core::format_number(sh.parameters[i * P + c]);
    for (const auto& ob : sh.observations)
      for (std::size_t j = 0; j < ob.times.size(); j += keep) {
        const double v = ob.values[i * ob.times.size() + j];
        if (std::isfinite(v)) out << "u" << i << ',' << core::format_number(ob.times[j]) << ',' << ob.name << ','
                                  << core::format_number(v) << cov << "\n";
      }
    const auto l = std::find(sh.label_names.begin(), sh.label_names.end(), target) - sh.label_names.begin();
    if (static_cast<std::size_t>(l) < sh.label_names.size()) {
      out << "u" << i << ",0," << target << ',' << core::format_number(sh.labels[i * sh.num_labels() + l]) << cov << "\n";
      continue;
    }
    const auto r = std::find(sh.record_label_names.begin(), sh.record_label_names.end(), target) -
                   sh.record_label_names.begin();
    const std::size_t T = sh.times.size(), L = sh.record_label_names.size();
    for (std::size_t j = 0; j < T; j += keep) {
      const double y = sh.record_labels[(i * T + j) * L + r];
      if (std::isfinite(y)) out << "u" << i << ',' << core::format_number(sh.times[j]) << ',' << target << ','
                                << core::format_number(y) << cov << "\n";
    }
  }
  return path;
}

inline anchor::RealData read_real(const std::string& path) {
  core::Diagnostics d;
  auto data = anchor::read_real_data(path, d);
  INFO(d.report());
  REQUIRE(data);
  return *data;
}

}  // namespace physynth::testing
