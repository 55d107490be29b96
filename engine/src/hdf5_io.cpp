// HDF5 shards through the C API, with creation-time tracking off on every
// object so identical runs give identical bytes.
#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "formats.h"
#include "hdf5_chunks.h"
#include "physynth/engine/dataset.h"

namespace physynth::engine {

namespace {

// Owns one HDF5 identifier.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
    if (id_ < 0) throw std::runtime_error("HDF5: " + what + " failed");
  }
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  hid_t get() const { return id_; }
  // Closes now and reports failure (a full disk shows up here).
  void close(const std::string& what) {
    const herr_t status = close_(id_);
    id_ = -1;
    if (status < 0) throw std::runtime_error("HDF5: closing " + what + " failed");
  }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void check(herr_t status, const std::string& what) {
  if (status < 0) throw std::runtime_error("HDF5: " + what + " failed");
}

void string_list_attribute(hid_t object, const char* name, const std::vector<std::string>& values) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose, "attribute space");
  Handle attr(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              std::string("attribute ") + name);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (n > 0) check(H5Awrite(attr.get(), type.get(), ptrs.data()), std::string("writing attribute ") + name);
}

void string_attribute(hid_t object, const char* name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), value.empty() ? 1 : value.size()), "H5Tset_size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, "attribute space");
  Handle attr(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              std::string("attribute ") + name);
  check(H5Awrite(attr.get(), type.get(), value.empty() ? "" : value.c_str()), std::string("writing attribute ") + name);
}

void double_attribute(hid_t object, const char* name, double value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, "attribute space");
  Handle attr(H5Acreate2(object, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              std::string("attribute ") + name);
  check(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value), std::string("writing attribute ") + name);
}

void int_attribute(hid_t object, const char* name, long long value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, "attribute space");
  Handle attr(H5Acreate2(object, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              std::string("attribute ") + name);
  check(H5Awrite(attr.get(), H5T_NATIVE_LLONG, &value), std::string("writing attribute ") + name);
}

Handle group_plist() {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "group property list");
  check(H5Pset_obj_track_times(gcpl.get(), 0), "H5Pset_obj_track_times");
  return gcpl;
}

// How a writer compresses: the deflate level (0: stored as it is) and the threads that
// compress a dataset's chunks (hdf5_chunks.h).
struct Filters {
  int level = 0;
  int threads = 1;
};

// Writes an n-dimensional dataset, compressed in chunks: `chunk` where given, else along the
// first axis in about 256 KiB. The chunks are shuffled and deflated on `filters.threads`
// threads and written as they are (H5Dwrite_chunk); the dataset carries the same filter pipeline,
// so any HDF5 reader decompresses them.
hid_t write_array(hid_t parent, const std::string& name, hid_t file_type, hid_t mem_type,
                  const std::vector<hsize_t>& dims, const void* data, Filters filters,
                  const std::vector<hsize_t>& chunk_dims = {}) {
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "dataset property list");
  check(H5Pset_obj_track_times(dcpl.get(), 0), "H5Pset_obj_track_times");
  hsize_t total = 1;
  for (hsize_t d : dims) total *= d;
  const bool compress = total > 0 && filters.level > 0;
  std::vector<hsize_t> chunk = dims;
  if (compress) {
    hsize_t row = H5Tget_size(file_type);
    for (std::size_t i = 1; i < dims.size(); ++i) row *= dims[i];
    chunk[0] = std::clamp<hsize_t>((1u << 18) / std::max<hsize_t>(row, 1), 1, dims[0]);
    if (!chunk_dims.empty()) chunk = chunk_dims;
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk");
    check(H5Pset_shuffle(dcpl.get()), "H5Pset_shuffle");
    check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(filters.level)), "H5Pset_deflate");
  }
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, "dataspace " + name);
  const hid_t ds = H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT);
  if (ds < 0) throw std::runtime_error("HDF5: creating dataset " + name + " failed");
  try {
    // The memory type is the file's (both little-endian IEEE or two's complement on the machines
    // physynth builds for); were it not, HDF5 converts, and only its own pipeline can.
    const bool direct = compress && H5Tequal(file_type, mem_type) > 0;
    if (direct) {
      const std::vector<std::uint64_t> d(dims.begin(), dims.end()), c(chunk.begin(), chunk.end());
      filter_chunks(data, d, c, H5Tget_size(file_type), filters.level, filters.threads,
                    [&](const FilteredChunk& piece) {
                      const std::vector<hsize_t> offset(piece.offset.begin(), piece.offset.end());
                      check(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, offset.data(), piece.bytes.size(), piece.bytes.data()),
                            "writing a chunk of dataset " + name);
                    });
    } else if (total > 0) {
      check(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "writing dataset " + name);
    }
  } catch (...) {
    H5Dclose(ds);
    throw;
  }
  return ds;
}

