// File encodings shared by the writers (internal).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "physynth/engine/feed.h"

namespace physynth::engine {

// A version 1.0 NPY file: magic, header dict padded to 64 bytes, raw data.
std::string npy_bytes(const std::string& descr, const std::vector<std::size_t>& shape, const void* data,
                      std::size_t bytes);

// A windows file: datasets x (n, window, channels) f32, y (n) f32, sample (n) i64, end_time (n)
// i64, time (n) f64, with the channels' names and units, the label's definition and the whole
// `description` (window_description) as attributes.
void write_windows_hdf5(const std::string& path, const WindowBatch& windows, const nlohmann::ordered_json& description,
                        int compression);

}  // namespace physynth::engine
