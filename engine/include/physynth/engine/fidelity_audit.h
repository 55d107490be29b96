// The fidelity audit (`physynth audit RUN --real real.csv`): how close a run's
// synthetic data are to real data, per observable and jointly.
//
// The synthetic data are first laid out like the real ones: synthetic unit s takes
// the reading times of real unit s mod U (U real units) and its covariates from
// its own sampled parameters, and each reading is the run's observation channel
// (with its sensor noise) at that time. Both sets then become records, one per
// unit, time and replicate: [time, covariates, observables], each feature divided
// by the real data's standard deviation (constant features dropped).
//
// Per observable: Kolmogorov-Smirnov (with a unit permutation p-value) and
// Wasserstein distances of the readings. Jointly, on the records with every
// feature: MMD with a permutation test, correlation matrices, precision and
// recall (k-NN balls), a k-NN classifier two-sample test, the distance to the
// closest real record (copies), and with a label observable, train-synthetic-
// test-real against train-real-test-real (leave one unit out). The classifier
// and precision/recall compare as many synthetic units as there are real ones
// (the first ones), since both depend on the balance; MMD takes up to ten times
// as many (it stays exact, and gains power); the rest use every synthetic unit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/anchor/real_data.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/scenario.h"

namespace physynth::engine {

// Where a real observable is read in a run: an observation channel or a state.
struct ObservableSource {
  std::string observable;
  std::string channel;
};

// From the scenario's `anchor.observables`.
std::vector<ObservableSource> observable_sources(const Scenario& s);

// Synthetic units laid out like `design` (see above), appended to `out` (whose covariate columns
// and file are set from design when it is empty) up to max_units units. Failed samples and samples
// with no reading left (stopped by an event before the first) are skipped. Returns the number of
// readings interpolated between the channel's times (0 when the real times are channel times).
// Throws std::invalid_argument naming what is missing: a channel or a covariate parameter.
// With `coverage`, adds the readings the laid-out units were asked for and those the samples
// had values for: units that stopped early (an event, a failure threshold) cover only part of
// the real time span, and the audit says how much.
struct SyntheticCoverage {
  std::size_t expected = 0, found = 0;
};
std::size_t append_synthetic_units(const Shard& shard, const anchor::RealData& design,
                                   const std::vector<ObservableSource>& sources, std::size_t max_units,
                                   anchor::RealData& out, SyntheticCoverage* coverage = nullptr);

// The same for a finished run: its manifest.json (whose scenario's `anchor.observables` give the
// sources; without them each observable is read from the channel or state of its name) and its
// HDF5 shards, in order. *interpolated receives the count above. Throws std::runtime_error naming
// the file and what is wrong (no manifest, no HDF5 shards, a missing channel).
// Real readings outside the run's time span are refused (std::runtime_error listing them, as
// `physynth anchor` does); the run's data files are checked against manifest.json (DamagedData).
anchor::RealData synthetic_units_of_run(const std::string& run_directory, const anchor::RealData& design,
                                        std::size_t max_units, std::size_t* interpolated,
                                        SyntheticCoverage* coverage = nullptr);

struct FidelityAuditOptions {
  int permutations = 500;
  std::uint64_t seed = 0;
  // Real-against-real reference: the real units split in halves at random this many times, each
  // distance computed between the halves (median and 5th-95th percentile reported beside the
  // synthetic one). 0: none. Needs at least 4 real units.
  int reference_splits = 20;
  int neighbours = 5;  // k of the classifier, the regression and precision/recall
  std::string label;   // an observable to predict from the other features (TSTR); empty: none
};

// The audit as JSON (see above). Throws std::invalid_argument when the label is not an observable.
nlohmann::ordered_json fidelity_audit(const anchor::RealData& real, const anchor::RealData& synthetic,
                                      const FidelityAuditOptions& options);

// A JSON number to 4 significant digits for the reports; "n/a" for null or a non-number.
std::string report_number(const nlohmann::ordered_json& v);

// The audit of a run folder against real data as `physynth audit` writes it: fidelity_audit()
// of the run's first max_units synthetic units, with the run, the readings interpolated and the
// synthetic coverage (units that stopped early cover part of the real span).
nlohmann::ordered_json audit_run(const std::string& run_directory, const anchor::RealData& real,
                                 const FidelityAuditOptions& options, std::size_t max_units);

// The audit as a Markdown report.
std::string fidelity_audit_markdown(const nlohmann::ordered_json& audit);

}  // namespace physynth::engine
