// Small helpers shared by viz's sources: numbers as text, JSON and CSV files read whole.
#pragma once

#include <filesystem>
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

// A file a VTK writer writes: begin_vtk_file records `path` as physynth's output
// (engine::note_output_file), routes VTK's messages away from the terminal, and returns the
// "<path>.partial" to write; finish_vtk_file renames it to `path` when the writer said it
// succeeded and left a non-empty file, else removes it and throws engine::IoError naming the file
// with VTK's last message (a full disk, a file-size limit).
std::filesystem::path begin_vtk_file(const std::filesystem::path& path);
// `vtk_error_code` is the writer's GetErrorCode() (0: none).
void finish_vtk_file(const std::filesystem::path& partial, const std::filesystem::path& path, bool writer_ok,
                     unsigned long vtk_error_code);

}  // namespace physynth::viz
