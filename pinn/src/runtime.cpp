// The table engine::pinn_runtime() finds in this library (runtime.h).
#include "physynth/pinn/runtime.h"

#include "physynth/pinn/version.h"

namespace physynth::pinn {
namespace {

std::unique_ptr<Network> load(const std::string& path, std::shared_ptr<const core::Model> model,
                              const std::string& device, int threads) {
  return std::make_unique<Pinn>(Pinn::load(path, std::move(model), device, threads));
}

std::unique_ptr<Network> train(const Problem& problem, const NetworkOptions& network, const TrainOptions& options,
                               const std::function<void(const Progress&)>& progress) {
  return std::make_unique<Pinn>(Pinn::train(problem, network, options, progress));
}

const Runtime kRuntime{PHYSYNTH_VERSION,   &tensor_support,     &load,          &train,
                       &Pinn::set_threads, &Pinn::sidecar_path, &torch_version, &fit_predict};

}  // namespace
}  // namespace physynth::pinn

extern "C" const physynth::pinn::Runtime* physynth_pinn_runtime() { return &physynth::pinn::kRuntime; }
