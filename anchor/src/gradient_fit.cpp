#include "physynth/anchor/gradient_fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "multistart.h"
#include "unit_cost.h"

// L-BFGS-B 3.0's driver (Fortran, reverse communication; liblbfgsb). Every bit of its state is in
// the arrays passed (no SAVE variables: the library has no writable data of its own), so one call
// sequence per start may run on each thread. Fortran LOGICAL is a 4-byte int; gfortran passes the
// CHARACTER arguments' lengths last, as size_t.
extern "C" void setulb_(const int* n, const int* m, double* x, const double* l, const double* u, const int* nbd,
                        double* f, double* g, const double* factr, const double* pgtol, double* wa, int* iwa,
                        char* task, const int* iprint, char* csave, int* lsave, int* isave, double* dsave,
                        std::size_t task_length, std::size_t csave_length);

namespace physynth::anchor {

using detail::from_fit;

namespace {

constexpr int kMemory = 10;               // correction pairs kept (SciPy's default)
constexpr int kFailuresInARow = 20;       // failed evaluations before a start gives up
constexpr int kRestarts = 5;              // fresh runs after a stall (below)
constexpr std::size_t kTaskLength = 60;   // CHARACTER*60 task, csave

// One L-BFGS-B run from x (fitted space) within [lo, hi].
struct Lbfgsb {
  explicit Lbfgsb(std::size_t n)
      : n_(static_cast<int>(n)),
        wa_(2 * kMemory * n + 5 * n + 11 * kMemory * kMemory + 8 * kMemory),
        iwa_(3 * n),
        nbd_(n, 2) {}  // 2: both bounds
  void start() {
    set(task_, "START");
    set(csave_, "");
  }
  // One call: returns the task on exit up to its first '_', ':' or space (FG, NEW, CONVERGENCE,
  // ABNORMAL, ERROR, WARNING).
  std::string step(std::vector<double>& x, const std::vector<double>& lo, const std::vector<double>& hi, double& f,
                   std::vector<double>& g, double factr, double pgtol) {
    const int m = kMemory, iprint = -1;
    setulb_(&n_, &m, x.data(), lo.data(), hi.data(), nbd_.data(), &f, g.data(), &factr, &pgtol, wa_.data(),
            iwa_.data(), task_, &iprint, csave_, lsave_, isave_, dsave_, kTaskLength, kTaskLength);
    return message().substr(0, message().find_first_of("_: "));
  }
  std::string message() const {
    std::string s(task_, kTaskLength);
    return s.substr(0, s.find_last_not_of(' ') + 1);
  }

