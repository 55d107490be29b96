// libFuzzer harness: both weather readers (CABO and PCSE CSV) with their validation and repair
// on arbitrary bytes.
#include <cstdint>

#include "input_file.h"
#include "physynth/core/diagnostics.h"
#include "physynth/domains/crop/weather.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physynth::fuzz::input_file(data, size, ".weather");
  {
    physynth::core::Diagnostics diags;
    (void)physynth::domains::crop::read_cabo_weather(path, diags);
    (void)diags.report();
  }
  {
    physynth::core::Diagnostics diags;
    (void)physynth::domains::crop::read_pcse_csv_weather(path, diags);
    (void)diags.report();
  }
  return 0;
}
