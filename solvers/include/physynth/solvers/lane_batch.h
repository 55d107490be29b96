// What the integrators that step several samples together share (rodas5p_lanes.h, ndf_lanes.h):
// a sample of the batch, and the batch itself, handed out to the lanes one sample at a time.
#pragma once

#include <cstddef>
#include <vector>

#include "physynth/core/lanes.h"
#include "physynth/core/model.h"
#include "physynth/solvers/ode_solver.h"
#include "physynth/solvers/rosenbrock.h"

namespace physynth::solvers {

// One sample of a batch: its parameters and initial state, where its rows go (times.size() x n),
// and its result.
struct LaneSample {
  const double* p = nullptr;
  const double* y0 = nullptr;
  double* out = nullptr;
  RosenbrockResult* result = nullptr;
};

// A batch being solved: the model, output times, events and start the samples share, the
// samples in order, and each lane's parameters (lane-major: P_[j].v[l] is parameter j of lane l).
class LaneBatch {
 protected:
  static constexpr int L = core::kLanes;
  using Ln = core::Lanes;

  void begin(const core::Model& model, double t0, const std::vector<double>& times, const LaneSample* samples,
             std::size_t count, const std::vector<Event>& events) {
    model_ = &model;
    events_ = &events;
    times_ = &times;
    t0_ = t0;
    P_.resize(model.num_parameters());
    samples_ = samples;
    count_ = count;
    next_sample_ = 0;
  }

  // The next sample, its parameters put in lane l; null when every sample has been handed out.
  const LaneSample* next_sample(int l) {
    if (next_sample_ == count_) return nullptr;
    const LaneSample* s = &samples_[next_sample_++];
    for (std::size_t j = 0; j < P_.size(); ++j) P_[j].v[l] = s->p[j];
    return s;
  }

  const core::Model* model_ = nullptr;
  const std::vector<double>* times_ = nullptr;
  const std::vector<Event>* events_ = nullptr;
  double t0_ = 0.0;
  std::vector<Ln> P_;

 private:
  const LaneSample* samples_ = nullptr;
  std::size_t count_ = 0, next_sample_ = 0;
};

}  // namespace physynth::solvers