 private:
  static void set(char* field, const char* text) {
    std::memset(field, ' ', kTaskLength);
    std::memcpy(field, text, std::strlen(text));
  }
  int n_;
  std::vector<double> wa_;
  std::vector<int> iwa_, nbd_;
  char task_[kTaskLength], csave_[kTaskLength];
  int lsave_[4] = {}, isave_[44] = {};
  double dsave_[29] = {};
};

}  // namespace

ResidualFitResult fit_objective(const ObjectiveFunction& f, const std::vector<BoxParameter>& box,
                                const ResidualFitOptions& opt) {
  const auto began = std::chrono::steady_clock::now();
  ResidualFitResult R;
  detail::StartDesign design;
  if (!detail::begin_fit(R, box, opt, design)) return R;
  const std::size_t D = box.size(), starts = R.starts.size();
  const double factr = opt.function_tolerance / std::numeric_limits<double>::epsilon();
  std::vector<std::vector<double>> optima(starts);

  const auto one = [&](std::size_t s) {
    const auto t0 = std::chrono::steady_clock::now();
    long work = 0;
    const auto spent = [&] { return opt.work_budget > 0 && work >= opt.work_budget; };
    // The objective at x (fitted space): dθ/dx = θ where fitted in ln.
    std::vector<double> theta(D), g_theta(D);
    const auto evaluate = [&](const std::vector<double>& x, double& value, std::vector<double>& g) {
      for (std::size_t i = 0; i < D; ++i) theta[i] = from_fit(x[i], box[i].log);
      std::fill(g_theta.begin(), g_theta.end(), 0.0);
      if (!f(theta, value, g_theta, &work) || g_theta.size() != D || !std::isfinite(value)) return false;
      for (std::size_t i = 0; i < D; ++i) {
        g[i] = g_theta[i] * (box[i].log ? theta[i] : 1.0);
        if (!std::isfinite(g[i])) return false;
      }
      return true;
    };
    std::vector<double> x = design.points[s], g(D, 0.0), accepted;
    double value = 0.0, accepted_value = std::numeric_limits<double>::infinity();
    int iterations = 0, failures = 0, restarts = 0;
    double restart_value = std::numeric_limits<double>::infinity();  // the objective where the last run began
    std::string stop;
    Lbfgsb run(D);
    run.start();
    for (;;) {
      const std::string task = run.step(x, design.lower, design.upper, value, g, factr, opt.gradient_tolerance);
      if (task == "FG") {
        if (spent()) {
          stop = "work budget spent (" + std::to_string(work) + " of " + std::to_string(opt.work_budget) + ")";
          break;
        }
        if (evaluate(x, value, g)) {
          failures = 0;
          if (accepted.empty()) accepted = x, accepted_value = restart_value = value;  // the start point
          continue;
        }
        if (accepted.empty()) {
          stop = "the objective cannot be evaluated at the start";
          break;
        }
        if (++failures >= kFailuresInARow) {
          stop = std::to_string(kFailuresInARow) + " points in a row could not be evaluated";
          break;
        }
        value = accepted_value + 1.0 + std::fabs(accepted_value);  // far uphill: the line search backs off
        std::fill(g.begin(), g.end(), 0.0);
      } else if (task == "NEW") {  // NEW_X: the line search accepted x (value, g are its)
        accepted = x, accepted_value = value;
        ++iterations;
        if (iterations >= opt.max_iterations) {
          stop = "iteration limit (" + std::to_string(opt.max_iterations) + ")";
          break;
        }
        if (spent()) {
          stop = "work budget spent (" + std::to_string(work) + " of " + std::to_string(opt.work_budget) + ")";
          break;
        }
      } else {
        stop = run.message();  // CONVERGENCE: ..., ABNORMAL_TERMINATION_IN_LNSRCH, ERROR: ..., WARNING: ...
        // A stall (the line search failed, or an iteration barely moved) with its quasi-Newton
        // memory is often a poor curvature model in a curved valley, not an optimum: start again
        // from the accepted point with none, while each run still lowers the objective.
        const bool stalled = task == "ABNORMAL" || stop.find("REL_REDUCTION") != std::string::npos;
        if (stalled && restarts < kRestarts && accepted_value < restart_value) {
          ++restarts;
          restart_value = accepted_value;
          x = accepted;
          run.start();
          continue;
        }
        break;
      }
    }
    ResidualFitStart& r = R.starts[s];
    r.index = static_cast<int>(s);
    r.usable = !accepted.empty();
    if (!r.usable) accepted = design.points[s];
    for (std::size_t i = 0; i < D; ++i) {
      r.start.push_back(from_fit(design.points[s][i], box[i].log));
      r.optimum.push_back(from_fit(accepted[i], box[i].log));
    }
    r.cost = r.usable ? accepted_value : std::numeric_limits<double>::infinity();
    r.iterations = iterations;
    r.work = work;
    r.budget_spent = spent();
    r.message = "L-BFGS-B: " + stop + (restarts ? " (" + std::to_string(restarts + 1) + " runs)" : std::string());
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    optima[s] = accepted;
  };
  detail::for_each_start(starts, opt.threads, one);
  if (!detail::pick_best(R, optima, design, began)) return R;
  R.success = true;
  return R;
}

}  // namespace physynth::anchor
