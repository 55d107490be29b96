// The crop domain's `model` section (schema in docs/scenarios.md): one crop
// model run over a season per sample, daily.
//
//   model:
//     type: lintul3              # lintul3 | lingra | wofost72
//     scheme: cvode              # lintul3, lingra: cvode (default, continuous forcing) or euler (PCSE's step)
//     parameter_files: [a.crop, a.soil, a.site]   # PCSE parameter files or PCSE YAML (ModelParameters)
//     agromanagement: a.agro     # PCSE agromanagement: campaign start, crop calendar, apply_n, mowing
//     weather: {file: NL1.997}   # CABO, PCSE CSV (.csv) or PCSE YAML (.yaml) weather ...
//     weather: {generate: {fit: [FR1_1983.csv, ...]}, season: sample}   # ... or generated seasons
//     water: water_limited       # wofost72: water_limited (default) or potential
//     pcse_2018_rules: false     # lintul3: the mineralisation and stress rules of PCSE's 2018 reference
//     TSUM1: 1100                # any number in the parameter files, replaced
//
// Every number of the parameter files is a model parameter (its value the
// default, which a `parameters` entry may replace with a distribution, or a
// field make vary over plots). Paths are relative to the scenario file.
// Time t counts days from the campaign's start (t = 0); the reported
// variables are the model's daily outputs, with PCSE's names, NaN for crop
// variables before the crop starts, and the sample ends where the crop does.
//
// With generated weather, sample i gets season i of the generator fitted to
// the listed records (keyed on the run's seed), or season `season` for all.
#pragma once

#include <optional>

#include "physynth/core/model_binding.h"

namespace physynth::domains::crop {

std::optional<core::BuiltModel> build_from_yaml(const core::ConfigNode& model);

}  // namespace physynth::domains::crop
