// Events located on a one-step integrator's dense output (Rodas5P, the NDF): ode_solver.h's
// Event, g(t, y, p) with a direction, terminal or recorded.
//
// After each accepted step every g is evaluated at its end; a sign change in the event's
// direction is bracketed by the Illinois variant of regula falsi on g(t + θh, y(θ)) until the
// bracket is within a few ulps of t, and the event is placed at the bracket's right end (the
// first point past the root, as CVODES places it), so it fires once. The earliest event of a
// step fires first; a recorded one lets the search go on in the rest of the step, a terminal
// one stops the solve there. An event function that is exactly 0 at the start is inactive until
// it moves away from 0, as CVODES treats roots at t0.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "physynth/solvers/ode_solver.h"

namespace physynth::solvers {

class StepEvents {
 public:
  // Each g at the solve's start (t, y).
  void start(const std::vector<Event>& events, double t, const double* y, const double* p) {
    g_start_.resize(events.size());
    g_end_.resize(events.size());
    for (std::size_t e = 0; e < events.size(); ++e) g_start_[e] = events[e].function(t, y, p);
  }

  // The events of the step just accepted, (t, t + h], ending at y_end; dense(θ) returns a
  // pointer to y(t + θ h). Appends each that fires to `fired` in time order; returns the θ of a
  // terminal one (the solve stops there), or -1.
  template <class Dense>
  double locate(const std::vector<Event>& events, const double* p, double t, double h, const double* y_end,
                Dense&& dense, std::vector<EventOccurrence>& fired) {
    const std::size_t E = events.size();
    for (std::size_t e = 0; e < E; ++e) g_end_[e] = events[e].function(t + h, y_end, p);
    std::vector<double>& g_lo = g_lo_;
    double lo = 0.0;
    const auto crosses = [&](std::size_t e, double a, double b) {
      if (a == 0.0 || !std::isfinite(a) || !std::isfinite(b)) return false;  // 0: inactive until it moves away
      const bool rising = a < 0.0 && b >= 0.0, falling = a > 0.0 && b <= 0.0;
      return events[e].direction > 0 ? rising : events[e].direction < 0 ? falling : (rising || falling);
    };
    const auto g_at = [&](std::size_t e, double theta) {
      if (theta >= 1.0) return g_end_[e];
      return events[e].function(t + theta * h, dense(theta), p);
    };
    // Most steps cross nothing: then there is nothing to search.
    bool any = false;
    for (std::size_t e = 0; e < E; ++e) any = any || crosses(e, g_start_[e], g_end_[e]);
    if (!any) return -1.0;
    g_lo = g_start_;
    const double resolution = 4.0 * std::numeric_limits<double>::epsilon() * std::max(std::abs(t), std::abs(t + h));
    const double theta_tol = std::max(resolution / h, 1e-15);
    for (;;) {
      // Each crossing event's root in (lo, 1]: Illinois on the dense output.
      double first = 2.0;
      std::vector<double>& theta_of = theta_of_;
      theta_of.assign(E, 2.0);
      for (std::size_t e = 0; e < E; ++e) {
        if (!crosses(e, g_lo[e], g_end_[e])) continue;
        double a = lo, b = 1.0, ga = g_lo[e], gb = g_end_[e];
        int side = 0;
        for (int it = 0; it < 200 && b - a > theta_tol; ++it) {
          double c = b - gb * (b - a) / (gb - ga);
          if (!(c > a && c < b)) c = 0.5 * (a + b);
          const double gc = g_at(e, c);
          if ((gc < 0.0) == (ga < 0.0) && gc != 0.0) {
            a = c, ga = gc;
            if (side == -1) gb *= 0.5;
            side = -1;
          } else {
            b = c, gb = gc;
            if (side == 1) ga *= 0.5;
            side = 1;
          }
        }
        theta_of[e] = b;
        first = std::min(first, b);
      }
      if (first > 1.0) return -1.0;
      // Every event at that point fires, in index order; the search goes on past it.
      bool stop = false;
      for (std::size_t e = 0; e < E; ++e)
        if (theta_of[e] <= first + theta_tol) {
          fired.push_back({static_cast<int>(e), t + first * h});
          stop = stop || events[e].terminal;
        }
      if (stop) return first;
      lo = first;
      for (std::size_t e = 0; e < E; ++e) g_lo[e] = g_at(e, lo);
    }
  }

  // The step was taken: its end is the next step's start.
  void advance() { g_start_.swap(g_end_); }

 private:
  std::vector<double> g_start_, g_end_, g_lo_, theta_of_;  // sized once per solve
};

}  // namespace physynth::solvers
