#include "physynth/solvers/ode_solver.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>

#include "cvodes_flag.h"
#include "physynth/core/diagnostics.h"
#include "physynth/solvers/rosenbrock_solver.h"

#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sundials/sundials_version.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_klu.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

namespace physynth::solvers {

std::string sundials_version() {
  char buffer[64] = {0};
  SUNDIALSGetVersion(buffer, sizeof buffer);
  return buffer;
}

const char* method_name(Method m) {
  switch (m) {
    case Method::kBdf:
      return "bdf";
    case Method::kAdams:
      return "adams";
    case Method::kRosenbrock:
      return "rosenbrock";
    case Method::kNdf:
      return "ndf";
  }
  return "?";
}
const char* linear_solver_name(LinearSolverKind k) { return k == LinearSolverKind::kDense ? "dense" : "klu"; }

bool sparse_pays(const core::Model& model) {
  const std::size_t n = model.num_states();
  if (n < kSparseStates) return false;
  return static_cast<std::size_t>(model.jacobian_sparsity().nonzeros()) * 5 <= n * n;
}

const char* status_name(SolveStatus s) {
  switch (s) {
    case SolveStatus::kSuccess:
      return "ok";
    case SolveStatus::kStoppedByEvent:
      return "stopped_by_event";
    case SolveStatus::kFailed:
      return "failed";
  }
  return "?";
}

const std::array<const char*, SolverStats::kCount>& SolverStats::names() {
  static const std::array<const char*, kCount> n = {"steps",
                                                    "rhs_evals",
                                                    "jacobian_evals",
                                                    "linear_setups",
                                                    "error_test_failures",
                                                    "nonlinear_iterations",
                                                    "nonlinear_convergence_failures",
                                                    "root_evals"};
  return n;
}

std::array<long, SolverStats::kCount> SolverStats::values() const {
  return {steps,
          rhs_evals,
          jacobian_evals,
          linear_setups,
          error_test_failures,
          nonlinear_iterations,
          nonlinear_convergence_failures,
          root_evals};
}

std::vector<std::string> OdeOptions::validate(std::size_t num_states) const {
  std::vector<std::string> errors;
  auto num = [](double x) { return core::format_number(x); };
  if (!(rtol > 0.0)) errors.push_back("rtol must be > 0, got " + num(rtol));
  if (rtol > 0.0 && rtol < 1e-15) errors.push_back("rtol must be >= 1e-15 (machine precision), got " + num(rtol));
  if (!(atol > 0.0)) errors.push_back("atol must be > 0, got " + num(atol));
  if (!atol_per_state.empty() && atol_per_state.size() != num_states)
    errors.push_back("atol_per_state must have one entry per state (" + std::to_string(num_states) + "), got " +
                     std::to_string(atol_per_state.size()));
  for (double a : atol_per_state)
    if (!(a > 0.0)) errors.push_back("every per-state atol must be > 0, got " + num(a));
  if (max_steps <= 0) errors.push_back("max_steps must be > 0, got " + std::to_string(max_steps));
  if (max_step_size < 0.0) errors.push_back("max_step_size must be >= 0, got " + num(max_step_size));
  if (initial_step_size < 0.0) errors.push_back("initial_step_size must be >= 0, got " + num(initial_step_size));
  const int order_limit = method == Method::kBdf ? 5 : method == Method::kAdams ? 12 : 0;
  for (int k : sensitivity_parameters)
    if (k < 0) errors.push_back("sensitivity parameter indices must be >= 0, got " + std::to_string(k));
  if (method == Method::kRosenbrock && max_order != 0)
    errors.push_back("max_order is a CVODES setting (Rodas5P has order 5), got " + std::to_string(max_order));
  else if (method == Method::kNdf && max_order != 0)
    errors.push_back("max_order is a CVODES setting (the NDF chooses orders 1 to 5), got " + std::to_string(max_order));
  else if (method == Method::kNdf && !sensitivity_parameters.empty())
    errors.push_back("the NDF (method ndf) computes no sensitivities; use method rosenbrock or bdf");
  else if (max_order < 0 || max_order > order_limit)
    errors.push_back("max_order must be between 1 and " + std::to_string(order_limit) + " for " + method_name(method) +
                     " (0 for the default), got " + std::to_string(max_order));
  return errors;
}

namespace {
// Steps tried: accepted ones and those rejected by the error test or a failed Newton iteration
// (each costs about as much), the work steps_taken() counts. With forward sensitivities CVODES'
// staggered corrector also rejects steps for the sensitivities alone (their own error test and
// Newton failures, counted apart from the state's): Impl::steps_tried adds those.
long attempts(const SolverStats& s) { return s.steps + s.error_test_failures + s.nonlinear_convergence_failures; }

// Where a solve stops and restarts: a jump of the model's state, or a switch of its right-hand
// side alone (Model::switch_times).
struct Stop {
  double t = 0.0;
  bool jump = false;
};
}  // namespace

struct OdeSolver::Impl {
  std::shared_ptr<const core::Model> model;
  OdeOptions options;
  std::vector<Event> events;
  std::size_t n = 0;

