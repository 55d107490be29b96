// A shard's datasets are shuffled and deflated by physynth on several threads (engine/src/
// hdf5_chunks.h, libdeflate) and handed to HDF5 as finished chunks. Checked here chunk by chunk
// against HDF5's own filter pipeline (the same values written with H5Dwrite into a dataset with
// the same creation properties, deflated by zlib): the same chunks at the same offsets, the same
// bytes once inflated, and the same values read back, with partial edge chunks, one-byte
// elements, four-byte elements, chunks that cut more than the first axis, and random bytes that
// deflate makes larger; and the file's bytes are the same on 1 and 3 threads.
#include <hdf5.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "physynth/engine/dataset.h"

using namespace physynth;

namespace {

engine::Shard odd_shard() {
  engine::Shard s;
  s.index = 3;
  s.first_sample = 1037 * 3;
  s.samples = 1037;  // not a multiple of any dataset's chunk rows
  const std::size_t S = s.samples, T = 97, N = 3, K = 2, W = 3, L = 50;
  for (std::size_t t = 0; t < T; ++t) s.times.push_back(0.5 * static_cast<double>(t));
  s.time_units = "s";
  s.state_names = {"A", "B", "C"};
  s.state_units = {"nM", "nM", "nM"};
  s.parameter_names = {"k1", "k2"};
  s.parameter_units = {"1/s", "1/s"};
  s.label_names = {"y"};
  s.label_units = {"1"};
  s.stat_names = {"steps", "rhs"};
  std::mt19937_64 bits(20261206);
  std::normal_distribution<double> normal;
  for (std::size_t i = 0; i < S; ++i)
    for (std::size_t t = 0; t < T; ++t) {
      s.states.push_back(std::exp(-0.01 * static_cast<double>(i) * s.times[t]));  // smooth
      s.states.push_back(normal(bits));                                           // noisy
      s.states.push_back(i % 7 == 0 ? std::nan("") : 1.0);                        // flat, with NaN
    }
  for (std::size_t i = 0; i < S * 2; ++i) s.parameters.push_back(std::exp(normal(bits)));
  for (std::size_t i = 0; i < S; ++i) s.labels.push_back(static_cast<double>(i % 5));
  engine::ObservationBlock o;
  o.name = "sensor";
  o.units = "V";
  for (std::size_t t = 0; t < T; t += 2) o.times.push_back(s.times[t]);
  for (std::size_t i = 0; i < S * o.times.size(); ++i) o.values.push_back(normal(bits));
  s.observations.push_back(o);
  for (std::size_t i = 0; i < S; ++i) s.status.push_back(static_cast<std::int8_t>(i % 3));
  s.failure_flag.assign(S, "");
  s.failure_message.assign(S, "");
  for (std::size_t i = 2; i < S; i += 3) {
    s.failure_flag[i] = "solver_failed";
    s.failure_message[i] = "a made-up failure";
  }
  s.t_reached.assign(S, s.times.back());
  for (std::size_t i = 0; i < S * 2; ++i) s.solver_stats.push_back(static_cast<std::int64_t>(bits() % 1000));
  s.sensitivity_names = {"k1", "k2"};
  for (std::size_t i = 0; i < S * T * K * N; ++i) {  // random bit patterns: deflate cannot shrink them
    const std::uint64_t b = bits();
    double x;
    std::memcpy(&x, &b, sizeof x);
    s.sensitivities.push_back(x);
  }
  s.field_rows = 17;
  s.field_cols = 61;
  s.field_cell_size_m = 10.0;
  for (std::size_t i = 0; i < S; ++i) {
    s.plot.push_back(static_cast<std::int32_t>(i / 61));
    s.plot.push_back(static_cast<std::int32_t>(i % 61));
  }
  s.waveform_times = {1.0, 2.0, 3.0};
  s.waveform_length = L;
  s.waveform_rate_hz = 1000.0;
  s.waveform_units = "g";
  for (std::size_t i = 0; i < S * W * L; ++i) s.waveforms.push_back(static_cast<float>(normal(bits)));
  return s;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Chunk {
  std::vector<hsize_t> offset;
  std::uint32_t filter_mask = 0;
  std::string bytes;
};

// A chunk as it was before deflate: zlib's inflate of its stream.
std::string inflated(const std::string& z, std::size_t size) {
  std::string out(size, '\0');
  uLongf n = size;
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(z.data()), z.size()) ==
          Z_OK);
  REQUIRE(n == size);
  return out;
}

std::vector<Chunk> chunks_of(hid_t ds) {
  hid_t space = H5Dget_space(ds);
  const int rank = H5Sget_simple_extent_ndims(space);
  hsize_t n = 0;
  REQUIRE(H5Dget_num_chunks(ds, space, &n) >= 0);
  std::vector<Chunk> out;
  for (hsize_t i = 0; i < n; ++i) {
    Chunk c;
    c.offset.resize(static_cast<std::size_t>(rank));
    haddr_t address = 0;
    hsize_t size = 0;
    REQUIRE(H5Dget_chunk_info(ds, space, i, c.offset.data(), &c.filter_mask, &address, &size) >= 0);
    c.bytes.resize(size);
    std::uint32_t mask = 0;
    REQUIRE(H5Dread_chunk(ds, H5P_DEFAULT, c.offset.data(), &mask, c.bytes.data()) >= 0);
    out.push_back(std::move(c));
  }
  H5Sclose(space);
  return out;
}

