#include "model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <stdlib.h>
#include <sys/wait.h>

#include "physynth/core/text.h"
#include "physynth/engine/modules.h"
#include "physynth/pinn/runtime.h"

namespace physynth::active::detail {

namespace {

// A user's model through files (LoopOptions::model_command): predictions at q, rows x members.
std::vector<double> command_predictions(const std::string& command, const std::vector<double>& x,
                                        const std::vector<double>& y, std::size_t f, const std::vector<double>& q,
                                        int round, std::size_t* members) {
  std::string pattern = (std::filesystem::temp_directory_path() / "physynth-model-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot make a temporary folder for --model-cmd");
  const std::string dir = pattern;
  auto write = [&](const std::string& name, const std::vector<double>& rows, const std::vector<double>* target) {
    std::ofstream out(dir + "/" + name);
    for (std::size_t k = 0; k < f; ++k) out << (k ? "," : "") << 'f' << k;
    out << (target ? ",target\n" : "\n");
    const std::size_t n = rows.size() / f;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t k = 0; k < f; ++k) out << (k ? "," : "") << core::format_number(rows[i * f + k]);
      if (target) out << ',' << core::format_number((*target)[i]);
      out << '\n';
    }
    if (!out) throw std::runtime_error("cannot write " + dir + "/" + name);
  };
  write("train.csv", x, &y);
  write("query.csv", q, nullptr);
  const std::string call = command + " '" + dir + "'";
  const int status = std::system(call.c_str());
  const std::string where = "the model command '" + command + "' (round " + std::to_string(round) + ", files in " +
                            dir + ")";
  if (status != 0)
    throw std::runtime_error(where + (WIFEXITED(status) ? " exited with status " + std::to_string(WEXITSTATUS(status))
                                                         : " was stopped by signal " + std::to_string(WTERMSIG(status))));
  std::ifstream in(dir + "/predictions.csv");
  if (!in) throw std::runtime_error(where + " wrote no predictions.csv");
  std::vector<double> out;
  std::string line;
  std::size_t rows = 0;
  *members = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::size_t count = 0, pos = 0;
    while (pos <= line.size()) {
      const std::size_t comma = std::min(line.find(',', pos), line.size());
      const std::string cell = line.substr(pos, comma - pos);
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      if (cell.empty() || end != cell.c_str() + cell.size() || !std::isfinite(v))
        throw std::runtime_error(where + ": predictions.csv line " + std::to_string(rows + 1) + ": '" + cell +
                                 "' is not a finite number");
      out.push_back(v);
      ++count;
      pos = comma + 1;
    }
    if (*members == 0) *members = count;
    if (count != *members)
      throw std::runtime_error(where + ": predictions.csv line " + std::to_string(rows + 1) + " has " +
                               std::to_string(count) + " numbers, line 1 has " + std::to_string(*members));
    ++rows;
  }
  if (rows != q.size() / f)
    throw std::runtime_error(where + ": predictions.csv has " + std::to_string(rows) + " lines for " +
                             std::to_string(q.size() / f) + " query rows");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return out;
}

// Per query row: the members' mean and standard deviation.
void summarise(const std::vector<double>& pred, std::size_t members, std::vector<double>& mean,
               std::vector<double>& sd) {
  const std::size_t m = pred.size() / members;
  mean.assign(m, 0.0);
  sd.assign(m, 0.0);
  for (std::size_t j = 0; j < m; ++j) {
    for (std::size_t k = 0; k < members; ++k) mean[j] += pred[j * members + k] / static_cast<double>(members);
    for (std::size_t k = 0; k < members; ++k)
      sd[j] += (pred[j * members + k] - mean[j]) * (pred[j * members + k] - mean[j]);
    sd[j] = members > 1 ? std::sqrt(sd[j] / static_cast<double>(members - 1)) : 0.0;
  }
}

}  // namespace

// Errors of the members' mean against the rows' targets (rows without a target skipped).
ErrorSummary error_summary(const double* mean, const double* sd, const std::vector<double>& y) {
  ErrorSummary r;
  std::vector<double> errors;
  for (std::size_t j = 0; j < y.size(); ++j) {
    if (!std::isfinite(y[j])) continue;
    errors.push_back(std::abs(mean[j] - y[j]));
    r.disagreement += sd[j];
  }
  if (errors.empty()) return r;
  double sq = 0.0;
  for (double e : errors) sq += e * e;
  r.rmse = std::sqrt(sq / static_cast<double>(errors.size()));
  r.disagreement /= static_cast<double>(errors.size());
  std::sort(errors.begin(), errors.end());
  r.p95 = errors[static_cast<std::size_t>(0.95 * static_cast<double>(errors.size() - 1))];
  r.max_error = errors.back();
  return r;
}

Prediction fit_predict(const pinn::RegressorOptions& model, const std::string& command, const std::vector<double>& x,
                       const std::vector<double>& y, std::size_t f, const std::vector<double>& q, int round) {
  std::size_t members = static_cast<std::size_t>(model.members);
  const auto pred = command.empty() ? engine::pinn_runtime().fit_predict(model, x, y, f, q)
                                    : command_predictions(command, x, y, f, q, round, &members);
  Prediction p;
  summarise(pred, members, p.mean, p.sd);
  return p;
}

}  // namespace physynth::active::detail
