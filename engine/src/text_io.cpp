// CSV and NPY shards, and the atomic file helper they share.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "formats.h"
#include "physynth/core/diagnostics.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/errors.h"
#include "physynth/engine/output_folder.h"

namespace physynth::engine {

const char* sample_status_name(SampleStatus s) {
  switch (s) {
    case SampleStatus::kOk:
      return "ok";
    case SampleStatus::kStoppedByEvent:
      return "stopped_by_event";
    case SampleStatus::kFailed:
      return "failed";
  }
  return "?";
}

const ObservationBlock& Shard::observation(const std::string& name) const {
  for (const auto& o : observations)
    if (o.name == name) return o;
  throw std::out_of_range("shard " + std::to_string(index) + " has no observation channel '" + name + "'");
}

std::string shard_stem(std::uint64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shard-%06llu", static_cast<unsigned long long>(index));
  return buf;
}

namespace {

// Writes bytes to "<path>.partial", flushes them to disk, renames to path.
void commit(const std::string& path, const std::string& bytes) {
  note_output_file(path);
  const std::string partial = path + ".partial";
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw IoError("cannot create " + partial + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      std::remove(partial.c_str());
      throw IoError("cannot write " + partial + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    std::remove(partial.c_str());
    throw IoError("cannot finish " + partial + ": " + std::strerror(err));
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(partial.c_str());
    throw IoError("cannot rename " + partial + " to " + path + ": " + std::strerror(err));
  }
}

// printf's "%.17g" (std::to_chars with a precision is specified as printf's conversion; it is
// several times faster than snprintf): 17 significant digits, enough to read back every bit.
void put_number(std::string& out, double x) {
  if (std::isnan(x)) return;  // empty field: missing
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general, 17);
  out.append(buf, r.ptr);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& text) { commit(path, text); }

std::string npy_bytes(const std::string& descr, const std::vector<std::size_t>& shape, const void* data,
                      std::size_t bytes) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i)
    header += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  header += "), }";
  // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  const auto len = static_cast<std::uint16_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += header;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

std::vector<std::string> write_csv(const Shard& s, const std::string& directory) {
  const std::string stem = directory + "/" + shard_stem(s.index);
  const std::size_t T = s.times.size(), N = s.num_states();

  // Trajectories: one row per sample and time; observation columns are empty
  // where the channel has no reading at that time.
  std::vector<std::vector<long>> obs_row(s.observations.size(), std::vector<long>(T, -1));
  for (std::size_t c = 0; c < s.observations.size(); ++c) {
    std::size_t k = 0;
    for (std::size_t j = 0; j < s.observations[c].times.size(); ++j) {
      while (k < T && s.times[k] < s.observations[c].times[j]) ++k;
      if (k < T && s.times[k] == s.observations[c].times[j]) obs_row[c][k] = static_cast<long>(j);
    }
  }
  std::string out = "sample,time";
  for (const auto& n : s.state_names) out += "," + csv_field(n);
  for (const auto& o : s.observations) out += "," + csv_field(o.name);
  for (const auto& n : s.record_label_names) out += "," + csv_field(n);
  if (!s.regime.empty()) out += ",regime";
  out += '\n';
  const std::size_t R = s.record_label_names.size();
  for (std::size_t i = 0; i < s.samples; ++i) {
    for (std::size_t k = 0; k < T; ++k) {
      out += std::to_string(s.first_sample + i) + ',';
      put_number(out, s.times[k]);
      for (std::size_t n = 0; n < N; ++n) {
        out += ',';
        put_number(out, s.states[(i * T + k) * N + n]);
      }
      for (std::size_t c = 0; c < s.observations.size(); ++c) {
        out += ',';
        if (obs_row[c][k] >= 0)
          put_number(
              out,
              s.observations[c].values[i * s.observations[c].times.size() + static_cast<std::size_t>(obs_row[c][k])]);
      }
      for (std::size_t l = 0; l < R; ++l) {
        out += ',';
        put_number(out, s.record_labels[(i * T + k) * R + l]);
      }
      if (!s.regime.empty()) {
        out += ',';
        put_number(out, s.regime[i * T + k]);
      }
      out += '\n';
    }
  }
  commit(stem + ".csv", out);

  // Per-sample table: status, parameters, labels, failure reason.
  std::string meta = "sample,status,t_reached";
  if (!s.plot.empty()) meta += ",plot_row,plot_col";
  for (const auto& n : s.parameter_names) meta += "," + csv_field(n);
  for (const auto& n : s.label_names) meta += "," + csv_field(n);
  meta += ",failure\n";
  for (std::size_t i = 0; i < s.samples; ++i) {
    meta += std::to_string(s.first_sample + i) + ',' + sample_status_name(static_cast<SampleStatus>(s.status[i])) + ',';
    put_number(meta, s.t_reached[i]);
    if (!s.plot.empty()) meta += ',' + std::to_string(s.plot[2 * i]) + ',' + std::to_string(s.plot[2 * i + 1]);
    for (std::size_t j = 0; j < s.num_parameters(); ++j) {
      meta += ',';
      put_number(meta, s.parameters[i * s.num_parameters() + j]);
    }
    for (std::size_t j = 0; j < s.num_labels(); ++j) {
      meta += ',';
      put_number(meta, s.labels[i * s.num_labels() + j]);
    }
    meta += ',';
    if (!s.failure_flag[i].empty()) meta += csv_field(s.failure_flag[i] + ": " + s.failure_message[i]);
    meta += '\n';
  }
  commit(stem + ".samples.csv", meta);
  return {stem + ".csv", stem + ".samples.csv"};
}

std::vector<std::string> write_npy(const Shard& s, const std::string& directory) {
  const std::string stem = directory + "/" + shard_stem(s.index);
  std::vector<std::string> files;
  auto put = [&](const std::string& suffix, const std::string& bytes) {
    commit(stem + suffix, bytes);
    files.push_back(stem + suffix);
  };
  const std::size_t S = s.samples;
  put(".time.npy", npy_bytes("<f8", {s.times.size()}, s.times.data(), s.times.size() * 8));
  put(".states.npy", npy_bytes("<f8", {S, s.times.size(), s.num_states()}, s.states.data(), s.states.size() * 8));
  put(".parameters.npy", npy_bytes("<f8", {S, s.num_parameters()}, s.parameters.data(), s.parameters.size() * 8));
  put(".labels.npy", npy_bytes("<f8", {S, s.num_labels()}, s.labels.data(), s.labels.size() * 8));
  if (!s.record_label_names.empty())
    put(".record_labels.npy", npy_bytes("<f8", {S, s.times.size(), s.record_label_names.size()}, s.record_labels.data(),
                                        s.record_labels.size() * 8));
  put(".status.npy", npy_bytes("|i1", {S}, s.status.data(), s.status.size()));
  if (!s.regime.empty())
    put(".regime.npy", npy_bytes("<f8", {S, s.times.size()}, s.regime.data(), s.regime.size() * 8));
  if (!s.plot.empty()) put(".plot.npy", npy_bytes("<i4", {S, 2}, s.plot.data(), s.plot.size() * 4));
  if (!s.sensitivity_names.empty())
    put(".sensitivities.npy", npy_bytes("<f8", {S, s.times.size(), s.sensitivity_names.size(), s.num_states()},
                                        s.sensitivities.data(), s.sensitivities.size() * 8));
  for (const auto& o : s.observations) {
    put(".obs." + o.name + ".time.npy", npy_bytes("<f8", {o.times.size()}, o.times.data(), o.times.size() * 8));
    put(".obs." + o.name + ".npy", npy_bytes("<f8", {S, o.times.size()}, o.values.data(), o.values.size() * 8));
  }
  return files;
}

}  // namespace physynth::engine
