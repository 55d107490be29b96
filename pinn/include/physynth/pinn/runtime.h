// The network library as the engine, the CLI and the Python module reach it: a table of
// functions that libphysynth_pinn.so hands out (physynth_pinn_runtime), so that LibTorch is
// loaded only by a process that trains or evaluates a network (engine::pinn_runtime() opens it
// on first use). Free of LibTorch types.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "physynth/pinn/pinn.h"
#include "physynth/pinn/regressor.h"

namespace physynth::pinn {

struct Runtime {
  // The physynth version the library was built as; a library from another build is refused.
  const char* version;
  std::string (*tensor_support)(const core::Model& model);
  std::unique_ptr<Network> (*load)(const std::string& path, std::shared_ptr<const core::Model> model,
                                   const std::string& device, int threads);
  std::unique_ptr<Network> (*train)(const Problem& problem, const NetworkOptions& network, const TrainOptions& options,
                                    const std::function<void(const Progress&)>& progress);
  void (*set_threads)(int threads);
  std::string (*sidecar_path)(const std::string& path);
  std::string (*torch_version)();
  // The closed loop's downstream model (regressor.h).
  std::vector<double> (*fit_predict)(const RegressorOptions& options, const std::vector<double>& x,
                                     const std::vector<double>& y, std::size_t d, const std::vector<double>& q);
};

}  // namespace physynth::pinn

// The entry point of libphysynth_pinn.so.
extern "C" const physynth::pinn::Runtime* physynth_pinn_runtime();