  SUNContext context = nullptr;
  void* cvode = nullptr;
  N_Vector y = nullptr;
  N_Vector atol_vector = nullptr;
  SUNMatrix matrix = nullptr;
  SUNLinearSolver linear_solver = nullptr;
  SUNNonlinearSolver nonlinear_solver = nullptr;
  SUNNonlinearSolver sensitivity_solver = nullptr;
  N_Vector* sens = nullptr;  // one vector per sensitivity parameter
  int num_sens = 0;
  int created = 0;
  std::optional<RosenbrockSolver> rodas;          // methods kRosenbrock and kNdf
  std::vector<double> segment_grid, segment_out, segment_sens;  // its scratch between the model's stops
  long steps_taken = 0;                                         // by every solve (steps_taken())

  // Per-solve state reached from the C callbacks.
  std::vector<double> params;
  std::vector<double> dense_jacobian;      // scratch for the sparse Jacobian and the sensitivity RHS
  std::vector<double> parameter_jacobian;  // scratch: df/dp
  core::SparsityPattern pattern;
  std::string last_message;

  ~Impl() {
    if (cvode) CVodeFree(&cvode);
    if (linear_solver) SUNLinSolFree(linear_solver);
    if (nonlinear_solver) SUNNonlinSolFree(nonlinear_solver);
    if (sensitivity_solver) SUNNonlinSolFree(sensitivity_solver);
    if (sens) N_VDestroyVectorArray(sens, num_sens);
    if (matrix) SUNMatDestroy(matrix);
    if (atol_vector) N_VDestroy(atol_vector);
    if (y) N_VDestroy(y);
    if (context) SUNContext_Free(&context);
  }

  static int rhs(sunrealtype t, N_Vector y, N_Vector ydot, void* data) {
    auto* self = static_cast<Impl*>(data);
    try {
      const double* yy = N_VGetArrayPointer(y);
      double* out = N_VGetArrayPointer(ydot);
      self->model->rhs(t, yy, self->params.data(), out);
      for (std::size_t i = 0; i < self->n; ++i)
        if (!std::isfinite(out[i])) return 1;  // recoverable: CVODES retries with a smaller step
      return 0;
    } catch (const std::exception& e) {
      self->last_message = std::string("right-hand side threw: ") + e.what();
      return -1;
    }
  }

  static int jacobian(sunrealtype t, N_Vector y, N_Vector /*fy*/, SUNMatrix J, void* data, N_Vector, N_Vector,
                      N_Vector) {
    auto* self = static_cast<Impl*>(data);
    try {
      const double* yy = N_VGetArrayPointer(y);
      if (SUNMatGetID(J) == SUNMATRIX_DENSE) {
        self->model->jacobian(t, yy, self->params.data(), SUNDenseMatrix_Data(J));
        return 0;
      }
      self->model->jacobian(t, yy, self->params.data(), self->dense_jacobian.data());
      const auto& p = self->pattern;
      sunindextype* colptr = SUNSparseMatrix_IndexPointers(J);
      sunindextype* rowval = SUNSparseMatrix_IndexValues(J);
      double* values = SUNSparseMatrix_Data(J);
      for (int j = 0; j <= p.size; ++j) colptr[j] = p.column_start[j];
      for (int j = 0; j < p.size; ++j)
        for (int k = p.column_start[j]; k < p.column_start[j + 1]; ++k) {
          rowval[k] = p.row_index[k];
          values[k] = self->dense_jacobian[static_cast<std::size_t>(p.row_index[k]) + self->n * j];
        }
      return 0;
    } catch (const std::exception& e) {
      self->last_message = std::string("Jacobian threw: ") + e.what();
      return -1;
    }
  }

