// Small helpers shared by viz's sources: numbers as text, JSON and CSV files read whole.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace physynth::viz {

// The file parsed as JSON; throws std::runtime_error naming it when missing or invalid.
nlohmann::json read_json(const std::string& path);

// A CSV file with a header row (no quoting: physynth's own outputs): the header and the rows
// as text; throws std::runtime_error naming the file when it cannot be read.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t column(const std::string& name) const;      // npos when absent
  double number(std::size_t row, std::size_t col) const;  // NaN for an empty or non-numeric field
};
CsvTable read_csv(const std::string& path);

}  // namespace physynth::viz
