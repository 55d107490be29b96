// CVODE across the days of a daily crop model (LINTUL3, LINGRA): the model's
// ODE integrated from one day boundary to the next, where the model applies
// its discrete events. Private to the crop models.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"
#include "physynth/core/model.h"
#include "physynth/core/templated_model.h"
#include "physynth/domains/crop/weather.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::domains::crop {

// What a crop model's ODE within a day shares: named states, no parameters (the crop's are
// fixed for the season), the state at the day's start set by the caller. Derived supplies the
// templated evaluate() (TemplatedModel).
template <class Derived>
class DailyOde : public core::TemplatedModel<Derived> {
 public:
  DailyOde(std::string name, const std::vector<std::string>& state_names) : name_(std::move(name)) {
    for (const auto& n : state_names) states_.push_back({n, "", ""});
  }
  const std::string& name() const override { return name_; }
  const std::vector<core::VariableInfo>& states() const override { return states_; }
  const std::vector<core::VariableInfo>& parameters() const override { return parameters_; }
  void initial_state(const double*, double*) const override {}
  void initial_state_jacobian(const double*, double*) const override {}

 private:
  std::string name_;
  std::vector<core::VariableInfo> states_, parameters_;
};

class DailyCvode {
 public:
  // `ode` must outlive this; its forcing is interpolated between the middles of days, hence
  // steps of at most a quarter day so that CVODE sees the kinks.
  DailyCvode(const core::Model& ode, double rtol, double atol);

  // Advances y from day k to day k + 1 (t in days since the season's start) and adds CVODE's
  // steps to *steps. On failure reports it, naming the date of `day` and the weather file.
  bool step(long k, std::vector<double>& y, const WeatherRecord& weather, const DailyWeather& day,
            core::Diagnostics& diags, long* steps);

 private:
  solvers::OdeSolver solver_;
  std::vector<double> next_;
};

}  // namespace physynth::domains::crop