  // ySdot_k = J yS_k + df/dp_{p_k}, with J and df/dp exact (autodiff).
  static int sensitivity_rhs(int ns, sunrealtype t, N_Vector y, N_Vector, N_Vector* yS, N_Vector* ySdot, void* data,
                             N_Vector, N_Vector) {
    auto* self = static_cast<Impl*>(data);
    try {
      const std::size_t n = self->n;
      const double* yy = N_VGetArrayPointer(y);
      self->model->jacobian(t, yy, self->params.data(), self->dense_jacobian.data());
      // df/dp for the sensitivity parameters only: a model with hundreds of parameters (an SBML
      // file's local constants) would otherwise differentiate every one at every call.
      self->model->parameter_jacobian_columns(t, yy, self->params.data(), self->options.sensitivity_parameters,
                                              self->parameter_jacobian.data());
      for (int k = 0; k < ns; ++k) {
        const double* s = N_VGetArrayPointer(yS[k]);
        double* out = N_VGetArrayPointer(ySdot[k]);
        const auto column = static_cast<std::size_t>(k);
        for (std::size_t i = 0; i < n; ++i) {
          double v = self->parameter_jacobian[i + n * column];
          for (std::size_t j = 0; j < n; ++j) v += self->dense_jacobian[i + n * j] * s[j];
          if (!std::isfinite(v)) return 1;
          out[i] = v;
        }
      }
      return 0;
    } catch (const std::exception& e) {
      self->last_message = std::string("sensitivity right-hand side threw: ") + e.what();
      return -1;
    }
  }

  static int roots(sunrealtype t, N_Vector y, sunrealtype* g, void* data) {
    auto* self = static_cast<Impl*>(data);
    try {
      const double* yy = N_VGetArrayPointer(y);
      for (std::size_t i = 0; i < self->events.size(); ++i) g[i] = self->events[i].function(t, yy, self->params.data());
      return 0;
    } catch (const std::exception& e) {
      self->last_message = std::string("event function threw: ") + e.what();
      return -1;
    }
  }

  static void error_handler(int, const char* module, const char* function, char* msg, void* data) {
    auto* self = static_cast<Impl*>(data);
    self->last_message = std::string(module) + "::" + function + ": " + msg;
  }

  void check(int flag, const char* call) {
    if (flag < 0)
      throw std::runtime_error(std::string("SUNDIALS ") + call + " failed with flag " + std::to_string(flag));
  }

  void create(double t0) {
    check(SUNContext_Create(nullptr, &context), "SUNContext_Create");
    y = N_VNew_Serial(static_cast<sunindextype>(n), context);
    if (!y) throw std::runtime_error("N_VNew_Serial failed");
    // Fused vector operations: fewer passes and calls per step, which is most
    // of the cost for the small systems of chemical kinetics.
    check(N_VEnableFusedOps_Serial(y, SUNTRUE), "N_VEnableFusedOps_Serial");
    cvode = CVodeCreate(options.method == Method::kBdf ? CV_BDF : CV_ADAMS, context);
    if (!cvode) throw std::runtime_error("CVodeCreate failed");
    check(CVodeSetErrHandlerFn(cvode, &Impl::error_handler, this), "CVodeSetErrHandlerFn");
    check(CVodeInit(cvode, &Impl::rhs, t0, y), "CVodeInit");
    check(CVodeSetUserData(cvode, this), "CVodeSetUserData");
    if (options.atol_per_state.empty()) {
      check(CVodeSStolerances(cvode, options.rtol, options.atol), "CVodeSStolerances");
    } else {
      atol_vector = N_VNew_Serial(static_cast<sunindextype>(n), context);
      for (std::size_t i = 0; i < n; ++i) N_VGetArrayPointer(atol_vector)[i] = options.atol_per_state[i];
      check(CVodeSVtolerances(cvode, options.rtol, atol_vector), "CVodeSVtolerances");
    }
    if (options.method == Method::kBdf) {
      if (options.linear_solver == LinearSolverKind::kDense) {
        matrix = SUNDenseMatrix(static_cast<sunindextype>(n), static_cast<sunindextype>(n), context);
        linear_solver = SUNLinSol_Dense(y, matrix, context);
      } else {
        pattern = model->jacobian_sparsity();
        dense_jacobian.assign(n * n, 0.0);
        matrix = SUNSparseMatrix(static_cast<sunindextype>(n), static_cast<sunindextype>(n), pattern.nonzeros(),
                                 CSC_MAT, context);
        linear_solver = SUNLinSol_KLU(y, matrix, context);
      }
      if (!matrix || !linear_solver) throw std::runtime_error("creating the linear solver failed");
      check(CVodeSetLinearSolver(cvode, linear_solver, matrix), "CVodeSetLinearSolver");
      check(CVodeSetJacFn(cvode, &Impl::jacobian), "CVodeSetJacFn");
    } else {
      nonlinear_solver = SUNNonlinSol_FixedPoint(y, 0, context);
      if (!nonlinear_solver) throw std::runtime_error("SUNNonlinSol_FixedPoint failed");
      check(CVodeSetNonlinearSolver(cvode, nonlinear_solver), "CVodeSetNonlinearSolver");
    }
    if (options.max_step_size > 0.0) check(CVodeSetMaxStep(cvode, options.max_step_size), "CVodeSetMaxStep");
    if (options.max_order > 0) check(CVodeSetMaxOrd(cvode, options.max_order), "CVodeSetMaxOrd");
    num_sens = static_cast<int>(options.sensitivity_parameters.size());
    if (num_sens > 0) {
      dense_jacobian.assign(n * n, 0.0);
      parameter_jacobian.assign(n * std::max(model->num_parameters(), options.sensitivity_parameters.size()), 0.0);
      sens = N_VCloneVectorArray(num_sens, y);
      if (!sens) throw std::runtime_error("N_VCloneVectorArray failed");
      for (int k = 0; k < num_sens; ++k) N_VConst(0.0, sens[k]);
      check(CVodeSensInit(cvode, num_sens, CV_STAGGERED, &Impl::sensitivity_rhs, sens), "CVodeSensInit");
      check(CVodeSensEEtolerances(cvode), "CVodeSensEEtolerances");
      check(CVodeSetSensErrCon(cvode, SUNTRUE), "CVodeSetSensErrCon");
      if (options.method == Method::kAdams) {
        sensitivity_solver = SUNNonlinSol_FixedPointSens(num_sens, y, 0, context);
        if (!sensitivity_solver) throw std::runtime_error("SUNNonlinSol_FixedPointSens failed");
        check(CVodeSetNonlinearSolverSensStg(cvode, sensitivity_solver), "CVodeSetNonlinearSolverSensStg");
      }
    }
    if (!events.empty()) {
      check(CVodeRootInit(cvode, static_cast<int>(events.size()), &Impl::roots), "CVodeRootInit");
      std::vector<int> directions;
      for (const auto& e : events) directions.push_back(e.direction);
      check(CVodeSetRootDirection(cvode, directions.data()), "CVodeSetRootDirection");
      // An event function that is zero at t0 (a threshold equal to the initial
      // value) is not an event: CVODES deactivates such roots until they move away.
      check(CVodeSetNoInactiveRootWarn(cvode), "CVodeSetNoInactiveRootWarn");
    }
    ++created;
  }

