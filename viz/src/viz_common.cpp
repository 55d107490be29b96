#include "viz_common.h"

#include <vtkObjectFactory.h>
#include <vtkErrorCode.h>
#include <vtkLogger.h>
#include <vtkOutputWindow.h>
#include <vtkSmartPointer.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <mutex>
#include <stdexcept>

#include "physynth/engine/errors.h"
#include "physynth/engine/output_folder.h"

namespace physynth::viz {

namespace {
// VTK's messages, kept for the one error message a failed write gives instead of VTK's dumps.
class CapturingOutputWindow : public vtkOutputWindow {
 public:
  static CapturingOutputWindow* New();
  vtkTypeMacro(CapturingOutputWindow, vtkOutputWindow);
  void DisplayText(const char* text) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (text) last_ += std::string(text) + "\n";
  }
  std::string take() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string s;
    s.swap(last_);
    return s;
  }

 private:
  std::mutex mutex_;
  std::string last_;
};
vtkStandardNewMacro(CapturingOutputWindow);

CapturingOutputWindow& vtk_messages() {
  static vtkSmartPointer<CapturingOutputWindow> w = [] {
    auto window = vtkSmartPointer<CapturingOutputWindow>::New();
    vtkOutputWindow::SetInstance(window);
    vtkLogger::SetStderrVerbosity(vtkLogger::VERBOSITY_OFF);  // the pipeline's own dumps
    return window;
  }();
  return *w;
}

// The gist of VTK's messages: the writer's own reason (the text after "vtkClass (0x...): "),
// not the pipeline's "returned failure for request" that follows it.
std::string gist(const std::string& messages) {
  std::string line;
  std::istringstream in(messages);
  while (std::getline(in, line)) {
    const std::size_t at = line.find("): ");
    if (at != std::string::npos && line.find("returned failure") == std::string::npos) return line.substr(at + 3);
  }
  return "";
}
}  // namespace

std::filesystem::path begin_vtk_file(const std::filesystem::path& path) {
  vtk_messages().take();
  engine::note_output_file(path.string());
  std::filesystem::create_directories(path.parent_path());
  return path.string() + ".partial";
}

void finish_vtk_file(const std::filesystem::path& partial, const std::filesystem::path& path, bool writer_ok,
                     unsigned long vtk_error_code) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(partial, ec);
  if (!writer_ok || ec || bytes == 0) {
    std::string why = vtk_error_code == vtkErrorCode::OutOfDiskSpaceError
                          ? "out of disk space, or over the file-size limit"
                          : gist(vtk_messages().take());
    vtk_messages().take();
    if (why.empty() && vtk_error_code >= vtkErrorCode::FirstVTKErrorCode)
      why = vtkErrorCode::GetStringFromErrorCode(vtk_error_code);
    if (why.empty()) why = "the VTK writer failed (a full disk, a file-size limit, or no permission)";
    std::filesystem::remove(partial, ec);
    throw engine::IoError("cannot write " + path.string() + (why.empty() ? std::string() : ": " + why));
  }
  std::filesystem::rename(partial, path, ec);
  if (ec) throw engine::IoError("cannot rename " + partial.string() + " to " + path.string() + ": " + ec.message());
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read it");
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }
}

std::size_t CsvTable::column(const std::string& name) const {
  for (std::size_t c = 0; c < header.size(); ++c)
    if (header[c] == name) return c;
  return std::string::npos;
}

double CsvTable::number(std::size_t row, std::size_t col) const {
  if (row >= rows.size() || col >= rows[row].size() || rows[row][col].empty()) return NAN;
  const std::string& s = rows[row][col];
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() ? v : NAN;
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read it");
  CsvTable t;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) fields.push_back(f);
    if (!line.empty() && line.back() == ',') fields.emplace_back();
    if (first) {
      t.header = fields;
      first = false;
    } else if (!line.empty()) {
      t.rows.push_back(fields);
    }
  }
  if (first) throw std::runtime_error(path + ": empty, no header row");
  return t;
}

}  // namespace physynth::viz
