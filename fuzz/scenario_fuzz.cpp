// libFuzzer harness: the scenario loader (YAML parsing, every section's checks, the domain
// bindings) on arbitrary bytes. It must report problems as diagnostics, never crash, hang or
// touch memory it does not own (ASan, UBSan).
#include <cstdint>

#include "input_file.h"
#include "physynth/core/diagnostics.h"
#include "physynth/engine/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physynth::fuzz::input_file(data, size, ".yaml");
  physynth::core::Diagnostics diags;
  const auto s = physynth::engine::load_scenario(path, {}, diags);
  if (s && diags.has_errors()) __builtin_trap();  // a scenario is returned only without errors
  (void)diags.report();
  return 0;
}