  // Steps CVODES tried since its last (re)initialisation, those rejected for the sensitivities included.
  long steps_tried() const {
    long tried = attempts(stats());
    if (num_sens > 0) {
      long error_fails = 0, newton_fails = 0;
      CVodeGetSensNumErrTestFails(cvode, &error_fails);
      CVodeGetSensNumNonlinSolvConvFails(cvode, &newton_fails);
      tried += error_fails + newton_fails;
    }
    return tried;
  }

  SolverStats stats() const {
    SolverStats s;
    long v = 0;
    CVodeGetNumSteps(cvode, &s.steps);
    CVodeGetNumRhsEvals(cvode, &s.rhs_evals);
    CVodeGetNumErrTestFails(cvode, &s.error_test_failures);
    CVodeGetNumLinSolvSetups(cvode, &s.linear_setups);
    CVodeGetNumNonlinSolvIters(cvode, &s.nonlinear_iterations);
    CVodeGetNumNonlinSolvConvFails(cvode, &s.nonlinear_convergence_failures);
    if (linear_solver && CVodeGetNumJacEvals(cvode, &v) == CV_SUCCESS) s.jacobian_evals = v;
    if (!events.empty() && CVodeGetNumGEvals(cvode, &v) == CV_SUCCESS) s.root_evals = v;
    return s;
  }

  // One Rodas5P solve's events, statistics, end and status added to r, as CVODES reports them.
  void add_rosenbrock_result(SolveResult& r, const RosenbrockResult& rr) const {
    r.events.insert(r.events.end(), rr.events.begin(), rr.events.end());
    r.stats.steps += rr.stats.steps;
    r.stats.rhs_evals += rr.stats.rhs_evals;
    r.stats.jacobian_evals += rr.stats.jacobian_evals;
    r.stats.linear_setups += rr.stats.factorizations;
    r.stats.error_test_failures += rr.stats.rejected;
    r.t_reached = rr.t_reached;
    r.final_state = rr.final_state;
    if (rr.status == RosenbrockStatus::kStoppedByEvent) {
      r.status = SolveStatus::kStoppedByEvent;
    } else if (rr.status != RosenbrockStatus::kSuccess) {
      r.status = SolveStatus::kFailed;
      r.flag = -1;
      r.flag_name = rosenbrock_status_name(rr.status);
      r.message = std::string(options.method == Method::kNdf ? "the NDF" : "Rodas5P") + " stopped at t = " +
                  core::format_number(rr.t_reached) + ": " + r.flag_name;
    }
  }

