// A scenario: what to simulate, how many samples, which sensors, where to
// write. Loaded from YAML (schema: docs/scenarios.md) with every problem
// reported at once; a Scenario that exists has passed validation.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/anchor/calibration.h"
#include "physynth/anchor/population.h"
#include "physynth/core/diagnostics.h"
#include "physynth/core/distribution.h"
#include "physynth/core/model_binding.h"
#include "physynth/core/random_field.h"
#include "physynth/core/sampling.h"
#include "physynth/pinn/options.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::pinn {
class Network;
}

namespace physynth::engine {

struct ParameterSpec {
  std::string name;
  std::string units;
  std::string description;
  core::Distribution distribution;
};

// Fires where a state, or an expression of the state (a vibration level, say),
// crosses a threshold; located by CVODES' root finding.
struct EventSpec {
  enum class Action { kStop, kRecord };
  std::string name;
  std::string state;  // either a state ...
  int state_index = -1;
  std::string expression;  // ... or an expression over states, parameters and t
  double threshold = 0.0;
  int direction = 0;  // +1 rising, -1 falling, 0 either
  Action action = Action::kRecord;
};

// What a real instrument adds to a true value x(t), applied in this order:
//   x * (1 + multiplicative_sd * e1)  + bias + drift(t) + additive_sd * e2
//     (+ spike_amplitude * e3 with probability spike_probability: electrical spikes, loose contacts),
//   then saturation, quantisation, dropout (a missing value, NaN).
// bias ~ N(bias_mean, bias_sd) once per sample; drift is a random walk with
// drift_sd per square root of a time unit; e1, e2 ~ N(0, 1) per reading.
struct NoiseModel {
  double additive_sd = 0.0;
  double multiplicative_sd = 0.0;
  double log_sd = 0.0;  // log-normal factor exp(log_sd * e), e ~ N(0, 1): the anchor's fitted log_normal noise
  double bias_mean = 0.0;
  double bias_sd = 0.0;
  double drift_sd = 0.0;
  double quantisation_step = 0.0;  // 0: no quantisation
  std::optional<double> saturation_low;
  std::optional<double> saturation_high;
  double dropout_probability = 0.0;
  double spike_probability = 0.0;  // per reading
  double spike_amplitude = 0.0;    // standard deviation of a spike, in the channel's units
};

struct ObservationSpec {
  std::string name;
  std::string expression;  // over state names, parameter names and t (core/expression_parser.h)
  int derived_index = -1;  // or one of the model's derived channels (a vibration feature, say)
  std::string units;
  double sample_interval = 0.0;  // in time units; 0: at every point of the time grid
  NoiseModel noise;
};

//   initial rate   the slope of a least-squares line through an observation channel's readings
//                  (or a state's values) in [from, from + window]: an enzyme assay's initial rate
struct LabelSpec {
  enum class Kind { kEventTime, kFinalValue, kInitialRate };
  std::string name;
  Kind kind = Kind::kFinalValue;
  std::string event;  // kEventTime
  int event_index = -1;
  std::string expression;  // kFinalValue: evaluated on the state where integration ended
  std::string units;
  // kInitialRate
  std::string source;          // the observation channel or state
  int observation_index = -1;  // or
  int state_index = -1;
  double from = 0.0, window = 0.0;
};

// A label at every record (output time) of a sample:
//   remaining time   t_event - t, optionally clipped at `clip` (piecewise-linear RUL); missing
//                    where the event never fired (a censored unit: its remaining life is unknown)
//   expression       over the state at that time (health stage, say: "VB < 0.1 ? 0 : (VB < 0.3 ? 1 : 2)")
struct RecordLabelSpec {
  enum class Kind { kRemainingTime, kExpression };
  std::string name;
  Kind kind = Kind::kExpression;
  std::string event;
  int event_index = -1;
  std::optional<double> clip;
  std::string expression;
  std::string units;
};

// Operating regimes that change over a unit's life (as the six operating
// conditions of C-MAPSS): some parameters take the values of one of a few
// discrete conditions, a new one drawn every `every` time units (keyed on
// seed, sample and interval). Integration restarts at each switch.
struct RegimeSpec {
  bool present = false;
  std::vector<std::string> parameters;          // which parameters the regimes set
  std::vector<int> parameter_indices;           // into the model's parameters
  std::vector<std::vector<double>> conditions;  // one value per parameter, per condition
  std::vector<double> weights;                  // probability of each condition (normalised)
  double every = 0.0;                           // regime length, time units
};

// Training feeds (engine/feed.h): sliding windows over observation channels
// with a per-record label as target, split by unit.
struct FeedSpec {
  bool present = false;
  std::vector<std::string> channels;  // observation names, all with the same reading times
  std::string target;                 // a per-record label, taken at each window's last reading
  std::size_t window = 30;            // readings per window
  std::size_t stride = 1;             // readings between window ends
  std::size_t batch_size = 256;
  double validation_fraction = 0.15;  // of the units (samples), never of the rows
  double test_fraction = 0.15;
  std::vector<std::string> cmapss_settings;  // up to 3 parameters for the C-MAPSS export's settings columns
  std::vector<std::string> cmapss_sensors;   // up to 21 channels for its sensor columns
};

// A field: the samples are the plots of a rows x cols grid (sample = row * cols + col), and
// some parameters vary over it as stationary Gaussian random fields (core/random_field.h):
// neighbouring plots alike, distant ones independent. Each parameter's field is one
// realisation keyed on (seed, its position in the list); values are clipped to [low, high].
struct FieldParameterSpec {
  std::string name;
  int index = -1;              // into the model's parameters
  core::FieldOptions options;  // rows, cols and cell size are the field's
  double low = -std::numeric_limits<double>::infinity(), high = std::numeric_limits<double>::infinity();
};

struct FieldSpec {
  bool present = false;
  int rows = 0, cols = 0;
  double cell_size_m = 0.0;
  std::vector<FieldParameterSpec> parameters;
};

enum class OutputFormat { kHdf5, kCsv, kNpy };
const char* format_name(OutputFormat f);

// The `output.report` section: what `physynth report` (and run/anchor --report) draws.
struct ReportSpec {
  std::vector<std::string> plots;   // plot kinds (report_plot_kinds()); empty: every kind that applies
  int width = 960, height = 600;    // pixels per plot
  std::string format = "png";       // png: VTK files and PNG plots; vtk: VTK files only (no display needed)
  std::uint64_t max_samples = 200;  // trajectories drawn in VTK files and curves
};

// Every plot kind a report can draw (viz/viz.h describes each).
const std::vector<std::string>& report_plot_kinds();

// output.waveforms: the raw signal behind the model's derived channels (a bearing's vibration
// snapshot), at every `every`-th of the readings where a feature is recorded; written into each
// HDF5 shard (group waveforms) as float32, one chunk per snapshot.
struct WaveformSpec {
  bool present = false;
  std::size_t every = 1;
};

struct OutputSpec {
  ReportSpec report;
  WaveformSpec waveforms;
  std::string directory;
  std::vector<OutputFormat> formats = {OutputFormat::kHdf5};
  std::uint64_t shard_size = 1000;  // samples per shard file
  int compression = 4;              // deflate level 0-9 for HDF5
};

// What integrates the samples: CVODES, or a trained parametric PINN (pinn/pinn.h)
// evaluated in batches, its physics residual audited and, above a threshold,
// the sample re-solved with CVODES.
enum class Backend { kCvode, kPinn };

// The `pinn:` section: the network a `backend: pinn` run uses, and how
// `physynth train-pinn` trains one for the scenario.
struct PinnSpec {
  std::string model;           // the trained network (.pt, with its .json sidecar); relative to the scenario's folder
  std::uint64_t verify = 20;   // samples re-solved with CVODES for the audit's errors
  int residual_points = 64;    // times per sample at which the residual is evaluated (uniform in t^)
  double gate_residual = 0.0;  // > 0: a sample whose RMS residual exceeds it is re-solved with CVODES
  // The network's layers in float32 or its own dtype: "auto" (float32 for a float64 network whose
  // sidecar reports a median test error of at least kFloat32LayersBelow), "float64" or "float32".
  std::string precision = "auto";
  std::string precision_used, precision_reason;  // at load: "float32" or "float64", and why
  pinn::TimeScaling time;
  pinn::NetworkOptions network;
  pinn::TrainOptions train;  // train.device is also the device a backend pinn run evaluates on
  std::shared_ptr<const pinn::Network> network_loaded;  // backend pinn: loaded and checked against the model
};

// The `anchor:` section: how `physynth anchor` calibrates the scenario on a real-data file
// (anchor/real_data.h), engine/anchor.h.
struct AnchorObservableSpec {
  std::string name;            // the observable column's value in the real-data file
  std::string observation;     // the observation channel (or state) it measures
  int observation_index = -1;  // into Scenario::observations, or
  int state_index = -1;        // a state
  std::string units;           // the channel's
  anchor::NoiseKind noise = anchor::NoiseKind::kAdditive;
  double sigma = 0.0;  // > 0: known; 0: estimated
  // A random feature (a vibration feature) is fitted as the mean of this many seeded draws.
  int draws = 4;
};

struct AnchorFitSpec {
  std::string parameter;
  int index = -1;  // into the model's parameters
  double low = 0.0, high = 0.0;
  bool log = true;
  bool per_unit = false;
  double start = 0.0;  // the prior's median, else the middle of the bounds
};

// anchor.population: fit the per-unit parameters as a population (anchor/population.h).
struct AnchorPopulationSpec {
  bool present = false;
  bool full_covariance = false;
  std::string group;                   // a covariate column whose value names each unit's group
  std::vector<std::string> per_group;  // fitted parameters with one value (or mean) per group
  std::vector<anchor::CovariateEffect> covariates;
};

struct AnchorSpec {
  bool present = false;
  AnchorPopulationSpec population;
  std::string data;  // the default real-data file (resolved against the scenario's folder); --data overrides
  std::vector<AnchorObservableSpec> observables;
  std::vector<AnchorFitSpec> fit;
  anchor::CalibrationOptions options;
};

// `population:` (written by `physynth anchor` after a population fit): each sample's random
// parameters are drawn jointly from the fitted population. The sampled value of each random
// parameter (its prior is the marginal normal or log-normal) gives an independent z; then
// η = L z (L the Cholesky factor of Ω) and the unit is the population's typical unit for its
// group and covariates, moved by η (anchor::PopulationModel::parameters).
struct PopulationGeneratorSpec {
  bool present = false;
  std::string group;  // the parameter whose value names a sample's group; empty: one group
  anchor::PopulationModel model;
};

// sampling.condition: samples conditioned on an outcome that the prior makes rare (an early
// failure, a fast binder), drawn by the active library's importance sampling or subset simulation
// (active/rare_event.h), which also estimate the event's probability under the prior. The
// condition compares two expressions over the labels and parameters; the sampler follows its
// response r (lhs - rhs for '<' and '<=', rhs - lhs for '>' and '>='), the event being r < 0
// (r <= 0 when inclusive).
struct RareEventSpec {
  enum class Method { kImportance, kSplitting };
  bool present = false;
  Method method = Method::kImportance;
  std::string condition;  // as written
  std::string lhs, rhs;
  bool greater = false;    // '>' or '>='
  bool inclusive = false;  // '<=' or '>='
  double level_probability = 0.1;  // splitting: the share of a level's samples that seed the next
  std::uint64_t samples_per_level = 1000;
  int max_levels = 40;
};

struct Scenario {
  std::string file;
  std::string source_sha256;  // of the scenario file's bytes
  std::vector<std::string> overrides;
  std::string name;
  std::string description;
  std::string domain;
  core::BuiltModel model;
  std::vector<ParameterSpec> parameters;  // aligned with model.model->parameters()
  core::Design design = core::Design::kRandom;
  std::uint64_t samples = 1;
  std::uint64_t seed = 0;
  std::vector<double> times;  // output grid, strictly increasing
  std::string time_units;
  solvers::OdeOptions solver;
  // solver.method Rosenbrock (Rodas5P, solvers/rosenbrock.h) or the NDF (solvers/ndf.h)
  // instead of CVODES: solver.method rosenbrock or ndf, or auto (the default) for a small dense
  // system they support (not crop models that advance themselves, nor backend pinn): Rodas5P,
  // or the NDF where a pilot on the first samples counts at most 0.8 of Rodas5P's work
  // (engine/src/integrator_pilot.cpp); every solve of the scenario (run, anchor, validation)
  // uses it, a calibration that needs sensitivities Rodas5P. solver_method is what the scenario
  // asked for ("auto", "bdf", "adams", "rosenbrock", "ndf"); solver_choice says what auto chose
  // and why.
  std::string solver_method = "auto";
  std::string solver_choice;
  std::vector<EventSpec> events;
  std::vector<ObservationSpec> observations;
  std::vector<LabelSpec> labels;
  std::vector<RecordLabelSpec> record_labels;
  OutputSpec output;
  RegimeSpec regimes;
  FeedSpec feed;
  FieldSpec field;
  Backend backend = Backend::kCvode;
  PinnSpec pinn;
  AnchorSpec anchor;
  PopulationGeneratorSpec population;
  RareEventSpec rare_event;
  nlohmann::ordered_json provenance;  // `provenance:` as written by physynth anchor (free-form, kept in the manifest)
  nlohmann::ordered_json resolved;    // the scenario after defaults and overrides
};

// Domains that can be named in `domain:`.
std::vector<std::string> known_domains();
// The binding that reads a domain's `model:` section; nullptr for an unknown domain.
core::ModelBinding domain_binding(const std::string& domain);

struct LoadOptions {
  // `physynth validate`: a backend-pinn scenario whose pinn.model is not trained yet is a note,
  // not an error (`run` needs the network; `validate` checks the rest).
  bool untrained_network_is_note = false;
};

// Reads and validates a scenario file, applying `overrides` ("key=value", as
// from --set) first. Reports every problem to `diagnostics` and returns
// nullopt if there is any error.
std::optional<Scenario> load_scenario(const std::string& path, const std::vector<std::string>& overrides,
                                      core::Diagnostics& diagnostics, const LoadOptions& options = {});

}  // namespace physynth::engine
