// PINN training-step cost: physynth's step with forward-mode time derivatives
// against the same step with reverse mode (one backward pass per output), on
// the Michaelis-Menten scenario's network (64 x 4, tanh), loss (plain residual in log
// time, conservation laws projected, sign columns; no quasi-steady state) and batch. bench/pinn_step.py times the same
// step in Python PyTorch; bench/run_pinn.sh runs both side by side.
//
//   pinn_bench SCENARIO [points] [steps] [dtype]  ->  one JSON line per mode
#include <cstdio>
#include <string>

#include "physynth/engine/pinn_problem.h"
#include "physynth/engine/scenario.h"

using namespace physynth;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pinn_bench SCENARIO [points] [steps] [dtype]\n");
    return 2;
  }
  const int points = argc > 2 ? std::stoi(argv[2]) : 4096;
  const int steps = argc > 3 ? std::stoi(argv[3]) : 50;
  const std::string dtype = argc > 4 ? argv[4] : "float32";
  core::Diagnostics d;
  // The network and loss bench/pinn_step.py writes: 64 x 4, log time, the box's output scale,
  // no quasi-steady or positive state, no characteristic time (whatever the scenario trains).
  auto s = engine::load_scenario(
      argv[1],
      {"backend=cvode", "pinn.train.residual=plain", "pinn.network.width=64", "pinn.network.depth=4",
       "pinn.network.quasi_steady=[]", "pinn.network.positive=[]", "pinn.network.sample_scale=false",
       "pinn.time.scaling=log", "pinn.time.scale=0.01", "pinn.time.characteristic=false"},
      d);
  if (!s) {
    std::fprintf(stderr, "%s", d.report().c_str());
    return 2;
  }
  pinn::TrainOptions o = s->pinn.train;
  o.adam_steps = 0;
  o.lbfgs_iterations = 0;
  o.test_samples = 0;
  o.validation_samples = 8;
  o.dtype = dtype;
  auto net = pinn::Pinn::train(engine::pinn_problem(*s), s->pinn.network, o);
  for (bool forward : {true, false}) {
    const double sec = net.time_training_steps(points, steps, forward, 1);
    std::printf(
        "{\"impl\": \"physynth\", \"mode\": \"%s\", \"points\": %d, \"dtype\": \"%s\", \"ms_per_step\": %.3f}\n",
        forward ? "forward" : "reverse", points, dtype.c_str(), 1e3 * sec);
    std::fflush(stdout);
  }
}