  // methods kRosenbrock and kNdf, from y0 (the jumps at t0 applied): the model's later stops split the
  // solve as they split CVODES': the integration stops at each and restarts there; at a jump,
  // every jump due then is applied to the state before them first, and an output at its time
  // shows the state after; at a switch (Model::switch_times) the state and its sensitivities
  // carry on. (Sensitivities never meet a jump: solve() refuses them first.)
  void make_rosenbrock() {
    if (rodas) return;
    rodas.emplace(static_cast<int>(n), rosenbrock_options(options),
                  options.method == Method::kNdf ? StiffFormula::kNdf : StiffFormula::kRodas5P);
    ++created;
  }

  void solve_rosenbrock(const double* p, const std::vector<double>& y0, double t0, const std::vector<Stop>& stops,
                        const std::vector<double>& times, double* out, double* sensitivities,
                        const double* initial_sensitivities, SolveResult& r) {
    make_rosenbrock();
    const std::size_t T = times.size();
    const std::vector<int>& sens = options.sensitivity_parameters;
    const std::size_t K = sens.size();
    if (stops.empty()) {
      const auto rr = rodas->solve(*model, p, t0, y0.data(), times, out, events, sens, initial_sensitivities,
                                   sensitivities);
      add_rosenbrock_result(r, rr);
      r.rows_written = rr.rows_written;
      return;
    }
    std::vector<double> y = y0;
    // The sensitivities at a segment's start (K x n); empty: dy0/dp (the first segment, unless given).
    std::vector<double> s_start;
    if (K > 0 && initial_sensitivities) s_start.assign(initial_sensitivities, initial_sensitivities + K * n);
    std::vector<double>& grid = segment_grid;
    std::size_t row = 0;  // the next output row to fill
    double ts = t0;
    for (std::size_t seg = 0; seg <= stops.size(); ++seg) {
      const bool to_stop = seg < stops.size();
      const double te = to_stop ? stops[seg].t : times.back();
      // This segment's grid: its start, the outputs inside it (before the stop; the stop's own
      // time is the next segment's start) and, to a stop, the stop's time.
      grid.assign(1, ts);
      const std::size_t first = row;
      while (row < T && times[row] <= ts) ++row;  // outputs at the start show the state there
      const std::size_t inside = row;
      for (std::size_t k = inside; k < T && (to_stop ? times[k] < te : times[k] <= te); ++k) grid.push_back(times[k]);
      if (to_stop) grid.push_back(te);
      segment_out.assign(grid.size() * n, std::numeric_limits<double>::quiet_NaN());
      segment_sens.assign(grid.size() * K * n, std::numeric_limits<double>::quiet_NaN());
      const auto rr = rodas->solve(*model, p, ts, y.data(), grid, segment_out.data(), events, sens,
                                   s_start.empty() ? nullptr : s_start.data(), K > 0 ? segment_sens.data() : nullptr);
      if (K > 0 && seg == 0 && s_start.empty())  // dy0/dp, as the solve started from it
        s_start.assign(segment_sens.begin(), segment_sens.begin() + static_cast<long>(K * n));
      for (std::size_t k = first; k < inside; ++k) {
        std::copy(y.begin(), y.end(), out + k * n);
        if (K > 0) std::copy(s_start.begin(), s_start.end(), sensitivities + k * K * n);
      }
      const std::size_t outputs = grid.size() - 1 - (to_stop ? 1 : 0);  // grid rows that are output rows
      const std::size_t written = rr.rows_written == 0 ? 0 : std::min(outputs, rr.rows_written - 1);
      std::copy(segment_out.begin() + static_cast<long>(n), segment_out.begin() + static_cast<long>((1 + written) * n),
                out + inside * n);
      if (K > 0)
        std::copy(segment_sens.begin() + static_cast<long>(K * n),
                  segment_sens.begin() + static_cast<long>((1 + written) * K * n), sensitivities + inside * K * n);
      add_rosenbrock_result(r, rr);
      row = inside + written;
      r.rows_written = row;
      if (rr.status != RosenbrockStatus::kSuccess) return;
      if (to_stop) {
        y = rr.final_state;  // y(te), then the jumps due at te
        if (stops[seg].jump) model->apply_jumps(te, y.data(), p);
        if (K > 0)
          s_start.assign(segment_sens.end() - static_cast<long>(K * n), segment_sens.end());  // their value at te
        r.final_state = y;
        ts = te;
      }
    }
    r.rows_written = T;
  }
};

OdeSolver::OdeSolver(std::shared_ptr<const core::Model> model, OdeOptions options, std::vector<Event> events)
    : impl_(std::make_unique<Impl>()) {
  if (!model) throw std::invalid_argument("OdeSolver: model is null");
  auto errors = options.validate(model->num_states());
  for (int k : options.sensitivity_parameters)
    if (k >= static_cast<int>(model->num_parameters()))
      errors.push_back("sensitivity parameter index " + std::to_string(k) + " is out of range (the model has " +
                       std::to_string(model->num_parameters()) + " parameters)");
  if (!errors.empty()) throw std::invalid_argument("OdeSolver: " + errors.front());
  impl_->n = model->num_states();
  impl_->model = std::move(model);
  impl_->options = std::move(options);
  impl_->events = std::move(events);
}

OdeSolver::~OdeSolver() = default;
OdeSolver::OdeSolver(OdeSolver&&) noexcept = default;
OdeSolver& OdeSolver::operator=(OdeSolver&&) noexcept = default;

int OdeSolver::instances_created() const { return impl_->created; }
long OdeSolver::steps_taken() const { return impl_->steps_taken; }

bool OdeSolver::steps_samples_together() const {
  const Impl& s = *impl_;
  return (s.options.method == Method::kRosenbrock || s.options.method == Method::kNdf) && s.options.lanes &&
         s.options.sensitivity_parameters.empty() && s.n >= 1 &&
         s.n <= static_cast<std::size_t>(kRosenbrockFixedStates) && s.model->has_lane_rhs() && !s.model->has_jumps();
}

void OdeSolver::solve_many(std::size_t count, const double* p, const double* y0, double t0,
                           const std::vector<double>& times, double* out, SolveResult* results) {
  Impl& s = *impl_;
  const std::size_t n = s.n, m = s.model->num_parameters(), rows = times.size() * n;
  if (!steps_samples_together() || times.empty()) {
    for (std::size_t k = 0; k < count; ++k) results[k] = solve(p + k * m, y0 + k * n, t0, times, out + k * rows);
    return;
  }
  // Samples the lanes take: finite initial state and no switch in (t0, end] (a model with jumps
  // never comes here: steps_samples_together); the others one by one, as solve() would.
  std::vector<LaneSample> lanes;
  std::vector<RosenbrockResult> lane_results(count);
  std::vector<std::size_t> of_lane;
  for (std::size_t k = 0; k < count; ++k) {
    const double* pk = p + k * m;
    const double* yk = y0 + k * n;
    bool plain = std::all_of(yk, yk + n, [](double v) { return std::isfinite(v); });
    for (double tau : s.model->switch_times(pk)) plain = plain && !(tau > t0 && tau <= times.back());
    if (!plain) {
      results[k] = solve(pk, yk, t0, times, out + k * rows);
      continue;
    }
    lanes.push_back({pk, yk, out + k * rows, &lane_results[k]});
    of_lane.push_back(k);
  }
  if (lanes.empty()) return;
  s.make_rosenbrock();
  s.rodas->solve_lanes(*s.model, t0, times, lanes.data(), lanes.size(), s.events);
  for (std::size_t k : of_lane) {
    SolveResult& r = results[k];
    r = SolveResult{};
    s.add_rosenbrock_result(r, lane_results[k]);
    r.rows_written = lane_results[k].rows_written;
    s.steps_taken += attempts(r.stats);
  }
}

namespace {

using detail::return_flag_name;
constexpr double kNoStopTime = std::numeric_limits<double>::max();
}  // namespace

SolveResult OdeSolver::solve(const double* p, const double* y0_in, double t0, const std::vector<double>& times,
                             double* out, double* sensitivities, bool jumps_at_start,
                             const double* initial_sensitivities) {
  Impl& s = *impl_;
  const std::size_t n = s.n;
  const std::size_t ns = s.options.sensitivity_parameters.size();
  if (ns > 0 && !sensitivities)
    throw std::invalid_argument(
        "OdeSolver::solve: sensitivities were requested in the options but no buffer was given");
  SolveResult result;
  result.t_reached = t0;
  std::fill(out, out + times.size() * n, std::numeric_limits<double>::quiet_NaN());
  if (ns > 0) std::fill(sensitivities, sensitivities + times.size() * ns * n, std::numeric_limits<double>::quiet_NaN());
  s.params.assign(p, p + s.model->num_parameters());
  s.last_message.clear();

  auto fail = [&](int flag, const std::string& name, const std::string& message) {
    result.status = SolveStatus::kFailed;
    result.flag = flag;
    result.flag_name = name;
    result.message = message;
  };
  // The model's jumps in (t0, end], and at t0 itself when asked: those change the initial state.
  std::vector<double> jumps;
  std::vector<double> y0(y0_in, y0_in + n);
  if (!times.empty())
    for (double tau : s.model->jump_times(p)) {
      if (tau == t0 && jumps_at_start) s.model->apply_jumps(tau, y0.data(), p);
      if (tau > t0 && tau <= times.back()) jumps.push_back(tau);
    }
  if (ns > 0 && !jumps.empty()) {
    fail(0, "JUMPS_WITH_SENSITIVITIES", "forward sensitivities across the model's jumps are not supported");
    return result;
  }
  // Every stop in (t0, end]: the jumps, and the switches of the right-hand side that are not jumps.
  std::vector<Stop> stops;
  for (double tau : jumps) stops.push_back({tau, true});
  if (!times.empty())
    for (double tau : s.model->switch_times(p))
      if (tau > t0 && tau <= times.back() && std::find(jumps.begin(), jumps.end(), tau) == jumps.end())
        stops.push_back({tau, false});
  std::sort(stops.begin(), stops.end(), [](const Stop& a, const Stop& b) { return a.t < b.t; });
  stops.erase(std::unique(stops.begin(), stops.end(), [](const Stop& a, const Stop& b) { return a.t == b.t; }),
              stops.end());
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(y0[i])) {
      fail(0, "NONFINITE_INITIAL_STATE", "initial state " + s.model->states()[i].name + " is not finite");
      return result;
    }

