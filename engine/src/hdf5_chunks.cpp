#include "hdf5_chunks.h"

#include <libdeflate.h>
#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

namespace physynth::engine {

namespace {

// Chunk `c`'s block of the array, zero-padded where it passes the array's edge.
void gather(const unsigned char* data, const std::vector<std::uint64_t>& dims, const std::vector<std::uint64_t>& chunk,
            const std::vector<std::uint64_t>& offset, std::size_t element_size, unsigned char* out) {
  const std::size_t rank = dims.size();
  const std::uint64_t inner = chunk[rank - 1];
  const std::uint64_t inner_copy = std::min(inner, dims[rank - 1] - offset[rank - 1]);
  std::vector<std::uint64_t> at(rank, 0);  // position inside the chunk, the last axis left at 0
  std::uint64_t rows = 1;
  for (std::size_t i = 0; i + 1 < rank; ++i) rows *= chunk[i];
  for (std::uint64_t row = 0; row < rows; ++row) {
    bool inside = true;
    std::uint64_t source = 0;
    for (std::size_t i = 0; i < rank; ++i) {
      const std::uint64_t x = offset[i] + at[i];
      inside = inside && x < dims[i];
      source = source * dims[i] + x;
    }
    unsigned char* to = out + row * inner * element_size;
    if (inside) std::memcpy(to, data + source * element_size, inner_copy * element_size);
    for (std::size_t i = rank - 1; i-- > 0;) {  // next row: the axes before the last, odometer-wise
      if (++at[i] < chunk[i]) break;
      at[i] = 0;
    }
  }
}

// HDF5's shuffle: byte j of element i goes to j * n + i. HDF5 leaves the data as it is for
// one-byte elements and for a single element.
void shuffle(const unsigned char* in, std::size_t n, std::size_t element_size, unsigned char* out) {
  if (element_size <= 1 || n <= 1) {
    std::memcpy(out, in, n * element_size);
    return;
  }
  for (std::size_t j = 0; j < element_size; ++j) {
    unsigned char* to = out + j * n;
    const unsigned char* from = in + j;
    for (std::size_t i = 0; i < n; ++i) to[i] = from[i * element_size];
  }
}

}  // namespace

void filter_chunks(const void* data, const std::vector<std::uint64_t>& dims, const std::vector<std::uint64_t>& chunk,
                   std::size_t element_size, int level, int threads,
                   const std::function<void(const FilteredChunk&)>& write) {
  if (dims.empty() || dims.size() != chunk.size())
    throw std::invalid_argument("filter_chunks: chunk rank differs from the array's");
  const std::size_t rank = dims.size();
  std::vector<std::uint64_t> grid(rank);
  std::uint64_t count = 1, chunk_elements = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    if (chunk[i] == 0) throw std::invalid_argument("filter_chunks: a chunk dimension is 0");
    grid[i] = (dims[i] + chunk[i] - 1) / chunk[i];
    count *= grid[i];
    chunk_elements *= chunk[i];
  }
  // The chunks of one batch: at most about kBatchBytes of the array at a time, so that the
  // compressed chunks held before they are written stay small beside the shard.
  constexpr std::uint64_t kBatchBytes = std::uint64_t{64} << 20;
  const std::uint64_t batch = std::max<std::uint64_t>(1, kBatchBytes / (chunk_elements * element_size));
  std::vector<FilteredChunk> out(std::min(batch, count));
  auto offset_of = [&](std::uint64_t c, std::vector<std::uint64_t>& offset) {  // row-major order of the grid
    offset.resize(rank);
    for (std::size_t i = rank; i-- > 0;) {
      offset[i] = (c % grid[i]) * chunk[i];
      c /= grid[i];
    }
  };
  // Whole chunks of an array cut along its first axis alone are already contiguous in memory.
  bool slabs = true;
  for (std::size_t i = 1; i < rank; ++i) slabs = slabs && chunk[i] == dims[i];

  const auto* bytes = static_cast<const unsigned char*>(data);
  const std::size_t chunk_bytes = chunk_elements * element_size;
  // Chunks first + [begin, end) into out[begin, end), with one compressor and one pair of buffers
  // for them all.
  auto some = [&](std::uint64_t first, std::uint64_t begin, std::uint64_t end) {
    std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> z(libdeflate_alloc_compressor(level),
                                                                               libdeflate_free_compressor);
    if (!z) throw std::runtime_error("libdeflate: no compressor for level " + std::to_string(level));
    std::vector<unsigned char> block, shuffled(chunk_bytes);
    for (std::uint64_t k = begin; k < end; ++k) {
      FilteredChunk& piece = out[k];
      offset_of(first + k, piece.offset);
      const unsigned char* raw;
      if (slabs && piece.offset[0] + chunk[0] <= dims[0]) {
        raw = bytes + piece.offset[0] * (chunk_bytes / chunk[0]);
      } else {
        block.assign(chunk_bytes, 0);
        gather(bytes, dims, chunk, piece.offset, element_size, block.data());
        raw = block.data();
      }
      shuffle(raw, chunk_elements, element_size, shuffled.data());
      piece.bytes.resize(libdeflate_zlib_compress_bound(z.get(), chunk_bytes));
      const std::size_t size =
          libdeflate_zlib_compress(z.get(), shuffled.data(), chunk_bytes, piece.bytes.data(), piece.bytes.size());
      if (size == 0) throw std::runtime_error("libdeflate: a chunk did not fit its bound");
      piece.bytes.resize(size);
    }
  };
  std::optional<tbb::task_arena> arena;
  if (threads > 1 && count > 1) arena.emplace(std::min(threads, tbb::info::default_concurrency()));  // as run.cpp's
  for (std::uint64_t first = 0; first < count; first += batch) {
    const std::uint64_t n = std::min(batch, count - first);
    if (!arena) {
      some(first, 0, n);
    } else {
      arena->execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::uint64_t>(0, n),
                          [&](const tbb::blocked_range<std::uint64_t>& r) { some(first, r.begin(), r.end()); });
      });
    }
    for (std::uint64_t k = 0; k < n; ++k) write(out[k]);
  }
}

}  // namespace physynth::engine
