#include "physynth/engine/modules.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>

namespace physynth::engine {

namespace {

// The folder this library was loaded from.
std::filesystem::path own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_folder), &info) == 0 || info.dli_fname == nullptr) return {};
  return std::filesystem::path(info.dli_fname).parent_path();
}

// Opens lib/<file> and returns its entry point `entry()`; checks the version it was built as.
template <class Table>
const Table* open_library(const std::string& file, const char* entry, const char* what) {
  const std::filesystem::path path = own_folder() / file;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw std::runtime_error(std::string(what) + " needs " + path.string() + ", which could not be loaded (" +
                             (why ? why : "unknown reason") +
                             "); it is built and installed with physynth (cmake --build, cmake --install)");
  }
  using Entry = const Table* (*)();
  auto get = reinterpret_cast<Entry>(dlsym(handle, entry));
  const Table* table = get ? get() : nullptr;
  if (table == nullptr) throw std::runtime_error(path.string() + " has no " + entry + "; it is not physynth's " + file);
  if (std::string(table->version) != PHYSYNTH_VERSION)
    throw std::runtime_error(path.string() + " belongs to physynth " + table->version + ", this is physynth " +
                             PHYSYNTH_VERSION + "; rebuild or reinstall physynth");
  return table;
}

}  // namespace

bool pinn_built() {
#ifdef PHYSYNTH_HAVE_PINN
  return true;
#else
  return false;
#endif
}

bool viz_built() {
#ifdef PHYSYNTH_HAVE_VIZ
  return true;
#else
  return false;
#endif
}

}  // namespace physynth::engine

#include "physynth/pinn/runtime.h"
#include "physynth/viz/runtime.h"

namespace physynth::engine {

namespace {

// The table of one library, opened once per process (a failed open is tried again next time).
template <class Table>
const Table& runtime_of(bool built, const char* not_built, const char* file, const char* entry, const char* what) {
  if (!built) throw std::runtime_error(not_built);
  static std::once_flag once;
  static const Table* table = nullptr;
  std::call_once(once, [&] { table = open_library<Table>(file, entry, what); });
  return *table;
}

}  // namespace

const pinn::Runtime& pinn_runtime() {
  return runtime_of<pinn::Runtime>(pinn_built(),
                                   "networks (backend: pinn, train-pinn) need LibTorch, and this physynth was built "
                                   "without it (PHYSYNTH_WITH_TORCH=OFF)",
                                   "libphysynth_pinn.so", "physynth_pinn_runtime", "a network (LibTorch)");
}

const viz::Runtime& viz_runtime() {
  return runtime_of<viz::Runtime>(viz_built(),
                                  "plots, VTK files and reports need VTK, and this physynth was built without it "
                                  "(PHYSYNTH_WITH_VTK=OFF)",
                                  "libphysynth_viz.so", "physynth_viz_runtime", "a report (VTK)");
}

}  // namespace physynth::engine
