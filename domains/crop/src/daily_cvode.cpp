#include "daily_cvode.h"

namespace physynth::domains::crop {
namespace {
solvers::OdeOptions options(double rtol, double atol) {
  solvers::OdeOptions o;
  o.rtol = rtol;
  o.atol = atol;
  o.max_steps = 100000;
  o.max_step_size = 0.25;
  return o;
}
}  // namespace

DailyCvode::DailyCvode(const core::Model& ode, double rtol, double atol)
    : solver_(std::shared_ptr<const core::Model>(&ode, [](const core::Model*) {}), options(rtol, atol)),
      next_(ode.num_states()) {}

bool DailyCvode::step(long k, std::vector<double>& y, const WeatherRecord& weather, const DailyWeather& day,
                      core::Diagnostics& diags, long* steps) {
  const std::vector<double> times{static_cast<double>(k + 1)};
  const solvers::SolveResult r = solver_.solve(nullptr, y.data(), static_cast<double>(k), times, next_.data());
  if (r.status != solvers::SolveStatus::kSuccess) {
    diags.error({weather.source, 0, 0},
                "CVODE failed on " + format_date(day.year, day.day_of_year) + ": " + r.flag_name + " " + r.message);
    return false;
  }
  *steps += r.stats.steps;
  y = next_;
  return true;
}

}  // namespace physynth::domains::crop