void doubles(hid_t parent, const std::string& name, const std::vector<hsize_t>& dims, const std::vector<double>& v,
             Filters filters, const std::vector<std::string>& names = {}, const std::vector<std::string>& units = {},
             const std::string& unit = "") {
  Handle ds(write_array(parent, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims, v.data(), filters), H5Dclose, name);
  if (!names.empty()) string_list_attribute(ds.get(), "names", names);
  if (!units.empty()) string_list_attribute(ds.get(), "units", units);
  if (!unit.empty()) string_attribute(ds.get(), "units", unit);
}

std::vector<std::string> read_string_list(hid_t object, const char* name) {
  std::vector<std::string> out;
  if (H5Aexists(object, name) <= 0) return out;
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose, std::string("opening attribute ") + name);
  Handle space(H5Aget_space(attr.get()), H5Sclose, "attribute space");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n <= 0) return out;
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  std::vector<char*> ptrs(static_cast<std::size_t>(n));
  check(H5Aread(attr.get(), type.get(), ptrs.data()), std::string("reading attribute ") + name);
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
  return out;
}

std::vector<std::string> dataset_names(hid_t parent, const char* dataset, const char* attribute) {
  Handle ds(H5Dopen2(parent, dataset, H5P_DEFAULT), H5Dclose, std::string("opening ") + dataset);
  return read_string_list(ds.get(), attribute);
}

// A scalar fixed-length string attribute (string_attribute) of a dataset; "" where absent.
std::string dataset_string(hid_t parent, const char* dataset, const char* attribute) {
  Handle ds(H5Dopen2(parent, dataset, H5P_DEFAULT), H5Dclose, std::string("opening ") + dataset);
  if (H5Aexists(ds.get(), attribute) <= 0) return "";
  Handle attr(H5Aopen(ds.get(), attribute, H5P_DEFAULT), H5Aclose, std::string("attribute ") + attribute);
  Handle type(H5Aget_type(attr.get()), H5Tclose, "attribute type");
  Handle space(H5Aget_space(attr.get()), H5Sclose, "attribute space");
  if (H5Tis_variable_str(type.get()) > 0 || H5Sget_simple_extent_ndims(space.get()) != 0) return "";
  std::string v(H5Tget_size(type.get()), '\0');
  check(H5Aread(attr.get(), type.get(), v.data()), std::string("reading attribute ") + attribute);
  return v.substr(0, v.find('\0'));
}

std::vector<hsize_t> dims_of(hid_t ds) {
  Handle space(H5Dget_space(ds), H5Sclose, "dataspace");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

template <class T>
std::vector<T> read_array(hid_t parent, const std::string& name, hid_t mem_type,
                          std::vector<hsize_t>* dims_out = nullptr) {
  Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, "opening dataset " + name);
  const auto dims = dims_of(ds.get());
  hsize_t total = 1;
  for (hsize_t d : dims) total *= d;
  std::vector<T> v(total);
  if (total > 0) check(H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "reading " + name);
  if (dims_out) *dims_out = dims;
  return v;
}

// Builds the file in memory (HDF5's core driver, no backing store) with creation-time tracking
// off, lets `body` fill it, and writes its image with write_file_atomically: "<path>.partial",
// fsync, rename. Every disk error (full disk, file-size limit, read-only folder) then shows in
// one place, and no HDF5 file handle is ever left open on a failed write (HDF5 1.10 crashes at
// exit closing one). On any failure no file by the final name appears.
template <class Body>
void write_file(const std::string& path, Body&& body) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions with our messages
  std::string image;
  {
    Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose, "file property list");
    check(H5Pset_obj_track_times(fcpl.get(), 0), "H5Pset_obj_track_times");
    Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "file access property list");
    check(H5Pset_fapl_core(fapl.get(), 1 << 20, 0), "H5Pset_fapl_core");
    Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose, "creating " + path);
    body(file.get());
    check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flushing " + path);
    const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
    if (size < 0) throw std::runtime_error("HDF5: cannot take the image of " + path);
    image.resize(static_cast<std::size_t>(size));
    if (H5Fget_file_image(file.get(), image.data(), image.size()) != size)
      throw std::runtime_error("HDF5: cannot take the image of " + path);
    file.close(path);
  }
  write_file_atomically(path, image);
}

}  // namespace

