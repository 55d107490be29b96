#include "journal.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "sha256.h"

namespace fs = std::filesystem;

namespace physynth::engine {

nlohmann::json exact_doubles(const std::vector<double>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (double x : values) {
    if (std::isnan(x))
      out.push_back("nan");
    else if (std::isinf(x))
      out.push_back(x > 0 ? "inf" : "-inf");
    else
      out.push_back(x);
  }
  return out;
}

std::vector<double> read_exact_doubles(const nlohmann::json& j) {
  std::vector<double> out;
  for (const auto& v : j) {
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      if (s == "nan")
        out.push_back(std::numeric_limits<double>::quiet_NaN());
      else if (s == "inf")
        out.push_back(std::numeric_limits<double>::infinity());
      else if (s == "-inf")
        out.push_back(-std::numeric_limits<double>::infinity());
      else
        throw std::runtime_error("journal: '" + s + "' is not a number");
    } else {
      out.push_back(v.get<double>());
    }
  }
  return out;
}

std::string journal_directory(const std::string& run_dir) { return (fs::path(run_dir) / "journal").string(); }

std::string shard_record_path(const std::string& run_dir, std::uint64_t shard_index) {
  char name[40];
  std::snprintf(name, sizeof name, "shard-%06llu.json", static_cast<unsigned long long>(shard_index));
  return (fs::path(journal_directory(run_dir)) / name).string();
}

std::string run_record_path(const std::string& run_dir) {
  return (fs::path(journal_directory(run_dir)) / "run.json").string();
}

nlohmann::json read_journal_record(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

nlohmann::json file_records(const std::vector<std::string>& files) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : files)
    list.push_back({{"path", fs::path(f).filename().string()},
                    {"bytes", static_cast<std::uint64_t>(fs::file_size(f))},
                    {"sha256", sha256_file(f)}});
  return list;
}

bool shard_files_intact(const nlohmann::json& record, const std::string& run_dir, std::string* why) {
  for (const auto& f : record.at("files")) {
    const fs::path path = fs::path(run_dir) / f.at("path").get<std::string>();
    std::error_code ec;
    const auto bytes = fs::file_size(path, ec);
    if (ec) {
      *why = path.string() + " is missing";
      return false;
    }
    if (bytes != f.at("bytes").get<std::uint64_t>()) {
      *why = path.string() + " has " + std::to_string(bytes) + " bytes, its record says " +
             std::to_string(f.at("bytes").get<std::uint64_t>());
      return false;
    }
    if (sha256_file(path.string()) != f.at("sha256").get<std::string>()) {
      *why = path.string() + " does not match its recorded SHA-256";
      return false;
    }
  }
  return true;
}

}  // namespace physynth::engine
