// File encodings shared by the writers (internal).
#pragma once

#include <string>
#include <vector>

#include "physynth/engine/feed.h"

namespace physynth::engine {

// A version 1.0 NPY file: magic, header dict padded to 64 bytes, raw data.
std::string npy_bytes(const std::string& descr, const std::vector<std::size_t>& shape, const void* data,
                      std::size_t bytes);

// A windows file: datasets x (n, window, channels) f32, y (n) f32, sample (n) i64, end_time (n) i64.
void write_windows_hdf5(const std::string& path, const WindowBatch& windows, const std::vector<std::string>& channels,
                        const std::string& target, int compression);

}  // namespace physynth::engine