std::vector<std::string> write_hdf5(const Shard& s, const std::string& directory, int compression, int threads) {
  const Filters z{compression, threads};
  const std::string final_path = directory + "/" + shard_stem(s.index) + ".h5";
  write_file(final_path, [&](hid_t f) {
    string_attribute(f, "format", "physynth-shard-1");
    int_attribute(f, "shard_index", static_cast<long long>(s.index));
    int_attribute(f, "first_sample", static_cast<long long>(s.first_sample));
    int_attribute(f, "samples", static_cast<long long>(s.samples));

    const hsize_t S = s.samples, T = s.times.size(), N = s.num_states(), M = s.num_parameters(), L = s.num_labels();
    doubles(f, "time", {T}, s.times, Filters{}, {}, {}, s.time_units);
    std::vector<std::int64_t> sample_ids(S);
    for (hsize_t i = 0; i < S; ++i) sample_ids[i] = static_cast<std::int64_t>(s.first_sample + i);
    Handle(write_array(f, "sample", H5T_STD_I64LE, H5T_NATIVE_INT64, {S}, sample_ids.data(), z), H5Dclose, "sample");
    if (!s.sample_keys.empty()) {  // samples at a driver's points: what keys each one's randomness
      std::vector<std::int64_t> keys(s.sample_keys.begin(), s.sample_keys.end());
      Handle(write_array(f, "sample_key", H5T_STD_I64LE, H5T_NATIVE_INT64, {S}, keys.data(), z), H5Dclose,
             "sample_key");
    }
    doubles(f, "states", {S, T, N}, s.states, z, s.state_names, s.state_units);
    doubles(f, "parameters", {S, M}, s.parameters, z, s.parameter_names, s.parameter_units);
    doubles(f, "labels", {S, L}, s.labels, z, s.label_names, s.label_units);
    doubles(f, "record_labels", {S, T, s.record_label_names.size()}, s.record_labels, z, s.record_label_names,
            s.record_label_units);
    if (!s.regime.empty()) doubles(f, "regime", {S, T}, s.regime, z);
    if (!s.plot.empty()) {
      Handle ds(write_array(f, "plot", H5T_STD_I32LE, H5T_NATIVE_INT32, {S, 2}, s.plot.data(), z), H5Dclose, "plot");
      string_list_attribute(ds.get(), "names", {"row", "col"});
      int_attribute(ds.get(), "field_rows", s.field_rows);
      int_attribute(ds.get(), "field_cols", s.field_cols);
      double_attribute(ds.get(), "cell_size_m", s.field_cell_size_m);
    }
    {
      Handle ds(write_array(f, "status", H5T_STD_I8LE, H5T_NATIVE_INT8, {S}, s.status.data(), z), H5Dclose, "status");
      string_list_attribute(ds.get(), "meaning", {"0: ok", "1: stopped_by_event", "2: failed"});
    }
    doubles(f, "t_reached", {S}, s.t_reached, z, {}, {}, s.time_units);
    {
      Handle ds(write_array(f, "solver_stats", H5T_STD_I64LE, H5T_NATIVE_INT64, {S, s.stat_names.size()},
                            s.solver_stats.data(), z),
                H5Dclose, "solver_stats");
      string_list_attribute(ds.get(), "names", s.stat_names);
    }
    {
      Handle ds(H5Dopen2(f, "status", H5P_DEFAULT), H5Dclose, "status");
      std::vector<std::string> flags;
      for (std::size_t i = 0; i < S; ++i)
        if (s.status[i] == static_cast<std::int8_t>(SampleStatus::kFailed))
          flags.push_back(std::to_string(s.first_sample + i) + ": " + s.failure_flag[i] + ": " + s.failure_message[i]);
      string_list_attribute(ds.get(), "failures", flags);
    }
    if (!s.sensitivity_names.empty()) {
      const hsize_t K = s.sensitivity_names.size();
      Handle ds(
          write_array(f, "sensitivities", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {S, T, K, N}, s.sensitivities.data(), z),
          H5Dclose, "sensitivities");
      string_list_attribute(ds.get(), "parameters", s.sensitivity_names);
      string_list_attribute(ds.get(), "states", s.state_names);
    }
    Handle gcpl = group_plist();
    Handle obs(H5Gcreate2(f, "observations", H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose, "observations group");
    for (const auto& o : s.observations) {
      Handle g(H5Gcreate2(obs.get(), o.name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose,
               "group " + o.name);
      doubles(g.get(), "time", {o.times.size()}, o.times, Filters{}, {}, {}, s.time_units);
      doubles(g.get(), "values", {S, o.times.size()}, o.values, z, {}, {}, o.units);
    }
    obs.close("observations");
    if (!s.waveforms.empty()) {
      // One chunk per snapshot: a reader decompresses only the snapshots it asks for.
      Handle g(H5Gcreate2(f, "waveforms", H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose, "waveforms group");
      const hsize_t K = s.waveform_times.size(), L = s.waveform_length;
      doubles(g.get(), "time", {K}, s.waveform_times, Filters{}, {}, {}, s.time_units);
      Handle ds(write_array(g.get(), "signal", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {S, K, L}, s.waveforms.data(),
                            Filters{std::max(compression, 1), threads}, {1, 1, L}),
                H5Dclose, "waveforms/signal");
      string_attribute(ds.get(), "units", s.waveform_units);
      double_attribute(ds.get(), "sample_rate_hz", s.waveform_rate_hz);
      string_attribute(ds.get(), "meaning",
                       "samples x readings x points: the raw signal the derived features at each reading time were "
                       "computed from (float32 of the same samples); NaN where the sample had ended");
      g.close("waveforms");
    }
  });
  return {final_path};
}

void write_windows_hdf5(const std::string& path, const WindowBatch& w, const nlohmann::ordered_json& d,
                        int compression) {
  const Filters z{compression, 1};
  write_file(path, [&](hid_t f) {
    string_attribute(f, "format", "physynth-windows-2");
    string_attribute(f, "split", d.at("split").get<std::string>());
    string_attribute(f, "description", d.dump());
    const hsize_t n = w.size;
    {
      Handle ds(write_array(f, "x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {n, w.window, w.channels}, w.features.data(), z),
                H5Dclose, "x");
      string_list_attribute(ds.get(), "channels", d.at("x").at("channels").get<std::vector<std::string>>());
      string_list_attribute(ds.get(), "units", d.at("x").at("units").get<std::vector<std::string>>());
    }
    {
      Handle ds(write_array(f, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {n}, w.targets.data(), z), H5Dclose, "y");
      string_attribute(ds.get(), "label", d.at("y").at("label").get<std::string>());
      string_attribute(ds.get(), "units", d.at("y").at("units").get<std::string>());
      string_attribute(ds.get(), "definition", d.at("y").at("definition").get<std::string>());
    }
    Handle(write_array(f, "sample", H5T_STD_I64LE, H5T_NATIVE_INT64, {n}, w.samples.data(), z), H5Dclose, "sample");
    Handle(write_array(f, "end_time", H5T_STD_I64LE, H5T_NATIVE_INT64, {n}, w.end_times.data(), z), H5Dclose,
           "end_time");
    doubles(f, "time", {n}, w.times, z, {}, {}, d.at("time").at("units").get<std::string>());
  });
}

Shard read_hdf5(const std::string& path, bool waveforms) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "opening " + path);
  const hid_t f = file.get();
  Shard s;
  auto read_int_attr = [&](const char* name) {
    Handle attr(H5Aopen(f, name, H5P_DEFAULT), H5Aclose, std::string("attribute ") + name);
    long long v = 0;
    check(H5Aread(attr.get(), H5T_NATIVE_LLONG, &v), name);
    return v;
  };
  s.index = static_cast<std::uint64_t>(read_int_attr("shard_index"));
  s.first_sample = static_cast<std::uint64_t>(read_int_attr("first_sample"));
  s.samples = static_cast<std::size_t>(read_int_attr("samples"));
  s.times = read_array<double>(f, "time", H5T_NATIVE_DOUBLE);
  s.time_units = dataset_string(f, "time", "units");
  s.state_names = dataset_names(f, "states", "names");
  s.state_units = dataset_names(f, "states", "units");
  s.states = read_array<double>(f, "states", H5T_NATIVE_DOUBLE);
  s.parameter_names = dataset_names(f, "parameters", "names");
  s.parameter_units = dataset_names(f, "parameters", "units");
  s.parameters = read_array<double>(f, "parameters", H5T_NATIVE_DOUBLE);
  s.label_names = dataset_names(f, "labels", "names");
  s.label_units = dataset_names(f, "labels", "units");
  s.labels = read_array<double>(f, "labels", H5T_NATIVE_DOUBLE);
  s.record_label_names = dataset_names(f, "record_labels", "names");
  s.record_label_units = dataset_names(f, "record_labels", "units");
  s.record_labels = read_array<double>(f, "record_labels", H5T_NATIVE_DOUBLE);
  if (H5Lexists(f, "sample_key", H5P_DEFAULT) > 0)
    for (auto k : read_array<std::int64_t>(f, "sample_key", H5T_NATIVE_INT64))
      s.sample_keys.push_back(static_cast<std::uint64_t>(k));
  if (H5Lexists(f, "regime", H5P_DEFAULT) > 0) s.regime = read_array<double>(f, "regime", H5T_NATIVE_DOUBLE);
  if (H5Lexists(f, "plot", H5P_DEFAULT) > 0) {
    s.plot = read_array<std::int32_t>(f, "plot", H5T_NATIVE_INT32);
    Handle ds(H5Dopen2(f, "plot", H5P_DEFAULT), H5Dclose, "plot");
    auto attribute = [&](const char* name, hid_t type, void* out) {
      Handle attr(H5Aopen(ds.get(), name, H5P_DEFAULT), H5Aclose, std::string("attribute ") + name);
      check(H5Aread(attr.get(), type, out), name);
    };
    long long rows = 0, cols = 0;
    attribute("field_rows", H5T_NATIVE_LLONG, &rows);
    attribute("field_cols", H5T_NATIVE_LLONG, &cols);
    attribute("cell_size_m", H5T_NATIVE_DOUBLE, &s.field_cell_size_m);
    s.field_rows = static_cast<int>(rows);
    s.field_cols = static_cast<int>(cols);
  }
  s.status = read_array<std::int8_t>(f, "status", H5T_NATIVE_INT8);
  s.t_reached = read_array<double>(f, "t_reached", H5T_NATIVE_DOUBLE);
  s.stat_names = dataset_names(f, "solver_stats", "names");
  s.solver_stats = read_array<std::int64_t>(f, "solver_stats", H5T_NATIVE_INT64);
  if (H5Lexists(f, "sensitivities", H5P_DEFAULT) > 0) {
    s.sensitivity_names = dataset_names(f, "sensitivities", "parameters");
    s.sensitivities = read_array<double>(f, "sensitivities", H5T_NATIVE_DOUBLE);
  }
  Handle obs(H5Gopen2(f, "observations", H5P_DEFAULT), H5Gclose, "observations");
  H5G_info_t info;
  check(H5Gget_info(obs.get(), &info), "H5Gget_info");
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[256];
    H5Lget_name_by_idx(obs.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
    ObservationBlock o;
    o.name = name;
    Handle g(H5Gopen2(obs.get(), name, H5P_DEFAULT), H5Gclose, name);
    o.times = read_array<double>(g.get(), "time", H5T_NATIVE_DOUBLE);
    o.values = read_array<double>(g.get(), "values", H5T_NATIVE_DOUBLE);
    o.units = dataset_string(g.get(), "values", "units");
    s.observations.push_back(std::move(o));
  }
  if (waveforms && H5Lexists(f, "waveforms", H5P_DEFAULT) > 0) {
    Handle g(H5Gopen2(f, "waveforms", H5P_DEFAULT), H5Gclose, "waveforms");
    s.waveform_times = read_array<double>(g.get(), "time", H5T_NATIVE_DOUBLE);
    s.waveforms = read_array<float>(g.get(), "signal", H5T_NATIVE_FLOAT);
    s.waveform_units = dataset_string(g.get(), "signal", "units");
    Handle ds(H5Dopen2(g.get(), "signal", H5P_DEFAULT), H5Dclose, "waveforms/signal");
    Handle attr(H5Aopen(ds.get(), "sample_rate_hz", H5P_DEFAULT), H5Aclose, "attribute sample_rate_hz");
    check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &s.waveform_rate_hz), "sample_rate_hz");
    const std::size_t per = s.samples * s.waveform_times.size();
    s.waveform_length = per > 0 ? s.waveforms.size() / per : 0;
  }
  return s;
}

}  // namespace physynth::engine
