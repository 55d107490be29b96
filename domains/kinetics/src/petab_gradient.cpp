// The PEtab log-likelihood's gradient: by adjoint sensitivities, one backward solve per
// simulation condition (solvers/adjoint.h), or from evaluate()'s forward sensitivities.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "petab_terms.h"
#include "physynth/domains/kinetics/petab.h"
#include "physynth/solvers/adjoint.h"

namespace physynth::domains::kinetics {

namespace {
// The model parameters a PEtab parameter sets (src: per model parameter, its PEtab parameter or -1).
std::vector<int> set_by_petab(const std::vector<int>& src) {
  std::vector<int> out;
  for (std::size_t j = 0; j < src.size(); ++j)
    if (src[j] >= 0) out.push_back(static_cast<int>(j));
  return out;
}

// The adjoint's solves: CVODES' BDF with a dense LU at the tolerances asked for, whatever
// integrator the forward path would take (Rodas5P has no adjoint here).
solvers::OdeOptions adjoint_options(const solvers::OdeOptions& options) {
  solvers::OdeOptions o = options;
  o.method = solvers::Method::kBdf;
  o.sensitivity_parameters.clear();
  return o;
}
}  // namespace

std::string PetabProblem::adjoint_refusal(const std::vector<double>& values, const solvers::OdeOptions& options) const {
  if (options.linear_solver != solvers::LinearSolverKind::kDense)
    return "a sparse (KLU) model: the adjoint's backward solve is dense";
  for (const auto& [pre, cond] : condition_pairs(measurements_)) {
    const std::string& id = conditions_[static_cast<std::size_t>(cond)].id;
    const std::string why = solvers::adjoint_refusal(
        *model_, model_parameters(values, static_cast<std::size_t>(cond)).data(), adjoint_options(options));
    if (!why.empty()) return "condition " + id + ": " + why;
  }
  for (const auto& meas : measurements_)
    if (std::isinf(meas.time) && meas.preequilibration >= 0)
      return "measurements at steady state (time inf) after a preequilibration";
  return {};
}

std::string PetabProblem::why_forward(const std::vector<double>& values, const solvers::OdeOptions& options,
                                      GradientMethod method) const {
  if (method == GradientMethod::kForward) return "as asked";
  solvers::OdeOptions plain = options;
  plain.sensitivity_parameters.clear();
  if (std::string why = adjoint_refusal(values, plain); !why.empty()) return why;
  // kAuto: the adjoint wherever it can compute the gradient. Measured both ways on 19 problems
  // of the benchmark collection (docs/PERFORMANCE.md, "PEtab likelihood"): the adjoint was the
  // cheaper on 15, by up to 15 times (Lucarelli; Alkan 3.8, Bachmann and Laske 3), forward
  // sensitivities on 4, by at most 1.7 times (Boehm; Sneyd 1.44, Elowitz 1.34, Schwen 1.17). No
  // rule on the sensitivity parameters K and states n told them apart: the earlier K > 2n gave
  // forward sensitivities to 9 problems the adjoint won (Bachmann, Alkan, Laske among them) and
  // the adjoint to 2 it lost.
  return {};
}

PetabGradient PetabProblem::log_likelihood_gradient(const std::vector<double>& values,
                                                    const solvers::OdeOptions& options, GradientMethod method) const {
  if (method == GradientMethod::kAuto) {
    // The adjoint (why_forward), and forward sensitivities where its solves fail (its backward
    // solve is CVODES' BDF whatever options.method says), the result saying why.
    PetabGradient adjoint = log_likelihood_gradient(values, options, GradientMethod::kAdjoint);
    if (!adjoint.failed || adjoint.method != "adjoint") return adjoint;
    PetabGradient forward = log_likelihood_gradient(values, options, GradientMethod::kForward);
    forward.why_forward = "the adjoint's solves failed (" + adjoint.message + ")";
    return forward;
  }
  PetabGradient out;
  const std::size_t P = parameters_.size(), n = model_->num_states();
  out.gradient.assign(P, 0.0);
  solvers::OdeOptions plain = options;
  plain.sensitivity_parameters.clear();
  if (method != GradientMethod::kForward) out.why_forward = why_forward(values, plain, method);

  if (method == GradientMethod::kForward || !out.why_forward.empty()) {
    out.method = "forward";
    const PetabEvaluation e = evaluate(values, plain, true);
    out.log_likelihood = e.log_likelihood;
    out.steps = e.steps;
    out.failed = e.failed || !e.has_gradient;
    out.message = e.failed ? e.message : e.no_gradient;
    if (out.failed) return out;
    for (std::size_t k = 0; k < measurements_.size(); ++k) {
      const auto& obs = observables_[static_cast<std::size_t>(measurements_[k].observable)];
      const detail::TermSlopes slopes = detail::term_slopes(obs.distribution, e.residuals[k], e.sigmas[k]);
      for (std::size_t q = 0; q < P; ++q)
        out.gradient[q] += slopes.de * e.misfit_gradient[k * P + q] + slopes.dsigma * e.sigma_gradient[k * P + q];
    }
    return out;
  }

  out.method = "adjoint";
  const solvers::OdeOptions adjoint = adjoint_options(options);
  std::optional<solvers::OdeSolver> settle_solver;  // steady states (preequilibrations, time inf)
  // The steady state reached from y under parameters pp (written to y) and its derivatives by the
  // model parameters `list` (list.size() x n, into s_ss), from the start's (the model's dy0/dp),
  // by the implicit function theorem. kFailed (and why) if none is reached; kSingular where its
  // Jacobian is singular (then forward sensitivities integrate instead).
  enum class Settled { kOk, kFailed, kSingular };
  const auto settle = [&](const std::vector<double>& pp, const std::vector<int>& list, std::vector<double>& y,
                          std::vector<double>& s_ss, std::string* why) {
    const std::vector<double> y_from = y;
    if (!settle_solver) settle_solver.emplace(model_, adjoint);
    if (!steady_state(pp, adjoint, *settle_solver, y, why)) return Settled::kFailed;
    std::vector<double> dy0(n * model_->num_parameters()), s_start(list.size() * n);
    model_->initial_state_jacobian(pp.data(), dy0.data());
    for (std::size_t k = 0; k < list.size(); ++k)
      std::copy_n(&dy0[n * static_cast<std::size_t>(list[k])], n, &s_start[k * n]);
    return detail::steady_state_sensitivities(*model_, pp, list, y_from, y, s_start, s_ss) ? Settled::kOk
                                                                                           : Settled::kSingular;
  };
  const auto failure = [&](const std::string& message) {
    out.failed = true;
    out.message = message;
    out.log_likelihood = -std::numeric_limits<double>::infinity();
    return out;
  };
  const auto forward_because = [&](const std::string& which) {
    PetabGradient forward = log_likelihood_gradient(values, options, GradientMethod::kForward);
    forward.why_forward =
        "the steady state of " + which + " has no sensitivities by the implicit function theorem (a singular Jacobian)";
    return forward;
  };
  for (const auto& [pre, cond] : condition_pairs(measurements_)) {
    const auto c = static_cast<std::size_t>(cond);
    const std::vector<double> p = model_parameters(values, c);
    const std::vector<int> src = sources(c);
    std::vector<double> extended;
    std::vector<int> ext_source;
    extend(values, p, src, extended, ext_source);
    std::vector<std::size_t> rows;
    std::vector<double> times;
    rows_of(measurements_, pre, cond, rows, times);
    const std::vector<int> params = set_by_petab(src);  // this condition's sensitivity parameters
    std::vector<double> y0(n);
    // Preequilibrated: the simulation starts at the steady state under the preequilibration's
    // parameters, whose derivatives by each PEtab parameter (P x n; by the implicit function
    // theorem, as evaluate's) then take the place of dy0/dp.
    std::vector<double> d_start;
    if (pre < 0) {
      model_->initial_state(p.data(), y0.data());
    } else {
      const auto q = model_parameters(values, static_cast<std::size_t>(pre));
      model_->initial_state(q.data(), y0.data());
      const std::vector<int> src_pre = sources(static_cast<std::size_t>(pre));
      const std::vector<int> pre_params = set_by_petab(src_pre);
      const std::string& id = conditions_[static_cast<std::size_t>(pre)].id;
      std::vector<double> s_ss;
      std::string why;
      const Settled settled = settle(q, pre_params, y0, s_ss, &why);
      if (settled == Settled::kFailed) return failure("preequilibration condition " + id + ": " + why);
      if (settled == Settled::kSingular) return forward_because("preequilibration " + id);
      d_start.assign(P * n, 0.0);
      for (std::size_t k = 0; k < pre_params.size(); ++k)
        for (std::size_t i = 0; i < n; ++i)
          d_start[static_cast<std::size_t>(src_pre[static_cast<std::size_t>(pre_params[k])]) * n + i] +=
              s_ss[k * n + i];
    }
    bool finite = true;
    // The rows at time t observed at state y: their terms, their direct derivatives, and the
    // state's weight dg (n) that the adjoint carries back.
    const auto observe_rows = [&](double t, const double* y, double* dg) {
      for (std::size_t k : rows) {
        if (measurements_[k].time != t) continue;
        const Observation ob = observe(values, measurements_[k], y, extended, ext_source, true);
        out.log_likelihood += ob.term;
        finite = finite && std::isfinite(ob.term);
        for (std::size_t i = 0; i < n; ++i) dg[i] += ob.dterm_de * ob.de_dy[i] + ob.dterm_dsigma * ob.dsig_dy[i];
        for (std::size_t w = 0; w < ob.direct_source.size(); ++w)
          out.gradient[static_cast<std::size_t>(ob.direct_source[w])] +=
              ob.dterm_de * ob.de_direct[w] + ob.dterm_dsigma * ob.dsig_direct[w];
      }
    };
    // Measurements at time inf (without preequilibration: adjoint_refusal) are at the steady
    // state reached from y0; their weight goes through its derivatives by the implicit function
    // theorem, from dy0/dp, with no integration backwards.
    if (!times.empty() && std::isinf(times.back())) {
      times.pop_back();
      std::vector<double> y_ss = y0, s_ss;
      std::string why;
      const Settled settled = settle(p, params, y_ss, s_ss, &why);
      if (settled == Settled::kFailed)
        return failure("condition " + conditions_[c].id + ", measurements at time inf: " + why);
      if (settled == Settled::kSingular) return forward_because("condition " + conditions_[c].id);
      std::vector<double> dg(n, 0.0);
      observe_rows(std::numeric_limits<double>::infinity(), y_ss.data(), dg.data());
      for (std::size_t k = 0; k < params.size(); ++k)
        for (std::size_t i = 0; i < n; ++i)
          out.gradient[static_cast<std::size_t>(src[static_cast<std::size_t>(params[k])])] += dg[i] * s_ss[k * n + i];
    }
    const auto r =
        solvers::solve_adjoint(*model_, adjoint, p.data(), y0.data(), 0.0, times, params,
                               [&](std::size_t j, const double* y, double* dg) { observe_rows(times[j], y, dg); });
    out.steps += r.steps_forward + r.steps_backward;
    if (r.status != solvers::SolveStatus::kSuccess)
      return failure("condition " + conditions_[c].id + ": " + r.flag_name + " " + r.message);
    if (!finite) {  // evaluate() names the row and says what is wrong with it
      const PetabEvaluation e = evaluate(values, plain);
      out.failed = true;
      out.message = e.message;
      out.log_likelihood = e.log_likelihood;
      return out;
    }
    for (std::size_t k = 0; k < params.size(); ++k)
      out.gradient[static_cast<std::size_t>(src[static_cast<std::size_t>(params[k])])] += r.parameter_gradient[k];
    if (pre >= 0) {
      for (std::size_t q = 0; q < P; ++q)
        for (std::size_t i = 0; i < n; ++i) out.gradient[q] += r.lambda0[i] * d_start[q * n + i];
    } else {
      std::vector<double> dy0(n * model_->num_parameters());
      model_->initial_state_jacobian(p.data(), dy0.data());
      for (const int j : params)
        for (std::size_t i = 0; i < n; ++i)
          out.gradient[static_cast<std::size_t>(src[static_cast<std::size_t>(j)])] +=
              r.lambda0[i] * dy0[i + n * static_cast<std::size_t>(j)];
    }
  }
  if (settle_solver) out.steps += settle_solver->steps_taken();  // steady states reached by simulation
  return out;
}

}  // namespace physynth::domains::kinetics
