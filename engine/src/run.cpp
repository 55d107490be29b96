#include "physynth/engine/run.h"
#include "physynth/core/constants.h"

#include <hdf5.h>
#include <libdeflate.h>
#include <openssl/crypto.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/version.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <boost/version.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>

#include "audit.h"
#include "collective.h"
#include "expression.h"
#include "journal.h"
#include "physynth/core/random.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/health_indicators.h"
#include "physynth/engine/output_folder.h"
#include "physynth/engine/ranks.h"
#include "physynth/pinn/errors.h"
#include "pinn_backend.h"
#include "sha256.h"

namespace physynth::engine {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* physynth_version() { return PHYSYNTH_VERSION; }

std::map<std::string, std::string> library_versions() {
  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
  std::string boost = std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                      std::to_string(BOOST_VERSION % 100);
  return {
      {"SUNDIALS", solvers::sundials_version()},
      {"HDF5", std::to_string(h5_major) + "." + std::to_string(h5_minor) + "." + std::to_string(h5_release)},
      {"yaml-cpp", PHYSYNTH_YAML_CPP_VERSION},
      {"Eigen", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                    std::to_string(EIGEN_MINOR_VERSION)},
      {"oneTBB", TBB_runtime_version()},
      {"Boost", boost},
      {"libdeflate", LIBDEFLATE_VERSION_STRING},
      {"OpenSSL", OpenSSL_version(OPENSSL_VERSION)},
  };
}

namespace {

// The output grid is the scenario's grid plus every observation's reading
// times; obs_rows[c] are the rows of channel c's readings in that grid.
struct Grid {
  std::vector<double> times;
  std::vector<std::vector<std::size_t>> obs_rows;
  std::vector<std::size_t> waveform_rows;  // output.waveforms: every k-th row with a derived reading
};

Grid build_grid(const Scenario& s) {
  Grid g;
  const double t0 = s.times.front(), t1 = s.times.back();
  const double tolerance = 1e-12 * std::max(std::fabs(t1 - t0), std::fabs(t1));
  std::vector<std::vector<double>> obs_times(s.observations.size());
  std::vector<double> all = s.times;
  for (std::size_t c = 0; c < s.observations.size(); ++c) {
    const double dt = s.observations[c].sample_interval;
    if (dt <= 0.0) continue;
    for (std::uint64_t k = 0;; ++k) {
      const double t = t0 + static_cast<double>(k) * dt;
      if (t > t1 + tolerance) break;
      obs_times[c].push_back(std::min(t, t1));
    }
    all.insert(all.end(), obs_times[c].begin(), obs_times[c].end());
  }
  std::sort(all.begin(), all.end());
  for (double t : all)
    if (g.times.empty() || t - g.times.back() > tolerance) g.times.push_back(t);
  auto row_of = [&](double t) {
    auto it = std::lower_bound(g.times.begin(), g.times.end(), t - tolerance);
    return static_cast<std::size_t>(it - g.times.begin());
  };
  for (std::size_t c = 0; c < s.observations.size(); ++c) {
    std::vector<std::size_t> rows;
    if (s.observations[c].sample_interval <= 0.0)
      for (double t : s.times) rows.push_back(row_of(t));
    else
      for (double t : obs_times[c]) rows.push_back(row_of(t));
    g.obs_rows.push_back(std::move(rows));
  }
  if (s.output.waveforms.present) {
    std::vector<std::size_t> derived;
    for (std::size_t c = 0; c < s.observations.size(); ++c)
      if (s.observations[c].derived_index >= 0)
        derived.insert(derived.end(), g.obs_rows[c].begin(), g.obs_rows[c].end());
    std::sort(derived.begin(), derived.end());
    derived.erase(std::unique(derived.begin(), derived.end()), derived.end());
    for (std::size_t k = 0; k < derived.size(); k += s.output.waveforms.every) g.waveform_rows.push_back(derived[k]);
  }
  return g;
}

// Sensor artefacts on one channel of one sample (NoiseModel's order). Every
// random draw is made whether or not the reading exists, so the stream of a
// channel never depends on where a trajectory ended. The streams that give only
// normals are drawn for the whole channel first (CounterRng::normals, the same
// numbers); `scratch` holds them.
void apply_noise(const NoiseModel& nz, std::uint64_t seed, std::uint64_t sample, std::size_t channel,
                 const std::vector<double>& times, double* values, std::vector<double>& scratch) {
  const std::uint32_t base = core::stream::kObservationBase + 16u * static_cast<std::uint32_t>(channel);
  core::CounterRng multiplicative(seed, sample, base + 0), additive(seed, sample, base + 1),
      bias_rng(seed, sample, base + 2), drift_rng(seed, sample, base + 3), dropout(seed, sample, base + 4),
      spikes(seed, sample, base + 5), lognormal(seed, sample, base + 6);
  const double bias = nz.bias_mean + (nz.bias_sd > 0.0 ? nz.bias_sd * bias_rng.normal() : 0.0);
  const std::size_t K = times.size();
  scratch.assign(4 * K, 0.0);
  double *e1 = scratch.data(), *e2 = e1 + K, *e4 = e2 + K, *de = e4 + K;  // de[k]: drift's draw at k >= 1
  if (nz.multiplicative_sd > 0.0) multiplicative.normals(e1, K);
  if (nz.additive_sd > 0.0) additive.normals(e2, K);
  if (nz.log_sd > 0.0) lognormal.normals(e4, K);
  if (nz.drift_sd > 0.0 && K > 1) drift_rng.normals(de + 1, K - 1);
  double drift = 0.0;
  for (std::size_t k = 0; k < K; ++k) {
    if (k > 0 && nz.drift_sd > 0.0) drift += nz.drift_sd * std::sqrt(times[k] - times[k - 1]) * de[k];
    const double u = nz.dropout_probability > 0.0 ? dropout.uniform() : 1.0;
    const bool spike = nz.spike_probability > 0.0 && spikes.uniform() < nz.spike_probability;
    const double e3 = nz.spike_probability > 0.0 ? spikes.normal() : 0.0;
    double v = values[k];
    if (std::isnan(v)) continue;
    v = v * (1.0 + nz.multiplicative_sd * e1[k]);
    if (nz.log_sd > 0.0) v *= std::exp(nz.log_sd * e4[k]);
    v = v + bias + drift + nz.additive_sd * e2[k];  // in the order it always was: the same bytes
    if (spike) v += nz.spike_amplitude * e3;
    if (nz.saturation_low) v = std::max(v, *nz.saturation_low);
    if (nz.saturation_high) v = std::min(v, *nz.saturation_high);
    if (nz.quantisation_step > 0.0) v = nz.quantisation_step * std::round(v / nz.quantisation_step);
    if (u < nz.dropout_probability) v = kNaN;
    values[k] = v;
  }
}

// The absolute tolerance of each state, as the solver and the audit use it.
std::vector<double> state_atol(const Scenario& s) {
  if (!s.solver.atol_per_state.empty()) return s.solver.atol_per_state;
  return std::vector<double>(s.model.model->num_states(), s.solver.atol);
}

// Everything one thread needs to process samples; built once per thread.
struct Worker {
  std::optional<solvers::OdeSolver> solver;  // none for a model that advances itself
  // (the solver holds its own copies of the events: an expression event is not thread-safe)
  std::vector<Expression> observations;  // the expression channels, in order
  std::vector<double> derived;           // scratch: the model's derived channels at one row
  std::vector<double> signal;            // scratch: the signal behind them (output.waveforms)
  std::vector<double> noise_draws;       // scratch: one channel's normal draws (apply_noise)
  std::vector<Expression> labels;
  std::vector<Expression> record_labels;  // the per-record expression labels, in order
  std::vector<double> variables;
  ExpressionInputs inputs;         // fills `variables`
  std::vector<core::Lanes> lanes;  // scratch: an expression's inputs at kLanes readings
  std::vector<double> y0;
  std::vector<double> reference;                  // backend pinn: a CVODES trajectory to check against
  std::vector<core::LinearInvariant> invariants;  // the model's, copied once per thread
  std::vector<double> atol;                       // per state, for the physics-failure rule
  // Samples solved together (OdeSolver::solve_many) before their one-by-one processing.
  std::vector<double> block_y0;
  std::vector<solvers::SolveResult> block_results;

  explicit Worker(const Scenario& s) : inputs(*s.model.model), atol(state_atol(s)) {
    if (!dynamic_cast<const core::SteppedModel*>(s.model.model.get()))
      solver.emplace(s.model.model, s.solver, scenario_events(s.events, s.model.model.get()));
    const auto names = expression_variables(*s.model.model);
    variables.resize(names.size());
    for (const auto& o : s.observations)
      if (o.derived_index < 0) observations.emplace_back(o.expression, names);
    derived.resize(s.model.model->derived_channels().size());
    for (const auto& l : s.labels)
      if (l.kind == LabelSpec::Kind::kFinalValue) labels.emplace_back(l.expression, names);
    for (const auto& r : s.record_labels)
      if (r.kind == RecordLabelSpec::Kind::kExpression) record_labels.emplace_back(r.expression, names);
    y0.resize(s.model.model->num_states());
    invariants = s.model.model->linear_invariants();
  }
};

struct SampleOutcome {
  SampleAudit audit;
  std::vector<int> events_fired;
  // backend pinn
  double pinn_residual = std::numeric_limits<double>::quiet_NaN();  // RMS residual of the network's trajectory
  bool pinn_resolved = false;      // the residual was above the gate: the written trajectory is CVODES'
  std::vector<double> pinn_error;  // verified samples: relative L2 error of each state against CVODES
};

// A unit's operating regimes: the condition of each interval and the
// parameter vector that goes with it.
struct RegimePlan {
  double t0 = 0.0, every = 0.0;
  std::vector<int> sequence;                // condition index per interval
  std::vector<std::vector<double>> params;  // per condition: the sample's parameters with the condition's values

