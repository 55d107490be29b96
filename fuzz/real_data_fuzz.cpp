// libFuzzer harness: the real-data CSV reader (anchor/real_data.h) and its writer's round trip:
// whatever it accepts, writing it out and reading that back must give the same data.
#include <cstdint>
#include <fstream>

#include "input_file.h"
#include "physynth/anchor/real_data.h"
#include "physynth/core/diagnostics.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physynth::fuzz::input_file(data, size, ".csv");
  physynth::core::Diagnostics diags;
  const auto d = physynth::anchor::read_real_data(path, diags);
  (void)diags.report();
  if (!d) return 0;
  const std::string text = physynth::anchor::format_real_data(*d);
  const std::string again = path + ".again.csv";
  std::ofstream(again, std::ios::binary) << text;
  physynth::core::Diagnostics d2;
  const auto back = physynth::anchor::read_real_data(again, d2);
  std::remove(again.c_str());
  if (!back || physynth::anchor::format_real_data(*back) != text) __builtin_trap();
  return 0;
}