// The shard written at `level` into ROOT/NAME/a on `threads_a` threads and ROOT/NAME/b on
// `threads_b`: the two files' paths.
std::pair<std::string, std::string> write_on(const engine::Shard& shard, const std::string& name, int level,
                                             int threads_a, int threads_b) {
  const std::string root = std::string(PHYSYNTH_TEST_OUTPUT) + "/" + name;
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root + "/a");
  std::filesystem::create_directories(root + "/b");
  return {engine::write_hdf5(shard, root + "/a", level, threads_a).at(0),
          engine::write_hdf5(shard, root + "/b", level, threads_b).at(0)};
}

}  // namespace

TEST_CASE("hdf5 chunks: physynth's shuffled, deflated chunks are HDF5's own, for any thread count") {
  const engine::Shard shard = odd_shard();
  const auto [one, three] = write_on(shard, "hdf5_chunks", 4, 1, 3);
  const std::string root = std::string(PHYSYNTH_TEST_OUTPUT) + "/hdf5_chunks";
  const std::string bytes = file_bytes(one);
  REQUIRE(bytes.size() > 1000);
  CHECK(bytes == file_bytes(three));

  // Read back: the values, bit for bit.
  const engine::Shard back = engine::read_hdf5(one, true);
  CHECK(std::memcmp(back.sensitivities.data(), shard.sensitivities.data(), shard.sensitivities.size() * 8) == 0);
  CHECK(std::memcmp(back.states.data(), shard.states.data(), shard.states.size() * 8) == 0);
  CHECK(back.status == shard.status);
  CHECK(back.plot == shard.plot);
  CHECK(back.solver_stats == shard.solver_stats);
  CHECK(back.waveforms == shard.waveforms);
  CHECK(back.observations.at(0).values == shard.observations.at(0).values);

  // Every chunked dataset against the same values written through HDF5's filter pipeline.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(one.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(file >= 0);
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, 1 << 20, 0);
  const hid_t ref = H5Fcreate((root + "/reference.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  REQUIRE(ref >= 0);
  std::size_t compared = 0, partial = 0, grown = 0;
  for (const char* name : {"sample", "states", "parameters", "labels", "status", "t_reached", "solver_stats",
                           "sensitivities", "plot", "observations/sensor/values", "waveforms/signal"}) {
    INFO(name);
    const hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    REQUIRE(ds >= 0);
    const hid_t dcpl = H5Dget_create_plist(ds);
    REQUIRE(H5Pget_layout(dcpl) == H5D_CHUNKED);
    REQUIRE(H5Pget_nfilters(dcpl) == 2);  // shuffle, deflate
    const hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    std::vector<char> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)) * H5Tget_size(type));
    REQUIRE(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
    const std::string copy = std::string("copy_") + std::to_string(compared);
    const hid_t theirs = H5Dcreate2(ref, copy.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    REQUIRE(theirs >= 0);
    REQUIRE(H5Dwrite(theirs, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
    const std::vector<Chunk> ours = chunks_of(ds), reference = chunks_of(theirs);
    REQUIRE(ours.size() == reference.size());
    hsize_t dims[4] = {0, 0, 0, 0}, chunk[4] = {0, 0, 0, 0};
    const int rank = H5Sget_simple_extent_dims(space, dims, nullptr);
    H5Pget_chunk(dcpl, 4, chunk);
    std::size_t raw = H5Tget_size(type);
    for (int a = 0; a < rank; ++a) raw *= chunk[a];
    for (std::size_t c = 0; c < ours.size(); ++c) {
      REQUIRE(ours[c].offset == reference[c].offset);
      REQUIRE(ours[c].filter_mask == reference[c].filter_mask);
      REQUIRE(inflated(ours[c].bytes, raw) == inflated(reference[c].bytes, raw));
      for (int a = 0; a < rank; ++a)
        if (ours[c].offset[static_cast<std::size_t>(a)] + chunk[a] > dims[a]) {
          ++partial;
          break;
        }
      if (ours[c].bytes.size() > raw) ++grown;
    }
    ++compared;
    H5Dclose(theirs);
    H5Sclose(space);
    H5Tclose(type);
    H5Pclose(dcpl);
    H5Dclose(ds);
  }
  H5Fclose(ref);
  H5Pclose(fapl);
  H5Fclose(file);
  CHECK(compared == 11);
  CHECK(partial == 3);  // states, the observation and the sensitivities end in a partial chunk
  CHECK(grown >= 1);    // the random sensitivities deflate to more than they were
}

TEST_CASE(
    "hdf5 chunks: a dataset over one batch (64 MiB) is compressed in turns to the same file on any thread count") {
  engine::Shard s;
  s.samples = 2900;
  const std::size_t T = 1000, N = 3;  // states: 2900 x 1000 x 3 doubles, 69.6 MB
  for (std::size_t t = 0; t < T; ++t) s.times.push_back(static_cast<double>(t));
  s.state_names = {"a", "b", "c"};
  s.state_units = {"1", "1", "1"};
  std::mt19937_64 bits(7);
  std::normal_distribution<double> normal;
  s.states.resize(s.samples * T * N);
  for (double& x : s.states) x = normal(bits);
  s.status.assign(s.samples, 0);
  s.t_reached.assign(s.samples, 999.0);
  s.failure_flag.assign(s.samples, "");
  s.failure_message.assign(s.samples, "");
  const auto [one, two] = write_on(s, "hdf5_chunks_batches", 1, 1, 2);
  CHECK(file_bytes(one) == file_bytes(two));
  const engine::Shard back = engine::read_hdf5(one);
  REQUIRE(back.states.size() == s.states.size());
  CHECK(std::memcmp(back.states.data(), s.states.data(), s.states.size() * 8) == 0);
}