  // Intervals are (t0 + k every, t0 + (k+1) every]: a record at a switch time belongs to the regime
  // that ends there, whose physics produced its state.
  std::size_t interval_of(double t) const {
    if (sequence.size() <= 1) return 0;
    const double k = std::ceil((t - t0) / every) - 1.0;
    return static_cast<std::size_t>(std::clamp(k, 0.0, static_cast<double>(sequence.size() - 1)));
  }
  const double* at(double t) const { return params[static_cast<std::size_t>(sequence[interval_of(t)])].data(); }
};

RegimePlan plan_regimes(const Scenario& s, std::uint64_t sample, const double* p, double t0, double t1) {
  RegimePlan plan;
  const std::size_t m = s.model.model->num_parameters();
  plan.t0 = t0;
  if (!s.regimes.present) {
    plan.sequence = {0};
    plan.params = {std::vector<double>(p, p + m)};
    return plan;
  }
  const RegimeSpec& r = s.regimes;
  plan.every = r.every;
  for (const auto& condition : r.conditions) {
    std::vector<double> q(p, p + m);
    for (std::size_t j = 0; j < r.parameter_indices.size(); ++j)
      q[static_cast<std::size_t>(r.parameter_indices[j])] = condition[j];
    plan.params.push_back(std::move(q));
  }
  const auto intervals = static_cast<std::size_t>(std::max(1.0, std::ceil((t1 - t0) / r.every)));
  core::CounterRng rng(s.seed, sample, core::stream::kRegime);
  for (std::size_t k = 0; k < intervals; ++k) {
    const double u = rng.uniform();
    double cumulative = 0.0;
    int chosen = static_cast<int>(r.conditions.size()) - 1;
    for (std::size_t c = 0; c + 1 < r.conditions.size(); ++c) {
      cumulative += r.weights[c];
      if (u < cumulative) {
        chosen = static_cast<int>(c);
        break;
      }
    }
    plan.sequence.push_back(chosen);
  }
  return plan;
}

// Integrates across the regime switches: CVODES restarts at each one (the
// right-hand side jumps there) from the state reached, events and statistics
// carry over. Without regimes this is one solve.
// One integrator's solve from (t_a, y) through `times` with parameters p; `first`: the model's
// jumps at t_a change y (only the first segment's: later ones were applied by the segment that
// ended there).
using SegmentSolve = std::function<solvers::SolveResult(const double* p, const double* y, double t_a,
                                                        const std::vector<double>& times, double* out, bool first)>;

// The regimes' segments one after the other, each with its condition's parameters, through the
// integrator `solve` (CVODES or Rodas5P).
solvers::SolveResult solve_in_regimes(const SegmentSolve& solve, const RegimePlan& plan, const double* y0,
                                      const std::vector<double>& times, double* states, std::size_t n) {
  if (plan.sequence.size() == 1)
    return solve(plan.params[static_cast<std::size_t>(plan.sequence[0])].data(), y0, times.front(), times, states,
                 true);
  solvers::SolveResult total;
  std::vector<double> y(y0, y0 + n);
  std::size_t row = 0;
  for (; row < times.size() && times[row] <= plan.t0; ++row) std::copy(y0, y0 + n, states + row * n);
  double t_a = plan.t0;
  long totals[solvers::SolverStats::kCount] = {};
  for (std::size_t seg = 0; seg < plan.sequence.size(); ++seg) {
    const bool last = seg + 1 == plan.sequence.size();
    const double t_b = last ? times.back() : plan.t0 + static_cast<double>(seg + 1) * plan.every;
    std::vector<double> seg_times;
    std::size_t end = row;
    for (; end < times.size() && (times[end] < t_b || (times[end] == t_b)); ++end) seg_times.push_back(times[end]);
    const bool extra = seg_times.empty() || seg_times.back() != t_b;
    if (extra) seg_times.push_back(t_b);
    std::vector<double> out(seg_times.size() * n);
    // The model's jumps at t_a were applied by the segment that ended there.
    const auto r = solve(plan.params[static_cast<std::size_t>(plan.sequence[seg])].data(), y.data(), t_a, seg_times,
                         out.data(), seg == 0);
    const std::size_t grid_rows = end - row;
    std::copy(out.begin(), out.begin() + static_cast<long>(std::min(grid_rows, r.rows_written) * n), states + row * n);
    const auto v = r.stats.values();
    for (std::size_t k = 0; k < v.size(); ++k) totals[k] += v[k];
    total.events.insert(total.events.end(), r.events.begin(), r.events.end());
    total.t_reached = r.t_reached;
    if (r.status != solvers::SolveStatus::kSuccess) {
      total.status = r.status;
      total.flag = r.flag;
      total.flag_name = r.flag_name;
      total.message = r.message;
      total.final_state = r.final_state;
      total.rows_written = row + std::min(grid_rows, r.rows_written);
      break;
    }
    y.assign(out.end() - static_cast<long>(n), out.end());
    total.final_state = y;
    total.rows_written = end;
    row = end;
    t_a = t_b;
    if (row >= times.size() && !extra) break;
  }
  solvers::SolverStats& st = total.stats;
  long* fields[] = {&st.steps,
                    &st.rhs_evals,
                    &st.jacobian_evals,
                    &st.linear_setups,
                    &st.error_test_failures,
                    &st.nonlinear_iterations,
                    &st.nonlinear_convergence_failures,
                    &st.root_evals};
  for (std::size_t k = 0; k < solvers::SolverStats::kCount; ++k) *fields[k] = totals[k];
  return total;
}

// A model that advances itself, in the solver's terms: its steps are the step count, and it
// ends either at the grid's end or where the model says (crop maturity, say), both a success.
solvers::SolveResult simulate_stepped(const core::SteppedModel& model, const double* p, std::uint64_t seed,
                                      std::uint64_t sample, const std::vector<double>& times, double* states) {
  const auto result = model.simulate(p, seed, sample, times, states);
  solvers::SolveResult r;
  r.status = result.failed ? solvers::SolveStatus::kFailed : solvers::SolveStatus::kSuccess;
  r.flag_name = result.flag;
  r.message = result.message;
  r.t_reached = result.t_reached;
  r.rows_written = result.rows_written;
  r.final_state = result.final_state;
  r.stats.steps = result.steps;
  return r;  // rows past rows_written keep the NaN make_shard filled them with
}

// The slope of the least-squares line through the finite (t, v) with t in [from, from + window]:
// an assay's initial rate. NaN with fewer than two such points.
double initial_rate(const std::vector<double>& t, const std::vector<double>& v, double from, double window) {
  double st = 0, sv = 0, count = 0;
  for (std::size_t k = 0; k < t.size(); ++k)
    if (t[k] >= from && t[k] <= from + window && std::isfinite(v[k])) {
      st += t[k];
      sv += v[k];
      count += 1;
    }
  if (count < 2) return kNaN;
  const double mt = st / count, mv = sv / count;
  double stt = 0, stv = 0;
  for (std::size_t k = 0; k < t.size(); ++k)
    if (t[k] >= from && t[k] <= from + window && std::isfinite(v[k])) {
      stt += (t[k] - mt) * (t[k] - mt);
      stv += (t[k] - mt) * (v[k] - mv);
    }
  return stt > 0 ? stv / stt : kNaN;
}

// A sample of a `backend: pinn` run: the network's trajectory, unless its parameters are outside
// the trained box (refused) or its residual is above the gate (re-solved with CVODES); a
// verified sample is also solved with CVODES and the difference recorded.
solvers::SolveResult pinn_sample(const Scenario& s, const Grid& grid, Worker& w, const PinnShard& ps, std::size_t i,
                                 const double* p, double* states, bool verify, SampleOutcome& outcome) {
  const core::Model& model = *s.model.model;
  const std::size_t n = model.num_states(), T = grid.times.size();
  solvers::SolveResult r;
  if (!ps.refused[i].empty()) {
    r.status = solvers::SolveStatus::kFailed;
    r.flag_name = "PINN_OUT_OF_RANGE";
    r.message = ps.refused[i];
    r.t_reached = kNaN;
    return r;
  }
  outcome.pinn_residual = ps.residual[i];
  const bool gated = s.pinn.gate_residual > 0 && !(ps.residual[i] <= s.pinn.gate_residual);
  if (gated || verify) {
    model.initial_state(p, w.y0.data());
    w.reference.resize(T * n);
    r = w.solver->solve(p, w.y0.data(), grid.times.front(), grid.times, gated ? states : w.reference.data());
    if (gated) {
      outcome.pinn_resolved = true;
      return r;
    }
    if (r.status == solvers::SolveStatus::kSuccess)
      outcome.pinn_error = pinn::relative_l2_errors(&ps.states[i * T * n], w.reference.data(), T, n);
  }
  std::copy(&ps.states[i * T * n], &ps.states[(i + 1) * T * n], states);
  r = solvers::SolveResult{};
  r.rows_written = T;
  r.t_reached = grid.times.back();
  r.final_state.assign(states + (T - 1) * n, states + T * n);
  return r;
}

struct SampleFailed {};
constexpr double kPinnRelativeAccuracy = 1e-2;  // a sample recorded as failed before its solve

// Samples that can be stepped together (Rodas5P on lanes: no backend pinn, no regimes, no
// sensitivities, a model with a lane right-hand side), this many at a time: each block's solves
// first, into the worker's scratch, then each sample's readings, labels and audit.
constexpr std::size_t kSolvedTogether = 64;

bool solve_together(const Scenario& s, const Worker& w, const Shard& shard, bool pinn) {
  return !pinn && w.solver && w.solver->steps_samples_together() && !s.regimes.present &&
         shard.sensitivity_names.empty();
}

// Samples [first, first + count) of the shard solved into their rows of shard.states, their
// results into the worker's block scratch: each sample's rows and result are, bit for bit, what
// its own solve gives (OdeSolver::solve_many).
void solve_block(const Scenario& s, const Grid& grid, Worker& w, Shard& shard, std::size_t first,
                 std::size_t count) {
  const core::Model& model = *s.model.model;
  const std::size_t n = model.num_states(), m = model.num_parameters(), T = grid.times.size();
  w.block_y0.resize(count * n);
  w.block_results.resize(count);
  const double* p = shard.parameters.data() + first * m;
  for (std::size_t k = 0; k < count; ++k) model.initial_state(p + k * m, w.block_y0.data() + k * n);
  w.solver->solve_many(count, p, w.block_y0.data(), grid.times.front(), grid.times,
                       shard.states.data() + first * T * n, w.block_results.data());
}

// A sample's solve done already (solve_block): its result; its rows are in place.
struct Solved {
  const solvers::SolveResult* result = nullptr;
};

// An expression channel's readings: the expression at each reading's row, kLanes rows at once
// (lane l of an evaluation is, bit for bit, the expression at its row alone); NaN at the rows
// the solve did not reach.
void expression_readings(const Expression& expression, const ExpressionInputs& inputs, std::vector<core::Lanes>& lanes,
                         const Grid& grid, const std::vector<std::size_t>& rows, std::size_t rows_written,
                         const RegimePlan& plan, const double* states, std::size_t n, double* values) {
  lanes.resize(inputs.size());
  std::size_t pending[core::kLanes];                      // the readings in the lanes
  const double* parameters_in[core::kLanes] = {nullptr};  // whose values each lane holds
  int filled = 0;
  const auto evaluate = [&] {
    for (int l = filled; l < core::kLanes; ++l) {  // spare lanes repeat the last reading
      for (auto& v : lanes) v.v[l] = v.v[filled - 1];
      parameters_in[l] = parameters_in[filled - 1];
    }
    const core::Lanes out = expression.evaluate(lanes.data());
    for (int l = 0; l < filled; ++l) values[pending[l]] = out.v[l];
    filled = 0;
  };
  for (std::size_t j = 0; j < rows.size(); ++j) {
    const std::size_t row = rows[j];
    if (row >= rows_written) {
      values[j] = kNaN;
      continue;
    }
    const double* q = plan.at(grid.times[row]);
    if (q != parameters_in[filled]) inputs.fill_lane_parameters(filled, parameters_in[filled] = q, lanes.data());
    inputs.fill_lane_point(filled, grid.times[row], states + row * n, lanes.data());
    pending[filled++] = j;
    if (filled == core::kLanes) evaluate();
  }
  if (filled > 0) evaluate();
}

void process_sample(const Scenario& s, const Grid& grid, Worker& w, Shard& shard, std::size_t i, SampleOutcome& outcome,
                    const PinnShard* pinn = nullptr, bool verify = false, const Solved* solved = nullptr) {
  const core::Model& model = *s.model.model;
  const std::size_t n = model.num_states(), m = model.num_parameters(), T = grid.times.size();
  const std::uint64_t sample = shard.sample_keys.empty() ? shard.first_sample + i : shard.sample_keys[i];
  const double* p = shard.parameters.data() + (i * m);
  double* states = shard.states.data() + (i * T * n);
  const std::size_t K = shard.sensitivity_names.size();
  double* sensitivities = K > 0 ? shard.sensitivities.data() + (i * T * K * n) : nullptr;
  std::int8_t& status = shard.status[i];
  auto fail = [&](const std::string& flag, const std::string& message) {
    status = static_cast<std::int8_t>(SampleStatus::kFailed);
    shard.failure_flag[i] = flag;
    shard.failure_message[i] = message;
  };

  solvers::SolveResult r;
  try {
    // Parameters drawn out of range of a double (a huge sd, an overflowing transform) are no sample.
    for (std::size_t k = 0; k < m; ++k)
      if (!std::isfinite(p[k])) {
        shard.t_reached[i] = grid.times.front();
        fail("NONFINITE_PARAMETER", "parameter " + model.parameters()[k].name + " is " + core::format_number(p[k]) +
                                        " (check its distribution in the scenario)");
        throw SampleFailed{};
      }
    const RegimePlan plan = plan_regimes(s, sample, p, grid.times.front(), grid.times.back());
    if (s.regimes.present) {
      // The parameters written for the sample are those in force at t0.
      std::copy(plan.at(grid.times.front()), plan.at(grid.times.front()) + m, shard.parameters.data() + (i * m));
    }
    if (const auto* stepped = dynamic_cast<const core::SteppedModel*>(&model)) {
      r = simulate_stepped(*stepped, p, s.seed, sample, grid.times, states);
    } else if (pinn) {
      r = pinn_sample(s, grid, w, *pinn, i, p, states, verify, outcome);
    } else if (solved) {
      r = *solved->result;
    } else {
      model.initial_state(p, w.y0.data());
      r = solve_in_regimes(
          [&](const double* q, const double* y, double t_a, const std::vector<double>& times, double* out, bool first) {
            // Forward sensitivities exist only without regimes (one segment).
            return w.solver->solve(q, y, t_a, times, out, plan.sequence.size() == 1 ? sensitivities : nullptr, first);
          },
          plan, w.y0.data(), grid.times, states, n);
    }
    if (s.regimes.present)
      for (std::size_t row = 0; row < r.rows_written; ++row)
        shard.regime[i * T + row] = plan.sequence[plan.interval_of(grid.times[row])];
    shard.t_reached[i] = r.t_reached;
    const auto stats = r.stats.values();
    std::copy(stats.begin(), stats.end(), shard.solver_stats.data() + (i * stats.size()));
    if (r.status == solvers::SolveStatus::kFailed) {
      fail(r.flag_name, r.message.empty() ? "solver failed at t = " + core::format_number(r.t_reached) : r.message);
    } else {
      status = static_cast<std::int8_t>(r.status == solvers::SolveStatus::kSuccess ? SampleStatus::kOk
                                                                                   : SampleStatus::kStoppedByEvent);
      for (const auto& e : r.events) outcome.events_fired.push_back(e.event);
      // Observations on their own reading times. A model's derived channels are computed
      // once per row for all channels that read them, with randomness keyed on the row.
      std::map<std::size_t, std::vector<double>> derived_at;
      std::size_t expression_channel = 0;
      for (std::size_t c = 0; c < s.observations.size(); ++c) {
        const ObservationSpec& spec = s.observations[c];
        ObservationBlock& ob = shard.observations[c];
        double* values = &ob.values[i * ob.times.size()];
        if (spec.derived_index < 0) {
          expression_readings(w.observations[expression_channel++], w.inputs, w.lanes, grid, grid.obs_rows[c],
                              r.rows_written, plan, states, n, values);
        } else {
          for (std::size_t j = 0; j < ob.times.size(); ++j) {
            const std::size_t row = grid.obs_rows[c][j];
            if (row >= r.rows_written) {
              values[j] = kNaN;
              continue;
            }
            auto it = derived_at.find(row);
            if (it == derived_at.end()) {
              core::CounterRng rng(s.seed, sample, core::stream::kDerivedBase + static_cast<std::uint32_t>(row));
              const double t = grid.times[row];
              // output.waveforms: at the rows it keeps, the signal these features come from is
              // written too (one synthesis for both).
              const auto kept = std::lower_bound(grid.waveform_rows.begin(), grid.waveform_rows.end(), row);
              if (kept != grid.waveform_rows.end() && *kept == row) {
                model.evaluate_derived_with_signal(t, states + row * n, plan.at(t), rng, w.derived.data(), w.signal);
                const std::size_t L = shard.waveform_length, K = grid.waveform_rows.size();
                if (w.signal.size() != L)
                  throw std::logic_error("model " + model.name() + ": a derived signal of " +
                                         std::to_string(w.signal.size()) + " points, its derived_signal_info says " +
                                         std::to_string(L));
                const auto k = static_cast<std::size_t>(kept - grid.waveform_rows.begin());
                std::transform(w.signal.begin(), w.signal.end(), &shard.waveforms[(i * K + k) * L],
                               [](double x) { return static_cast<float>(x); });
              } else {
                model.evaluate_derived(t, states + row * n, plan.at(t), rng, w.derived.data());
              }
              it = derived_at.emplace(row, w.derived).first;
            }
            values[j] = it->second[static_cast<std::size_t>(spec.derived_index)];
          }
        }
        apply_noise(spec.noise, s.seed, sample, c, ob.times, values, w.noise_draws);
      }
      // Labels.
      std::size_t final_label = 0;
      for (std::size_t l = 0; l < s.labels.size(); ++l) {
        double& label = shard.labels[i * s.labels.size() + l];
        if (s.labels[l].kind == LabelSpec::Kind::kInitialRate) {
          const LabelSpec& spec = s.labels[l];
          std::vector<double> t, v;
          if (spec.observation_index >= 0) {
            const ObservationBlock& ob = shard.observations[static_cast<std::size_t>(spec.observation_index)];
            for (std::size_t j = 0; j < ob.times.size(); ++j) {
              t.push_back(ob.times[j]);
              v.push_back(ob.values[i * ob.times.size() + j]);
            }
          } else {
            for (std::size_t row = 0; row < r.rows_written; ++row) {
              t.push_back(grid.times[row]);
              v.push_back(states[row * n + static_cast<std::size_t>(spec.state_index)]);
            }
          }
          label = initial_rate(t, v, spec.from, spec.window);
        } else if (s.labels[l].kind == LabelSpec::Kind::kEventTime) {
          label = kNaN;
          for (const auto& e : r.events)
            if (e.event == s.labels[l].event_index) {
              label = e.t;
              break;
            }
        } else {
          w.inputs.fill(r.t_reached, r.final_state.data(), plan.at(r.t_reached), w.variables.data());
          label = w.labels[final_label++].evaluate(w.variables.data());
        }
      }
      // Per-record labels on every row the solve reached.
      const std::size_t R = s.record_labels.size();
      std::size_t record_expression = 0;
      for (std::size_t l = 0; l < R; ++l) {
        const RecordLabelSpec& spec = s.record_labels[l];
        double event_time = kNaN;
        if (spec.kind == RecordLabelSpec::Kind::kRemainingTime)
          for (const auto& e : r.events)
            if (e.event == spec.event_index) {
              event_time = e.t;
              break;
            }
        for (std::size_t row = 0; row < r.rows_written; ++row) {
          double& value = shard.record_labels[(i * T + row) * R + l];
          if (spec.kind == RecordLabelSpec::Kind::kRemainingTime) {
            value = event_time - grid.times[row];
            if (spec.clip) value = std::min(value, *spec.clip);
          } else {
            w.inputs.fill(grid.times[row], states + row * n, plan.at(grid.times[row]), w.variables.data());
            value = w.record_labels[record_expression].evaluate(w.variables.data());
          }
        }
        if (spec.kind == RecordLabelSpec::Kind::kExpression) ++record_expression;
      }
      outcome.audit = audit_sample(w.invariants, n, states, r.rows_written, p);
      // A PINN's states are judged at the 1 % its training aims for (pinn/README.md), a solver's at
      // the tolerance it was given.
      const double rtol = pinn ? std::max(s.solver.rtol, kPinnRelativeAccuracy) : s.solver.rtol;
      const bool stepped = dynamic_cast<const core::SteppedModel*>(&model) != nullptr;
      std::string why;
      const std::string flag =
          physics_violation(model, w.invariants, outcome.audit, states, r.rows_written, rtol, w.atol, stepped, &why);
      if (!flag.empty()) fail(flag, why + " (t reached " + core::format_number(r.t_reached) + ")");
    }
  } catch (const SampleFailed&) {  // already recorded
  } catch (const std::exception& e) {
    fail("EXCEPTION", e.what());
  }
  if (status == static_cast<std::int8_t>(SampleStatus::kFailed)) {
    // A failed sample is recorded, never written as data.
    std::fill(states, states + T * n, kNaN);
    if (K > 0) std::fill(sensitivities, sensitivities + T * K * n, kNaN);
    for (auto& ob : shard.observations)
      std::fill(&ob.values[i * ob.times.size()], &ob.values[(i + 1) * ob.times.size()], kNaN);
    std::fill(shard.labels.data() + (i * s.labels.size()), shard.labels.data() + ((i + 1) * s.labels.size()), kNaN);
    const std::size_t R = s.record_labels.size();
    std::fill(shard.record_labels.data() + (i * T * R), shard.record_labels.data() + ((i + 1) * T * R), kNaN);
    outcome.events_fired.clear();
  }
}

// The arrays of a shard with a value per sample and output row (its bulk), each given to f: the
// one list of them. A shard that has been written hands its bulk to the next one of the same size
// (ShardGenerator::Impl::recycle), so that its memory is not allocated, zeroed by the kernel and
// filled with NaN in one thread for every shard; each block of samples then fills its own rows
// with NaN just before it is computed (clear_rows).
template <class S, class F>
void for_each_bulk_array(S& sh, F f) {
  f(sh.states);
  f(sh.sensitivities);
  f(sh.record_labels);
  f(sh.regime);
  f(sh.waveforms);
  for (auto& o : sh.observations) f(o.values);
}

// target becomes `size` values: the spare's array as it is where it has that size (*reused), else
// `fill` everywhere.
template <class T>
void bulk_array(std::vector<T>& target, std::vector<T>* spare, std::size_t size, T fill, bool* reused) {
  if (spare && spare->size() == size && size > 0) {
    target = std::move(*spare);
    *reused = true;
  } else {
    target.assign(size, fill);
  }
}

// NaN in the bulk rows of samples [first, first + count) of the shard.
void clear_rows(Shard& sh, std::size_t first, std::size_t count) {
  for_each_bulk_array(sh, [&](auto& array) {
    using T = typename std::decay_t<decltype(array)>::value_type;
    if (array.empty()) return;
    const std::size_t per = array.size() / sh.samples;
    std::fill(array.begin() + static_cast<std::ptrdiff_t>(first * per),
              array.begin() + static_cast<std::ptrdiff_t>((first + count) * per), std::numeric_limits<T>::quiet_NaN());
  });
}

// A shard's arrays for `count` samples; the bulk from `spare` where it fits (then *reused, and the
// bulk rows hold stale values until clear_rows), NaN elsewhere.
Shard make_shard(const Scenario& s, const Grid& grid, std::uint64_t index, std::uint64_t first, std::size_t count,
                 Shard* spare, bool* reused) {
  const core::Model& model = *s.model.model;
  Shard sh;
  sh.index = index;
  sh.first_sample = first;
  sh.samples = count;
  sh.times = grid.times;
  sh.time_units = s.time_units;
  for (const auto& v : model.states()) {
    sh.state_names.push_back(v.name);
    sh.state_units.push_back(v.units);
  }
  for (const auto& p : s.parameters) {
    sh.parameter_names.push_back(p.name);
    sh.parameter_units.push_back(p.units);
  }
  for (const auto& l : s.labels) {
    sh.label_names.push_back(l.name);
    sh.label_units.push_back(l.units);
  }
  for (const auto& r : s.record_labels) {
    sh.record_label_names.push_back(r.name);
    sh.record_label_units.push_back(r.units);
  }
  for (const char* n : solvers::SolverStats::names()) sh.stat_names.push_back(n);
  const std::size_t T = grid.times.size();
  bulk_array(sh.states, spare ? &spare->states : nullptr, count * T * model.num_states(), kNaN, reused);
  sh.parameters.assign(count * model.num_parameters(), 0.0);
  sh.labels.assign(count * s.labels.size(), kNaN);
  bulk_array(sh.record_labels, spare ? &spare->record_labels : nullptr, count * T * s.record_labels.size(), kNaN,
             reused);
  if (s.regimes.present) bulk_array(sh.regime, spare ? &spare->regime : nullptr, count * T, kNaN, reused);
  sh.status.assign(count, static_cast<std::int8_t>(SampleStatus::kFailed));
  sh.t_reached.assign(count, kNaN);
  sh.solver_stats.assign(count * sh.stat_names.size(), 0);
  for (int k : s.solver.sensitivity_parameters)
    sh.sensitivity_names.push_back(s.parameters[static_cast<std::size_t>(k)].name);
  bulk_array(sh.sensitivities, spare ? &spare->sensitivities : nullptr,
             count * T * sh.sensitivity_names.size() * model.num_states(), kNaN, reused);
  if (s.field.present) {
    sh.field_rows = s.field.rows;
    sh.field_cols = s.field.cols;
    sh.field_cell_size_m = s.field.cell_size_m;
    sh.plot.assign(2 * count, 0);
  }
  if (!grid.waveform_rows.empty()) {
    const core::Model::SignalInfo info = model.derived_signal_info();
    for (std::size_t row : grid.waveform_rows) sh.waveform_times.push_back(grid.times[row]);
    sh.waveform_length = info.length;
    sh.waveform_rate_hz = info.sample_rate_hz;
    sh.waveform_units = info.units;
    bulk_array(sh.waveforms, spare ? &spare->waveforms : nullptr, count * grid.waveform_rows.size() * info.length,
               std::numeric_limits<float>::quiet_NaN(), reused);
  }
  sh.failure_flag.assign(count, "");
  sh.failure_message.assign(count, "");
  for (std::size_t c = 0; c < s.observations.size(); ++c) {
    ObservationBlock ob;
    ob.name = s.observations[c].name;
    ob.units = s.observations[c].units;
    for (std::size_t row : grid.obs_rows[c]) ob.times.push_back(grid.times[row]);
    bulk_array(ob.values, spare && c < spare->observations.size() ? &spare->observations[c].values : nullptr,
               count * ob.times.size(), kNaN, reused);
    sh.observations.push_back(std::move(ob));
  }
  return sh;
}

// Shard `index`'s first sample and sample count.
std::pair<std::uint64_t, std::size_t> shard_span(const Scenario& s, std::uint64_t index) {
  const std::uint64_t first = index * s.output.shard_size;
  return {first, static_cast<std::size_t>(std::min<std::uint64_t>(s.output.shard_size, s.samples - first))};
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// `population:`: each sample's random parameters drawn jointly (scenario.h). The sampler drew
// each from its marginal, independently; those draws give z, and η = L z.
void draw_population(const Scenario& s, double* rows, std::size_t count) {
  const auto& m = s.population.model;
  const std::size_t P = s.parameters.size(), q = m.random.size();
  const int group = s.population.group.empty() ? -1 : s.model.model->parameter_index(s.population.group);
  std::vector<double> z(q), eta(q);
  for (std::size_t i = 0; i < count; ++i) {
    double* row = rows + i * P;
    for (std::size_t k = 0; k < q; ++k) {
      const auto& d = s.parameters[static_cast<std::size_t>(m.random[k].index)].distribution;
      const double x = row[m.random[k].index];
      z[k] = ((m.random[k].log ? std::log(x) : x) - d.mean) / d.sd;
    }
    for (std::size_t a = 0; a < q; ++a) {
      eta[a] = 0.0;
      for (std::size_t b = 0; b <= a; ++b) eta[a] += m.cholesky[a * q + b] * z[b];
    }
    const int g = group < 0 ? 0 : m.group_index(core::format_number(row[group]));
    const auto unit = m.parameters(std::vector<double>(row, row + P), std::max(g, 0), eta.data());
    std::copy(unit.begin(), unit.end(), row);
  }
}

int default_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace

struct ShardGenerator::Impl {
  const Scenario& s;
  Grid grid;
  core::Sampler sampler;
  std::vector<std::vector<double>> field_values;  // per field parameter, per plot
  tbb::task_arena arena;
  tbb::enumerable_thread_specific<std::unique_ptr<Worker>> workers;
  std::function<void()> on_sample;
  std::vector<std::uint64_t> verified;  // backend pinn: samples re-solved for the audit
  int threads;
  std::function<bool()> stop;        // polled before each sample
  std::atomic<bool> stopped{false};  // compute() left samples undone because stop() said so
  std::shared_ptr<const DesignPoints> points;  // the samples, where a driver chose them
  Shard spare;                                 // a written shard, whose bulk the next compute() takes

  // Hands a written shard's bulk to the next shard computed.
  void recycle(Shard&& used) { spare = std::move(used); }

  static std::vector<std::vector<double>> make_fields(const Scenario& s) {
    std::vector<std::vector<double>> out;
    for (std::size_t f = 0; f < s.field.parameters.size(); ++f) {
      const FieldParameterSpec& p = s.field.parameters[f];
      auto values = core::gaussian_random_field(p.options, s.seed, f);
      for (double& v : values) v = std::clamp(v, p.low, p.high);
      out.push_back(std::move(values));
    }
    return out;
  }

  static core::Sampler make_sampler(const Scenario& s) {
    std::vector<core::Distribution> distributions;
    for (const auto& p : s.parameters) distributions.push_back(p.distribution);
    return core::Sampler(s.design, distributions, s.seed, s.samples);
  }

  Impl(const Scenario& scenario, int threads, std::function<void()> progress, std::shared_ptr<const DesignPoints> pts)
      : s(scenario),
        grid(build_grid(scenario)),
        sampler(make_sampler(scenario)),
        field_values(make_fields(scenario)),
        // No more threads than the cores TBB may use: more would not run at once, and TBB warns
        // on stderr at each request beyond them. The bytes do not depend on the count.
        arena(std::min(threads, tbb::info::default_concurrency())),
        on_sample(std::move(progress)),
        verified(scenario.backend == Backend::kPinn ? pinn_verified_samples(scenario) : std::vector<std::uint64_t>{}),
        threads(threads),
        points(std::move(pts)) {
    if (points) {
      if (points->dimension != sampler.dimension() || points->unit.size() != points->size() * points->dimension ||
          points->columns.size() != points->size() * points->column_names.size() ||
          points->column_units.size() != points->column_names.size())
        throw std::invalid_argument("design points of dimension " + std::to_string(points->dimension) +
                                    " do not fit the scenario's " + std::to_string(sampler.dimension()) +
                                    " non-fixed parameters (or their columns are incomplete)");
      if (points->size() != s.samples)
        throw std::invalid_argument("design points: " + std::to_string(points->size()) +
                                    " given for sampling.samples = " + std::to_string(s.samples));
    }
  }

  // Samples [first, first + count) of the design, or of `points`; or, with `unit`, the
  // samples at those design coordinates, keyed on `keys`.
  Shard compute(std::uint64_t index, std::uint64_t first, std::size_t count, std::vector<SampleOutcome>* outcomes,
                const double* unit = nullptr, const std::uint64_t* keys = nullptr) {
    const bool from_points = !unit && points;
    if (from_points) {
      unit = points->unit.data() + first * points->dimension;
      keys = points->keys.data() + first;
    }
    if (!unit && s.rare_event.present)
      throw std::invalid_argument(
          "sampling.condition: the samples of a scenario conditioned on an event are drawn by the rare-event "
          "sampler (physynth run); they are not the design's points");
    if (s.design == core::Design::kLatinHypercube && first + count > s.samples)
      throw std::invalid_argument("a Latin hypercube design has exactly sampling.samples points; samples " +
                                  std::to_string(first) + ".." + std::to_string(first + count - 1) +
                                  " are beyond it (use design random or sobol for an endless stream)");
    if (s.field.present && first + count > s.samples)
      throw std::invalid_argument("a field has exactly rows x cols = " + std::to_string(s.samples) +
                                  " plots; samples " + std::to_string(first) + ".." +
                                  std::to_string(first + count - 1) + " are beyond it");
    bool fill_rows = false;  // the bulk is a written shard's: each block clears its rows first
    Shard shard = make_shard(s, grid, index, first, count, &spare, &fill_rows);
    spare = Shard{};
    if (unit) {
      sampler.map_unit(unit, count, shard.parameters.data());
      shard.sample_keys.assign(keys, keys + count);
    } else {
      sampler.sample(first, count, shard.parameters.data());
    }
    if (s.field.present) {
      const std::size_t m = s.parameters.size();
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t plot = first + i;
        shard.plot[2 * i] = static_cast<std::int32_t>(plot / static_cast<std::uint64_t>(s.field.cols));
        shard.plot[2 * i + 1] = static_cast<std::int32_t>(plot % static_cast<std::uint64_t>(s.field.cols));
        for (std::size_t f = 0; f < s.field.parameters.size(); ++f)
          shard.parameters[i * m + static_cast<std::size_t>(s.field.parameters[f].index)] = field_values[f][plot];
      }
    }
    if (s.population.present) draw_population(s, shard.parameters.data(), count);
    std::vector<SampleOutcome> local;
    if (!outcomes) outcomes = &local;
    outcomes->assign(count, SampleOutcome{});
    // Backend pinn: the whole shard through the network at once, before the per-sample work.
    std::optional<PinnShard> pinn;
    if (s.backend == Backend::kPinn) pinn = evaluate_pinn(s, grid.times, shard.parameters.data(), count, threads);
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, count), [&](const tbb::blocked_range<std::size_t>& range) {
        auto& slot = workers.local();
        if (!slot) slot = std::make_unique<Worker>(s);
        const bool together = solve_together(s, *slot, shard, pinn.has_value());
        for (std::size_t i = range.begin(); i != range.end();) {
          const std::size_t block = together ? std::min(kSolvedTogether, range.end() - i) : 1, start = i;
          if (fill_rows) clear_rows(shard, start, block);
          if (together && !(stop && (stopped || stop()))) solve_block(s, grid, *slot, shard, i, block);
          for (; i != start + block; ++i) {
            if (stop && (stopped || stop())) {
              stopped = true;
              // Samples left undone hold no rows, solved or not (the block solved them in place),
              // nor, where the bulk was a written shard's, anything of that shard.
              const std::size_t rows = grid.times.size() * s.model.model->num_states();
              std::fill(shard.states.begin() + static_cast<std::ptrdiff_t>(i * rows),
                        shard.states.begin() + static_cast<std::ptrdiff_t>((start + block) * rows), kNaN);
              if (fill_rows) clear_rows(shard, start + block, range.end() - (start + block));
              return;
            }
            const bool verify = std::binary_search(verified.begin(), verified.end(), first + i);
            const Solved solved{slot->block_results.data() + (i - start)};
            process_sample(s, grid, *slot, shard, i, (*outcomes)[i], pinn ? &*pinn : nullptr, verify,
                           together ? &solved : nullptr);
            if (on_sample) on_sample();
          }
        }
      });
    });
    if (from_points) append_columns(shard, first);
    return shard;
  }

  // The points' per-sample columns, after the scenario's labels.
  void append_columns(Shard& shard, std::uint64_t first) const {
    const std::size_t C = points->column_names.size(), L = shard.label_names.size(), n = shard.samples;
    if (C == 0) return;
    std::vector<double> labels(n * (L + C));
    for (std::size_t i = 0; i < n; ++i) {
      std::copy_n(shard.labels.data() + i * L, L, labels.data() + i * (L + C));
      std::copy_n(points->columns.data() + (first + i) * C, C, labels.data() + i * (L + C) + L);
    }
    shard.labels = std::move(labels);
    shard.label_names.insert(shard.label_names.end(), points->column_names.begin(), points->column_names.end());
    shard.label_units.insert(shard.label_units.end(), points->column_units.begin(), points->column_units.end());
  }
};

