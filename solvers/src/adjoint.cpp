#include "physynth/solvers/adjoint.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>

#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

#include "cvodes_flag.h"

namespace physynth::solvers {

namespace {

// Everything the callbacks read; p is the caller's, alive for the whole solve.
struct Problem {
  const core::Model& model;
  const double* p;
  std::size_t n;
  const std::vector<int>& parameters;
  std::vector<double> jacobian, parameter_jacobian;  // n x n, n x K, column-major
  std::string message;                               // the last SUNDIALS or callback message
};

int rhs(sunrealtype t, N_Vector y, N_Vector ydot, void* data) {
  auto* pr = static_cast<Problem*>(data);
  try {
    pr->model.rhs(t, N_VGetArrayPointer(y), pr->p, N_VGetArrayPointer(ydot));
  } catch (const std::exception& e) {
    pr->message = std::string("right-hand side threw: ") + e.what();
    return -1;
  }
  const double* out = N_VGetArrayPointer(ydot);
  return std::all_of(out, out + pr->n, [](double v) { return std::isfinite(v); }) ? 0 : 1;
}

// df/dy at (t, y) into out (n x n, column-major); false (the message kept) if the model threw.
bool model_jacobian(Problem* pr, sunrealtype t, N_Vector y, double* out) {
  try {
    pr->model.jacobian(t, N_VGetArrayPointer(y), pr->p, out);
    return true;
  } catch (const std::exception& e) {
    pr->message = std::string("Jacobian threw: ") + e.what();
    return false;
  }
}

int jacobian(sunrealtype t, N_Vector y, N_Vector, SUNMatrix J, void* data, N_Vector, N_Vector, N_Vector) {
  return model_jacobian(static_cast<Problem*>(data), t, y, SUNDenseMatrix_Data(J)) ? 0 : -1;
}

// out = -M^T l for M n x cols, column-major; 1 (a recoverable failure for CVODES) if not finite.
int minus_transpose_times(const double* m, std::size_t n, std::size_t cols, const double* l, double* out) {
  for (std::size_t j = 0; j < cols; ++j) {
    const double* column = m + j * n;
    double v = 0.0;
    for (std::size_t i = 0; i < n; ++i) v += column[i] * l[i];
    if (!std::isfinite(v)) return 1;
    out[j] = -v;
  }
  return 0;
}

// lambda' = -J^T lambda.
int rhs_backward(sunrealtype t, N_Vector y, N_Vector yB, N_Vector yBdot, void* data) {
  auto* pr = static_cast<Problem*>(data);
  const std::size_t n = pr->n;
  if (!model_jacobian(pr, t, y, pr->jacobian.data())) return -1;
  return minus_transpose_times(pr->jacobian.data(), n, n, N_VGetArrayPointer(yB), N_VGetArrayPointer(yBdot));
}

int jacobian_backward(sunrealtype t, N_Vector y, N_Vector, N_Vector, SUNMatrix JB, void* data, N_Vector, N_Vector,
                      N_Vector) {
  auto* pr = static_cast<Problem*>(data);
  const std::size_t n = pr->n;
  if (!model_jacobian(pr, t, y, pr->jacobian.data())) return -1;
  double* out = SUNDenseMatrix_Data(JB);
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n; ++i) out[i + n * j] = -pr->jacobian[j + n * i];
  return 0;
}

// q' = -lambda^T df/dp: integrated backwards from q = 0, q(t0) is the integral of lambda^T df/dp.
int quadrature_backward(sunrealtype t, N_Vector y, N_Vector yB, N_Vector qBdot, void* data) {
  auto* pr = static_cast<Problem*>(data);
  const std::size_t n = pr->n;
  try {
    pr->model.parameter_jacobian_columns(t, N_VGetArrayPointer(y), pr->p, pr->parameters,
                                         pr->parameter_jacobian.data());
  } catch (const std::exception& e) {
    pr->message = std::string("parameter Jacobian threw: ") + e.what();
    return -1;
  }
  return minus_transpose_times(pr->parameter_jacobian.data(), n, pr->parameters.size(), N_VGetArrayPointer(yB),
                               N_VGetArrayPointer(qBdot));
}

void error_handler(int, const char* module, const char* function, char* msg, void* data) {
  static_cast<Problem*>(data)->message = std::string(module) + "::" + function + ": " + msg;
}

// SUNDIALS objects of one solve, freed in any case.
struct Memory {
  SUNContext context = nullptr;
  void* cvode = nullptr;
  N_Vector y = nullptr, yB = nullptr, qB = nullptr, atol = nullptr;
  SUNMatrix matrix = nullptr, matrixB = nullptr;
  SUNLinearSolver solver = nullptr, solverB = nullptr;
  ~Memory() {
    if (cvode) CVodeFree(&cvode);
    if (solver) SUNLinSolFree(solver);
    if (solverB) SUNLinSolFree(solverB);
    if (matrix) SUNMatDestroy(matrix);
    if (matrixB) SUNMatDestroy(matrixB);
    for (N_Vector v : {y, yB, qB, atol})
      if (v) N_VDestroy(v);
    if (context) SUNContext_Free(&context);
  }
};

struct Failure {
  int flag;
  const char* call;
};

void check(int flag, const char* call) {
  if (flag < 0) throw Failure{flag, call};
}

}  // namespace