  if (n == 0) {  // nothing changes in time (every variable follows from rules): every row is reached
    result.rows_written = times.size();
    result.t_reached = times.empty() ? t0 : std::max(t0, times.back());
    return result;
  }
  if (s.options.method == Method::kRosenbrock || s.options.method == Method::kNdf) {
    s.solve_rosenbrock(p, y0, t0, stops, times, out, sensitivities, initial_sensitivities, result);
    s.steps_taken += attempts(result.stats);
    return result;
  }
  try {
    if (!s.cvode) s.create(t0);
    std::copy(y0.begin(), y0.end(), N_VGetArrayPointer(s.y));
    s.check(CVodeReInit(s.cvode, t0, s.y), "CVodeReInit");
    if (ns > 0 && initial_sensitivities) {
      for (std::size_t k = 0; k < ns; ++k)
        std::copy(initial_sensitivities + k * n, initial_sensitivities + (k + 1) * n, N_VGetArrayPointer(s.sens[k]));
      s.check(CVodeSensReInit(s.cvode, CV_STAGGERED, s.sens), "CVodeSensReInit");
    } else if (ns > 0) {
      std::vector<double> dy0dp(n * s.model->num_parameters());
      s.model->initial_state_jacobian(p, dy0dp.data());
      for (std::size_t k = 0; k < ns; ++k) {
        const std::size_t column = static_cast<std::size_t>(s.options.sensitivity_parameters[k]);
        std::copy(&dy0dp[n * column], &dy0dp[n * column] + n, N_VGetArrayPointer(s.sens[k]));
      }
      s.check(CVodeSensReInit(s.cvode, CV_STAGGERED, s.sens), "CVodeSensReInit");
    }
    if (s.options.initial_step_size > 0.0)
      s.check(CVodeSetInitStep(s.cvode, s.options.initial_step_size), "CVodeSetInitStep");
    // SUNDIALS 6.4 keeps a stop time across CVodeReInit and has no call to clear it: a solve
    // without jumps sets one beyond any time instead.
    s.check(CVodeSetStopTime(s.cvode, stops.empty() ? kNoStopTime : stops.front().t), "CVodeSetStopTime");
  } catch (const std::exception& e) {
    fail(-1, "SETUP_FAILED", e.what() + (s.last_message.empty() ? "" : ": " + s.last_message));
    return result;
  }