ShardGenerator::ShardGenerator(const Scenario& scenario, int threads, std::function<void()> on_sample,
                               std::shared_ptr<const DesignPoints> points)
    : impl_(std::make_unique<Impl>(scenario, threads > 0 ? threads : default_threads(), std::move(on_sample),
                                   std::move(points))) {}
ShardGenerator::~ShardGenerator() = default;

std::uint64_t ShardGenerator::num_shards() const {
  return (impl_->s.samples + impl_->s.output.shard_size - 1) / impl_->s.output.shard_size;
}

Shard ShardGenerator::shard(std::uint64_t index) {
  const auto [first, count] = shard_span(impl_->s, index);
  return impl_->compute(index, first, count, nullptr);
}

Shard ShardGenerator::samples(std::uint64_t first, std::size_t count) {
  return impl_->compute(0, first, count, nullptr);
}

Shard ShardGenerator::at(const double* unit, const std::uint64_t* keys, std::size_t count) {
  return impl_->compute(0, 0, count, nullptr, unit, keys);
}

std::size_t ShardGenerator::dimension() const { return impl_->sampler.dimension(); }

namespace {

// SHA-256 of the resolved scenario: what a resume must find unchanged.
std::string scenario_fingerprint(const Scenario& s) { return sha256_hex(s.resolved.dump()); }

// Whether `dir` can take the run as asked (the folder taken, held in `folder`), without changing
// anything in it; "" when it can, else why not.
std::string check_directory(const Scenario& s, const RunOptions& opt, const std::string& dir,
                            std::shared_ptr<OutputFolder>& folder, bool* refused) {
  std::error_code ec;
  *refused = true;
  // The folder taken, or why not: busy or refused is the user's to change (2), I/O is not (1).
  const auto take = [&](const std::string& command, bool allow_foreign) -> std::string {
    try {
      folder = OutputFolder::take(dir, command, allow_foreign);
      return "";
    } catch (const IoError& e) {
      *refused = false;
      return e.what();
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  if (opt.resume) {
    const std::string record = run_record_path(dir);
    if (!fs::is_directory(dir, ec)) return "cannot resume: '" + dir + "' is not a directory";
    if (!fs::exists(record, ec)) {
      if (fs::exists(fs::path(dir) / "manifest.json", ec))
        return "cannot resume '" + dir + "': it holds a complete run (manifest.json, no journal/)";
      return "cannot resume '" + dir + "': it has no " + record + " (not a physynth run, or one that never started)";
    }
    if (std::string why = take("run --resume", true); !why.empty()) return why;
    nlohmann::json j;
    try {
      j = read_journal_record(record);
    } catch (const std::exception& e) {
      return e.what();
    }
    if (j.value("resolved_sha256", "") != scenario_fingerprint(s))
      return "cannot resume '" + dir + "': the scenario (" + s.file +
             " with its --set overrides) is not the one the run started with (" +
             j.value("scenario", std::string("?")) + "; its resolved form differs); start a new run with -o";
    return "";
  }
  if (std::string why = take("run", false); !why.empty()) return why;
  if (folder->has_physynth_output() && !opt.overwrite)
    return "output directory '" + dir + "' already holds a run (" +
           (fs::exists(fs::path(dir) / "manifest.json", ec) ? std::string("manifest.json") : "physynth's files") +
           "); pass --overwrite to replace it, --resume to continue it, or choose another directory with -o";
  return "";
}

// Rank 0: takes `dir` (the lock, for the whole run) and makes it ready; "" when it is, else
// why not (what was asked cannot be done: exit 2).
std::string prepare_directory(const Scenario& s, const RunOptions& opt, const std::string& dir,
                              std::shared_ptr<OutputFolder>& folder, bool* refused) {
  if (std::string why = check_directory(s, opt, dir, folder, refused); !why.empty()) return why;
  if (opt.resume)
    folder->remove_partial_files();
  else if (folder->has_physynth_output())
    folder->remove_physynth_files();  // --overwrite: what physynth wrote there, and nothing else
  return "";
}

// Rank 0, after the folder is ready: the journal's fingerprint of the run, before any shard.
std::string start_journal(const Scenario& s, const std::string& dir) {
  try {
    const nlohmann::ordered_json run = {{"format", "physynth-journal-1"},
                                        {"scenario", fs::absolute(s.file).lexically_normal().string()},
                                        {"overrides", s.overrides},
                                        {"resolved_sha256", scenario_fingerprint(s)},
                                        {"seed", s.seed},
                                        {"samples", s.samples},
                                        {"shard_size", s.output.shard_size}};
    write_file_atomically(run_record_path(dir), run.dump(2) + "\n");
  } catch (const std::exception& e) {
    return std::string("cannot start the run's journal: ") + e.what();
  }
  return "";
}

// The scenario's physics audit, empty, and its PINN audit when the backend is pinn: what a shard
// record accumulates and what the records merge into.
struct Audits {
  AuditAccumulator physics;
  std::optional<PinnAudit> pinn;
};
Audits empty_audits(const Scenario& s, const std::vector<std::string>& event_names) {
  Audits a{AuditAccumulator(*s.model.model, s.solver.rtol, state_atol(s), event_names), std::nullopt};
  if (s.backend == Backend::kPinn) a.pinn.emplace(s);
  return a;
}

// A finished shard's record, from its samples in sample order.
nlohmann::json shard_record(const Scenario& s, const Shard& shard, std::uint64_t index,
                            const std::vector<SampleOutcome>& outcomes, const std::vector<std::string>& files,
                            const std::vector<std::string>& event_names) {
  Audits audits = empty_audits(s, event_names);
  AuditAccumulator& audit = audits.physics;
  std::optional<PinnAudit>& pinn_audit = audits.pinn;
  StatusCounts counts;
  nlohmann::json failures = nlohmann::json::array();
  const std::uint64_t first = shard.first_sample;
  for (std::size_t i = 0; i < shard.samples; ++i) {
    const auto st = static_cast<SampleStatus>(shard.status[i]);
    if (pinn_audit)
      pinn_audit->add(first + i, shard.failure_flag[i] == "PINN_OUT_OF_RANGE" ? shard.failure_message[i] : "",
                      outcomes[i].pinn_residual, outcomes[i].pinn_resolved, outcomes[i].pinn_error);
    audit.add(first + i, outcomes[i].audit, st, shard.solver_stats.data() + (i * shard.stat_names.size()),
              outcomes[i].events_fired);
    counts.add(st);
    if (st == SampleStatus::kFailed) {
      const std::size_t P = s.parameters.size();
      const auto params = shard.parameters.begin() + static_cast<std::ptrdiff_t>(i * P);
      failures.push_back(
          {{"sample", first + i},
           {"t_reached", exact_doubles({shard.t_reached[i]})},
           {"flag", shard.failure_flag[i]},
           {"message", shard.failure_message[i]},
           {"parameters", exact_doubles(std::vector<double>(params, params + static_cast<std::ptrdiff_t>(P)))}});
    }
  }
  const nlohmann::json file_list = file_records(files);
  nlohmann::json record = {{"index", index},
                           {"first_sample", first},
                           {"samples", shard.samples},
                           {"files", file_list},
                           {"ok", counts.ok},
                           {"stopped_by_event", counts.stopped_by_event},
                           {"failed", counts.failed},
                           {"failures", failures},
                           {"audit", audit.state()}};
  if (pinn_audit) record["pinn"] = pinn_audit->state();
  return record;
}

// One rank's part of a run: its shards' records (computed, or kept from the journal), and
// whether it stopped early or failed.
struct RankPart {
  std::vector<nlohmann::json> records;
  std::string error;
  bool interrupted = false;
  std::uint64_t resumed = 0;
  std::vector<std::string> recomputed;  // why a journal's shard was computed again
  double solve_s = 0.0, write_s = 0.0;
};

std::string pack(const RankPart& part) {
  nlohmann::json j = {{"records", part.records}, {"error", part.error},           {"interrupted", part.interrupted},
                      {"resumed", part.resumed}, {"recomputed", part.recomputed}, {"solve_s", part.solve_s},
                      {"write_s", part.write_s}};
  return j.dump();
}

RankPart unpack(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  RankPart p;
  p.records = j.at("records").get<std::vector<nlohmann::json>>();
  p.error = j.at("error").get<std::string>();
  p.interrupted = j.at("interrupted").get<bool>();
  p.resumed = j.at("resumed").get<std::uint64_t>();
  p.recomputed = j.at("recomputed").get<std::vector<std::string>>();
  p.solve_s = j.at("solve_s").get<double>();
  p.write_s = j.at("write_s").get<double>();
  return p;
}

// Writes a rank's computed shards, each on a thread of its own while the rank computes the next,
// so that compression, file writing and fsync overlap the solving. At most one shard is being
// written: start() first waits for the one before. A shard of more than kOverlapBytes in memory
// (waveforms) is written before the next is computed, so that two such are never held at once;
// so is every shard where RunOptions::write_beside_solve is off, and on one thread, where the
// writing would take a second core the run was not given.
class ShardWrites {
 public:
  static constexpr std::size_t kOverlapBytes = std::size_t{512} << 20;

  // recycle: receives each shard once it is written (its memory serves the next shard).
  ShardWrites(const Scenario& s, std::string dir, int threads, const std::vector<std::string>& event_names,
              RankPart& part, bool overlap, std::function<void(Shard&&)> recycle)
      : s_(s),
        dir_(std::move(dir)),
        threads_(threads),
        event_names_(event_names),
        part_(part),
        overlap_(overlap),
        recycle_(std::move(recycle)) {}
  ~ShardWrites() {
    if (pending_.valid()) finish();
  }
  ShardWrites(const ShardWrites&) = delete;
  ShardWrites& operator=(const ShardWrites&) = delete;

  // Starts writing shard `index`, once the previous shard is written. False, with the error in
  // the rank's part, where that previous write failed: this shard is then not written.
  bool start(Shard shard, std::uint64_t index, std::vector<SampleOutcome> outcomes) {
    if (!finish()) return false;
    // Where it is not to overlap, the write runs here, in finish() (a deferred task).
    const bool beside = overlap_ && bytes_of(shard) <= kOverlapBytes;
    pending_ = std::async(beside ? std::launch::async : std::launch::deferred,
                          [this, shard = std::move(shard), index, outcomes = std::move(outcomes)]() mutable {
                            auto [record, seconds] = write(shard, index, outcomes);
                            return Written{std::move(record), seconds, std::move(shard)};
                          });
    return beside || finish();
  }

  // Waits for the shard being written and files its record; false where its write failed.
  bool finish() {
    if (!pending_.valid()) return part_.error.empty();
    try {
      Written w = pending_.get();
      part_.records.push_back(std::move(w.record));
      part_.write_s += w.seconds;
      if (recycle_) recycle_(std::move(w.shard));
    } catch (const std::exception& e) {
      if (part_.error.empty()) part_.error = e.what();
    }
    return part_.error.empty();
  }

 private:
  std::pair<nlohmann::json, double> write(const Shard& shard, std::uint64_t index,
                                          const std::vector<SampleOutcome>& outcomes) const {
    const auto start = Clock::now();
    std::vector<std::string> files;
    for (OutputFormat f : s_.output.formats) {
      std::vector<std::string> written;
      if (f == OutputFormat::kHdf5) written = write_hdf5(shard, dir_, s_.output.compression, threads_);
      if (f == OutputFormat::kCsv) written = write_csv(shard, dir_);
      if (f == OutputFormat::kNpy) written = write_npy(shard, dir_);
      files.insert(files.end(), written.begin(), written.end());
    }
    nlohmann::json record = shard_record(s_, shard, index, outcomes, files, event_names_);
    write_file_atomically(shard_record_path(dir_, index), record.dump() + "\n");
    return {std::move(record), seconds_since(start)};
  }

  static std::size_t bytes_of(const Shard& shard) {
    std::size_t bytes = 0;
    for_each_bulk_array(shard, [&](const auto& array) { bytes += array.size() * sizeof(array[0]); });
    return bytes;
  }

  const Scenario& s_;
  const std::string dir_;
  const int threads_;
  const std::vector<std::string>& event_names_;
  RankPart& part_;
  const bool overlap_;
  const std::function<void(Shard&&)> recycle_;
  struct Written {
    nlohmann::json record;
    double seconds = 0.0;
    Shard shard;
  };
  std::future<Written> pending_;
};

// How a run ended, as rank 0 tells every rank.
struct Outcome {
  enum Status { kComplete, kInterrupted, kFailed } status = kComplete;
  std::string message;
  std::string pack() const { return nlohmann::json{{"status", static_cast<int>(status)}, {"message", message}}.dump(); }
  static Outcome unpack(const std::string& text) {
    const auto j = nlohmann::json::parse(text);
    return {static_cast<Status>(j.at("status").get<int>()), j.at("message").get<std::string>()};
  }
};

// Rank 0, after the gather: the audit and the manifest from the shards' records in shard order.
Outcome finish_run(const Scenario& s, const RunOptions& opt, OutputFolder* folder, RunSummary& summary,
                   const std::vector<nlohmann::json>& records, const std::vector<bool>& have, const std::string& error,
                   bool interrupted, const std::vector<std::string>& recomputed,
                   const std::vector<std::string>& event_names, std::size_t output_times, Clock::time_point start) {
  const std::string& dir = summary.directory;
  const std::string resume_hint = "physynth run --resume " + dir + " continues it";
  if (!error.empty())
    return {Outcome::kFailed, error + " (the shards finished before are kept in " + journal_directory(dir) + "; " +
                                  resume_hint + " once that is fixed)"};
  Audits audits = empty_audits(s, event_names);
  AuditAccumulator& audit = audits.physics;
  std::optional<PinnAudit>& pinn_audit = audits.pinn;
  nlohmann::ordered_json shards_json = nlohmann::ordered_json::array();
  nlohmann::ordered_json failures = nlohmann::ordered_json::array();
  std::uint64_t shards_done = 0;
  for (std::size_t k = 0; k < records.size(); ++k) {
    if (!have[k]) continue;
    const auto& r = records[k];
    ++shards_done;
    summary.ok += r.at("ok").get<std::uint64_t>();
    summary.stopped_by_event += r.at("stopped_by_event").get<std::uint64_t>();
    summary.failed += r.at("failed").get<std::uint64_t>();
    for (const auto& f : r.at("failures")) {
      nlohmann::ordered_json params = nlohmann::ordered_json::object();
      const auto values = read_exact_doubles(f.at("parameters"));
      for (std::size_t j = 0; j < s.parameters.size() && j < values.size(); ++j)
        params[s.parameters[j].name] = values[j];
      const double t_reached = read_exact_doubles(f.at("t_reached")).at(0);
      failures.push_back(
          {{"sample", f.at("sample")},
           {"t_reached", std::isnan(t_reached) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t_reached)},
           {"flag", f.at("flag")},
           {"message", f.at("message")},
           {"parameters", params}});
    }
    nlohmann::ordered_json file_list = nlohmann::ordered_json::array();
    for (const auto& f : r.at("files")) {
      if (folder) folder->record((fs::path(dir) / f.at("path").get<std::string>()).string());  // other ranks' too
      file_list.push_back({{"path", f.at("path")}, {"bytes", f.at("bytes")}, {"sha256", f.at("sha256")}});
      summary.files.push_back((fs::path(dir) / f.at("path").get<std::string>()).string());
    }
    shards_json.push_back({{"index", r.at("index")},
                           {"first_sample", r.at("first_sample")},
                           {"samples", r.at("samples")},
                           {"files", file_list}});
    audit.merge(r.at("audit"));
    if (pinn_audit) pinn_audit->merge(r.at("pinn"));
  }
  const bool complete = !interrupted && shards_done == records.size();

  if (complete) {
    nlohmann::ordered_json audit_json = audit.to_json(
        std::vector<std::string>(solvers::SolverStats::names().begin(), solvers::SolverStats::names().end()));
    // A fleet run to failure: how good each channel is as a health indicator (first 500 units).
    const bool terminal = std::any_of(s.events.begin(), s.events.end(),
                                      [](const EventSpec& e) { return e.action == EventSpec::Action::kStop; });
    std::vector<std::string> h5;
    for (const auto& f : summary.files)
      if (f.size() > 3 && f.compare(f.size() - 3, 3, ".h5") == 0) h5.push_back(f);
    if (terminal && !s.observations.empty() && !h5.empty())
      audit_json["health_indicators"] = health_indicator_quality(h5, 500);
    if (pinn_audit) {
      audit_json["backend"] = "pinn";
      audit_json["pinn"] = pinn_audit->to_json();
      write_file_atomically(dir + "/pinn_audit.csv", pinn_audit->csv());
    }
    write_file_atomically(dir + "/audit.json", audit_json.dump(2) + "\n");
  }

  summary.wall_s = seconds_since(start);
  nlohmann::ordered_json versions = nlohmann::ordered_json::object();
  versions["physynth"] = physynth_version();
  for (const auto& [k, v] : library_versions()) versions[k] = v;
  for (const auto& [k, v] : opt.component_versions) versions[k] = v;
  nlohmann::ordered_json manifest;
  manifest["format"] = "physynth-run-1";
  manifest["status"] = complete ? "complete" : "interrupted";
  if (!complete)
    manifest["resume"] = "physynth run --resume " + dir + " (" + std::to_string(shards_done) + " of " +
                         std::to_string(records.size()) + " shards done; the counts below are theirs)";
  manifest["versions"] = versions;
  nlohmann::ordered_json resolved = s.resolved;
  if (resolved.contains("output"))
    resolved["output"]["directory"] = dir;  // where the run went (-o), not the YAML's default
  manifest["scenario"] = {
      {"file", s.file}, {"sha256", s.source_sha256}, {"overrides", s.overrides}, {"resolved", resolved}};
  manifest["seed"] = s.seed;
  manifest["backend"] = s.backend == Backend::kPinn ? "pinn" : "cvode";
  manifest["samples"] = s.samples;
  manifest["output_times"] = output_times;
  manifest["counts"] = {{"ok", summary.ok}, {"stopped_by_event", summary.stopped_by_event}, {"failed", summary.failed}};
  if (s.field.present)
    manifest["field"] = {{"rows", s.field.rows},
                         {"cols", s.field.cols},
                         {"cell_size_m", s.field.cell_size_m},
                         {"sample", "row * cols + col"}};
  for (const auto& [key, value] : opt.manifest_extra.items()) manifest[key] = value;
  manifest["failures"] = failures;
  manifest["shards"] = shards_json;
  if (complete) manifest["audit"] = "audit.json";
  manifest["threads"] = summary.threads;
  manifest["ranks"] = summary.ranks;
  manifest["shards_resumed"] = summary.shards_resumed;
  if (!recomputed.empty()) manifest["shards_recomputed"] = recomputed;
  manifest["timings_s"] = {
      {"total", summary.wall_s}, {"sample_and_solve", summary.solve_s}, {"write", summary.write_s}};
  write_file_atomically(dir + "/manifest.json", manifest.dump(2) + "\n");
  if (!complete)
    return {Outcome::kInterrupted, "interrupted: " + std::to_string(shards_done) + " of " +
                                       std::to_string(records.size()) + " shards are done and listed in " + dir +
                                       "/manifest.json; " + resume_hint};
  if (folder) folder->remove_physynth_path("journal/");  // the manifest now holds what the journal did
  return {};
}

}  // namespace

StartedRun started_run(const std::string& dir) {
  const std::string record = run_record_path(dir);
  std::error_code ec;
  if (!fs::exists(record, ec))
    throw std::runtime_error("cannot resume '" + dir + "': it has no " + record +
                             (fs::exists(fs::path(dir) / "manifest.json", ec) ? " (the run there is complete)"
                                                                              : " (not a physynth run folder)"));
  const nlohmann::json j = read_journal_record(record);
  try {
    return {j.at("scenario").get<std::string>(), j.at("overrides").get<std::vector<std::string>>()};
  } catch (const std::exception& e) {
    throw std::runtime_error(record + ": " + e.what());
  }
}

bool run_is_complete(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(run_record_path(dir), ec)) return false;
  std::ifstream in(fs::path(dir) / "manifest.json");
  if (!in) return false;
  try {
    return nlohmann::json::parse(in).value("status", "") == "complete";
  } catch (const std::exception&) {
    return false;
  }
}