std::string adjoint_refusal(const core::Model& model, const double* p, const OdeOptions& options) {
  if (options.method != Method::kBdf) return "adjoint sensitivities run CVODES' BDF only";
  if (options.linear_solver != LinearSolverKind::kDense) return "adjoint sensitivities use the dense linear solver";
  if (model.has_jumps()) return "the model has jumps (doses, events triggered by time)";
  if (!model.switch_times(p).empty()) return "the model's right-hand side switches at given times";
  return {};
}

AdjointResult solve_adjoint(const core::Model& model, const OdeOptions& options, const double* p, const double* y0,
                            double t0, const std::vector<double>& times, const std::vector<int>& parameters,
                            const std::function<void(std::size_t, const double*, double*)>& dg_dy) {
  const std::size_t n = model.num_states(), K = parameters.size(), rows = times.size();
  AdjointResult result;
  result.states.assign(rows * n, std::numeric_limits<double>::quiet_NaN());
  result.lambda0.assign(n, 0.0);
  result.parameter_gradient.assign(K, 0.0);
  if (const std::string why = adjoint_refusal(model, p, options); !why.empty())
    throw std::invalid_argument("solve_adjoint: " + why);
  if (rows == 0) return result;
  if (times.front() < t0 || !std::is_sorted(times.begin(), times.end()))
    throw std::invalid_argument("solve_adjoint: output times must be non-decreasing and not before t0");
  Problem pr{model, p, n, parameters, std::vector<double>(n * n), std::vector<double>(n * std::max<std::size_t>(K, 1)),
             {}};
  Memory mem;
  std::vector<double> g(n);
  try {
    check(SUNContext_Create(nullptr, &mem.context), "SUNContext_Create");
    const auto sn = static_cast<sunindextype>(n);
    mem.y = N_VNew_Serial(sn, mem.context);
    std::copy(y0, y0 + n, N_VGetArrayPointer(mem.y));
    // The forward pass, with checkpoints.
    std::size_t row = 0;
    for (; row < rows && times[row] == t0; ++row) std::copy(y0, y0 + n, &result.states[row * n]);
    const double t_last = times.back();
    if (t_last > t0) {
      mem.cvode = CVodeCreate(CV_BDF, mem.context);
      if (!mem.cvode) throw Failure{-1, "CVodeCreate"};
      check(CVodeSetErrHandlerFn(mem.cvode, &error_handler, &pr), "CVodeSetErrHandlerFn");
      check(CVodeInit(mem.cvode, &rhs, t0, mem.y), "CVodeInit");
      check(CVodeSetUserData(mem.cvode, &pr), "CVodeSetUserData");
      if (options.atol_per_state.empty()) {
        check(CVodeSStolerances(mem.cvode, options.rtol, options.atol), "CVodeSStolerances");
      } else {  // the states' own absolute tolerances, as OdeSolver takes them
        mem.atol = N_VNew_Serial(sn, mem.context);
        std::copy(options.atol_per_state.begin(), options.atol_per_state.end(), N_VGetArrayPointer(mem.atol));
        check(CVodeSVtolerances(mem.cvode, options.rtol, mem.atol), "CVodeSVtolerances");
      }
      mem.matrix = SUNDenseMatrix(sn, sn, mem.context);
      mem.solver = SUNLinSol_Dense(mem.y, mem.matrix, mem.context);
      check(CVodeSetLinearSolver(mem.cvode, mem.solver, mem.matrix), "CVodeSetLinearSolver");
      check(CVodeSetJacFn(mem.cvode, &jacobian), "CVodeSetJacFn");
      check(CVodeSetMaxNumSteps(mem.cvode, options.max_steps), "CVodeSetMaxNumSteps");
      if (options.max_step_size > 0.0) check(CVodeSetMaxStep(mem.cvode, options.max_step_size), "CVodeSetMaxStep");
      check(CVodeAdjInit(mem.cvode, 100, CV_HERMITE), "CVodeAdjInit");
      for (; row < rows; ++row) {
        if (row > 0 && times[row] == times[row - 1]) {
          std::copy(&result.states[(row - 1) * n], &result.states[row * n], &result.states[row * n]);
          continue;
        }
        sunrealtype reached = t0;
        int checkpoints = 0;
        check(CVodeF(mem.cvode, times[row], mem.y, &reached, CV_NORMAL, &checkpoints), "CVodeF");
        std::copy(N_VGetArrayPointer(mem.y), N_VGetArrayPointer(mem.y) + n, &result.states[row * n]);
      }
      CVodeGetNumSteps(mem.cvode, &result.steps_forward);
    }
    // The backward pass: lambda from the last row down, jumping by dg_j/dy at each row.
    std::vector<double> lambda(n, 0.0), q(K, 0.0);
    std::size_t j = rows;
    auto add_rows_at = [&](double t) {
      while (j > 0 && times[j - 1] == t) {
        --j;
        std::fill(g.begin(), g.end(), 0.0);
        dg_dy(j, &result.states[j * n], g.data());
        for (std::size_t i = 0; i < n; ++i) lambda[i] += g[i];
      }
    };
    add_rows_at(t_last);
    if (t_last > t0) {
      mem.yB = N_VNew_Serial(sn, mem.context);
      mem.qB = N_VNew_Serial(static_cast<sunindextype>(std::max<std::size_t>(K, 1)), mem.context);
      std::copy(lambda.begin(), lambda.end(), N_VGetArrayPointer(mem.yB));
      N_VConst(0.0, mem.qB);
      int which = 0;
      check(CVodeCreateB(mem.cvode, CV_BDF, &which), "CVodeCreateB");
      check(CVodeInitB(mem.cvode, which, &rhs_backward, t_last, mem.yB), "CVodeInitB");
      void* memB = CVodeGetAdjCVodeBmem(mem.cvode, which);
      check(CVodeSetErrHandlerFn(memB, &error_handler, &pr), "CVodeSetErrHandlerFn");
      check(CVodeSetUserDataB(mem.cvode, which, &pr), "CVodeSetUserDataB");
      check(CVodeSStolerancesB(mem.cvode, which, options.rtol, options.atol), "CVodeSStolerancesB");
      mem.matrixB = SUNDenseMatrix(sn, sn, mem.context);
      mem.solverB = SUNLinSol_Dense(mem.yB, mem.matrixB, mem.context);
      check(CVodeSetLinearSolverB(mem.cvode, which, mem.solverB, mem.matrixB), "CVodeSetLinearSolverB");
      check(CVodeSetJacFnB(mem.cvode, which, &jacobian_backward), "CVodeSetJacFnB");
      check(CVodeSetMaxNumStepsB(mem.cvode, which, options.max_steps), "CVodeSetMaxNumStepsB");
      if (K > 0) {
        check(CVodeQuadInitB(mem.cvode, which, &quadrature_backward, mem.qB), "CVodeQuadInitB");
        check(CVodeQuadSStolerancesB(mem.cvode, which, options.rtol, options.atol), "CVodeQuadSStolerancesB");
        check(CVodeSetQuadErrConB(mem.cvode, which, SUNTRUE), "CVodeSetQuadErrConB");
      }
      double t = t_last;
      while (t > t0) {
        const double next = j > 0 ? times[j - 1] : t0;
        check(CVodeB(mem.cvode, next, CV_NORMAL), "CVodeB");
        sunrealtype reached = next;
        check(CVodeGetB(mem.cvode, which, &reached, mem.yB), "CVodeGetB");
        if (K > 0) check(CVodeGetQuadB(mem.cvode, which, &reached, mem.qB), "CVodeGetQuadB");
        long steps = 0;
        CVodeGetNumSteps(memB, &steps);
        result.steps_backward += steps;
        t = next;
        std::copy(N_VGetArrayPointer(mem.yB), N_VGetArrayPointer(mem.yB) + n, lambda.begin());
        add_rows_at(t);
        if (t > t0) {  // restart from the jump
          std::copy(lambda.begin(), lambda.end(), N_VGetArrayPointer(mem.yB));
          check(CVodeReInitB(mem.cvode, which, t, mem.yB), "CVodeReInitB");
          if (K > 0) check(CVodeQuadReInitB(mem.cvode, which, mem.qB), "CVodeQuadReInitB");
        }
      }
      if (K > 0) std::copy(N_VGetArrayPointer(mem.qB), N_VGetArrayPointer(mem.qB) + K, q.begin());
    }
    add_rows_at(t0);
    result.lambda0 = lambda;
    result.parameter_gradient = q;
  } catch (const Failure& f) {
    result.status = SolveStatus::kFailed;
    result.flag_name = std::string(f.call) + ": " + detail::return_flag_name(f.flag);
    result.message = pr.message;
  }
  return result;
}

}  // namespace physynth::solvers