  // Row k of the sensitivity output from the vectors in s.sens.
  auto store_sensitivities = [&](std::size_t row) {
    for (std::size_t j = 0; j < ns; ++j) {
      const double* v = N_VGetArrayPointer(s.sens[j]);
      std::copy(v, v + n, sensitivities + (row * ns + j) * n);
    }
  };
  std::size_t k = 0;
  for (; k < times.size() && times[k] <= t0; ++k) {
    std::copy(y0.begin(), y0.end(), out + k * n);
    if (ns > 0) store_sensitivities(k);  // still dy0/dp
  }
  double t = t0;
  std::vector<int> root_info(s.events.size());
  std::size_t next_stop = 0;
  while (k < times.size()) {
    long steps = 0;
    CVodeGetNumSteps(s.cvode, &steps);
    const long remaining = s.options.max_steps - steps;
    if (remaining <= 0) {
      fail(CV_TOO_MUCH_WORK, "CV_TOO_MUCH_WORK",
           "max_steps (" + std::to_string(s.options.max_steps) + ") reached at t = " + std::to_string(t));
      break;
    }
    CVodeSetMaxNumSteps(s.cvode, remaining);
    // A stop before the next output: stop exactly there (never step across the discontinuity).
    // (The stop time is set when the segment starts, so no step before it passes the stop.)
    const bool to_stop = next_stop < stops.size() && stops[next_stop].t <= times[k];
    const double tout = to_stop ? stops[next_stop].t : times[k];
    double t_internal = t;
    CVodeGetCurrentTime(s.cvode, &t_internal);
    int flag = 0;
    if (next_stop < stops.size() && t_internal >= stops[next_stop].t) {
      // A step already ended at the stop time, and CVODES refuses calls once it sits there:
      // outputs up to the stop are read off its interpolant.
      flag = CVodeGetDky(s.cvode, tout, 0, s.y);
      t = tout;
    } else {
      flag = CVode(s.cvode, tout, s.y, &t, CV_NORMAL);
    }
    result.t_reached = t;
    if (flag == CV_ROOT_RETURN) {
      CVodeGetRootInfo(s.cvode, root_info.data());
      bool stop = false;
      for (std::size_t e = 0; e < s.events.size(); ++e)
        if (root_info[e] != 0) {
          result.events.push_back({static_cast<int>(e), t});
          stop = stop || s.events[e].terminal;
        }
      if (stop) {
        result.status = SolveStatus::kStoppedByEvent;
        break;
      }
      continue;
    }
    if (flag < 0) {
      fail(flag, return_flag_name(flag), s.last_message);
      break;
    }
    const double* yy = N_VGetArrayPointer(s.y);
    bool finite = true;
    for (std::size_t i = 0; i < n; ++i) finite = finite && std::isfinite(yy[i]);
    if (!finite) {
      fail(0, "NONFINITE_STATE", "the state became non-finite at t = " + std::to_string(t));
      break;
    }
    // The sensitivities at t (an output or a stop), off CVODES' interpolant.
    const auto sensitivities_at = [&](double at) {
      const int sflag = CVodeGetSensDky(s.cvode, at, 0, s.sens);
      if (sflag < 0) fail(sflag, return_flag_name(sflag), "CVodeGetSensDky: " + s.last_message);
      return sflag >= 0;
    };
    if (to_stop && t >= tout) {
      // Every jump due at tout, from the state before them; an output at tout shows the state
      // after. At a switch the state and its sensitivities carry on into the restart.
      double* y = N_VGetArrayPointer(s.y);
      if (stops[next_stop].jump) s.model->apply_jumps(tout, y, p);
      ++next_stop;
      if (ns > 0 && !sensitivities_at(tout)) break;
      s.steps_taken += s.steps_tried();  // CVODES counts from its last (re)initialisation
      try {
        s.check(CVodeReInit(s.cvode, tout, s.y), "CVodeReInit");
        if (ns > 0) s.check(CVodeSensReInit(s.cvode, CV_STAGGERED, s.sens), "CVodeSensReInit");
        s.check(CVodeSetStopTime(s.cvode, next_stop < stops.size() ? stops[next_stop].t : kNoStopTime),
                "CVodeSetStopTime");
      } catch (const std::exception& e) {
        fail(-1, "REINIT_FAILED", e.what());
        break;
      }
      if (times[k] == tout) {
        std::copy(y, y + n, out + k * n);
        if (ns > 0) store_sensitivities(k);
        ++k;
      }
      continue;
    }
    if (t < times[k]) continue;  // returned at a stop time left from an earlier solve
    std::copy(yy, yy + n, out + k * n);
    if (ns > 0) {
      if (!sensitivities_at(t)) break;
      store_sensitivities(k);
    }
    ++k;
  }
  result.rows_written = k;
  result.stats = s.stats();
  s.steps_taken += s.steps_tried();
  if (result.status != SolveStatus::kFailed) {
    const double* yy = N_VGetArrayPointer(s.y);
    result.final_state.assign(yy, yy + n);
  }
  return result;
}

}  // namespace physynth::solvers