std::string run_directory_refusal(const Scenario& s, const RunOptions& opt, bool* refused) {
  const std::string dir = opt.output_directory.empty() ? s.output.directory : opt.output_directory;
  std::shared_ptr<OutputFolder> folder;
  bool user = true;
  std::string why = check_directory(s, opt, dir, folder, &user);
  if (refused) *refused = user;
  return why;
}

RunSummary run_scenario(const Scenario& s, const RunOptions& opt) {
  const auto start = Clock::now();
  RunSummary summary;
  summary.directory = opt.output_directory.empty() ? s.output.directory : opt.output_directory;
  summary.samples = s.samples;
  summary.threads = opt.threads > 0 ? opt.threads : default_threads();
  summary.ranks = num_ranks();
  const std::string& dir = summary.directory;
  const int me = rank(), ranks = num_ranks();
  if (s.rare_event.present && !opt.points) {
    summary.refused = true;
    summary.message = "sampling.condition: the samples of a scenario conditioned on an event are drawn by the "
                      "rare-event sampler; run it with physynth run (active/rare_event.h)";
    return summary;
  }
  if (opt.points && opt.points->size() != s.samples) {
    summary.refused = true;
    summary.message = "design points: " + std::to_string(opt.points->size()) + " given for sampling.samples = " +
                      std::to_string(s.samples);
    return summary;
  }

  // Rank 0 takes and readies the directory (or checks the journal to resume); every rank hears
  // how it went. The lock is held until the manifest is written.
  std::shared_ptr<OutputFolder> folder;
  bool refused = false;
  std::string problem = me == 0 ? prepare_directory(s, opt, dir, folder, &refused) : std::string();
  summary.refused = !problem.empty() && refused;
  if (me == 0 && problem.empty() && !opt.resume) problem = start_journal(s, dir);
  problem = collective::broadcast(problem);
  if (!problem.empty()) {
    summary.refused = collective::broadcast(std::string(summary.refused ? "1" : "0")) == "1";
    summary.message = problem;
    return summary;
  }

  std::vector<std::string> event_names;
  for (const auto& e : s.events) event_names.push_back(e.name);
  std::uint64_t mine = 0;  // samples of this rank's shards, for the progress line
  std::atomic<std::uint64_t> done{0};
  ShardGenerator generator(
      s, summary.threads,
      [&] {
        const std::uint64_t d = ++done;
        if (opt.progress) opt.progress(d, mine);
      },
      opt.points);
  const std::uint64_t num_shards = generator.num_shards();
  for (std::uint64_t k = static_cast<std::uint64_t>(me); k < num_shards; k += static_cast<std::uint64_t>(ranks))
    mine += shard_span(s, k).second;
  generator.impl_->stop = opt.stop_requested;

  // This rank's shards: k = rank, rank + N, ... Each computed shard's files and record are
  // written on one more thread while the next shard is computed (ShardWrites); a failed write
  // stops the run at the next shard, and every shard begun is finished before the run ends.
  RankPart part;
  ShardWrites writes(s, dir, summary.threads, event_names, part, opt.write_beside_solve && summary.threads >= 2,
                     [&generator](Shard&& used) { generator.impl_->recycle(std::move(used)); });
  for (std::uint64_t index = static_cast<std::uint64_t>(me); index < num_shards;
       index += static_cast<std::uint64_t>(ranks)) {
    try {
      if (opt.resume) {
        std::error_code ec;
        const std::string record_path = shard_record_path(dir, index);
        if (fs::exists(record_path, ec)) {
          std::string why;
          auto record = read_journal_record(record_path);
          if (shard_files_intact(record, dir, &why)) {
            done += record.value("samples", std::uint64_t{0});
            part.records.push_back(std::move(record));
            ++part.resumed;
            continue;
          }
          part.recomputed.push_back("shard " + std::to_string(index) + ": " + why);
          fs::remove(record_path, ec);  // computed again below
        }
      }
      if (opt.stop_requested && opt.stop_requested()) {
        part.interrupted = true;
        break;
      }
      const auto solve_start = Clock::now();
      const auto [first, count] = shard_span(s, index);
      std::vector<SampleOutcome> outcomes;
      Shard shard = generator.impl_->compute(index, first, count, &outcomes);
      part.solve_s += seconds_since(solve_start);
      if (generator.impl_->stopped) {
        part.interrupted = true;  // samples left undone: the shard is not written
        break;
      }
      if (!writes.start(std::move(shard), index, std::move(outcomes))) break;  // an earlier shard's write failed
    } catch (const std::exception& e) {
      part.error = e.what();
      break;
    }
  }
  writes.finish();

  // Rank 0 gathers every rank's records (on one rank: its own, as they are) and writes the audit
  // and the manifest.
  std::vector<RankPart> parts;
  try {
    if (ranks == 1)
      parts.push_back(std::move(part));
    else
      for (const auto& text : collective::gather(pack(part))) parts.push_back(unpack(text));
  } catch (const std::exception& e) {
    summary.message = e.what();
    return summary;
  }
  Outcome outcome;  // rank 0's verdict, for every rank
  if (me == 0) {
    std::vector<nlohmann::json> records(num_shards);
    std::vector<bool> have(num_shards, false);
    std::vector<std::string> recomputed;
    std::string error;
    bool interrupted = false;
    for (auto& p : parts) {
      if (!p.error.empty() && error.empty()) error = p.error;
      interrupted = interrupted || p.interrupted;
      summary.shards_resumed += p.resumed;
      recomputed.insert(recomputed.end(), p.recomputed.begin(), p.recomputed.end());
      summary.solve_s = std::max(summary.solve_s, p.solve_s);
      summary.write_s = std::max(summary.write_s, p.write_s);
      for (auto& r : p.records) {
        const auto k = r.at("index").get<std::uint64_t>();
        have[k] = true;
        records[k] = std::move(r);
      }
    }
    try {
      outcome = finish_run(s, opt, folder.get(), summary, records, have, error, interrupted, recomputed, event_names,
                           generator.impl_->grid.times.size(), start);
    } catch (const std::exception& e) {
      outcome = {Outcome::kFailed, e.what()};
    }
  }
  if (ranks > 1) outcome = Outcome::unpack(collective::broadcast(outcome.pack()));
  summary.wall_s = seconds_since(start);
  summary.completed = outcome.status == Outcome::kComplete;
  summary.interrupted = outcome.status == Outcome::kInterrupted;
  summary.message = outcome.message;
  return summary;
}

std::vector<solvers::Event> scenario_events(const std::vector<EventSpec>& specs, const core::Model* model) {
  std::vector<solvers::Event> events;
  const auto names = expression_variables(*model);
  for (const auto& e : specs) {
    const double threshold = e.threshold;
    solvers::Event event{e.name, nullptr, e.direction, e.action == EventSpec::Action::kStop};
    if (e.expression.empty()) {
      const int idx = e.state_index;
      event.function = [idx, threshold](double, const double* y, const double*) { return y[idx] - threshold; };
    } else {
      auto expression = std::make_shared<Expression>(e.expression, names);
      auto values = std::make_shared<std::vector<double>>(names.size());
      auto inputs = std::make_shared<const ExpressionInputs>(*model);
      event.function = [expression, values, inputs, threshold](double t, const double* y, const double* p) {
        inputs->fill(t, y, p, values->data());
        return expression->evaluate(values->data()) - threshold;
      };
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace physynth::engine
