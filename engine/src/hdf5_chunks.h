// HDF5's shuffle and deflate filters applied to a dataset's chunks outside HDF5, several chunks at
// a time (internal). HDF5 runs its filter pipeline, zlib's deflate, on the one thread that calls
// H5Dwrite, and on a kinetics shard that compression took four times as long as computing the
// samples. The writers compress here instead, on the run's threads, with libdeflate (a zlib
// stream as HDF5's deflate filter writes and every HDF5 reader inflates; twice zlib's speed at
// the same level and ratio on shuffled solver output), and hand HDF5 the finished chunks
// (H5Dwrite_chunk). tests/engine/hdf5_chunks_test.cpp checks the chunks against HDF5's own
// pipeline: the same bytes once inflated, the same values read back, for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace physynth::engine {

struct FilteredChunk {
  std::vector<std::uint64_t> offset;  // of its first element, in dataset coordinates
  std::string bytes;                  // shuffled, then deflated
};

// Hands `write` the chunks of a C-order array of `dims` (elements of `element_size` bytes at
// `data`) cut into `chunk`-shaped blocks, in row-major order of the chunk grid. Edge chunks are
// padded with zero bytes, HDF5's default fill value, as HDF5 pads them. Each is shuffled (bytes
// regrouped by their position in the element: HDF5's H5Z_FILTER_SHUFFLE) and deflated into a
// zlib stream at `level` (H5Z_FILTER_DEFLATE's format; libdeflate's level), on up to `threads`
// threads, about 64 MiB of the array at a time; the bytes do not depend on the thread count.
void filter_chunks(const void* data, const std::vector<std::uint64_t>& dims, const std::vector<std::uint64_t>& chunk,
                   std::size_t element_size, int level, int threads,
                   const std::function<void(const FilteredChunk&)>& write);

}  // namespace physynth::engine
