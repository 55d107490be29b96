#include "physynth/core/diagnostics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace physynth::core {

std::string SourceLocation::format() const {
  std::string s = file.empty() ? "<input>" : file;
  if (line > 0) {
    s += ':' + std::to_string(line);
    if (column > 0) s += ':' + std::to_string(column);
  }
  return s;
}

std::string Diagnostic::format() const {
  return where.format() + (severity == Severity::kError ? ": error: " : ": warning: ") + message;
}

void Diagnostics::error(SourceLocation where, std::string message) {
  items_.push_back({Diagnostic::Severity::kError, std::move(where), std::move(message)});
}

void Diagnostics::warning(SourceLocation where, std::string message) {
  items_.push_back({Diagnostic::Severity::kWarning, std::move(where), std::move(message)});
}

std::size_t Diagnostics::error_count() const {
  return static_cast<std::size_t>(std::count_if(
      items_.begin(), items_.end(), [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::kError; }));
}

std::string Diagnostics::report(const std::string& consequence) const {
  std::string out;
  std::set<std::string> files;
  bool command_line = false;  // "--set", "--split", "physynth feed": an option, not a file
  for (const auto& d : items_) {
    out += d.format() + '\n';
    if (d.severity != Diagnostic::Severity::kError) continue;
    if (d.where.file.rfind("--", 0) == 0 || d.where.file.rfind("physynth ", 0) == 0)
      command_line = true;
    else
      files.insert(d.where.file);
  }
  const std::size_t n = error_count();
  if (n > 0) {
    std::string where;
    if (!files.empty()) where = " in " + std::to_string(files.size()) + (files.size() == 1 ? " file" : " files");
    if (command_line) where += files.empty() ? " on the command line" : " and on the command line";
    out += std::to_string(n) + (n == 1 ? " error" : " errors") + where + "; " + consequence + ".\n";
  }
  return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  // A hint is a plausible typo: few edits, and not a replacement of the whole word.
  std::string best;
  std::size_t best_d = std::max<std::size_t>(1, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d && d < word.size() && d < c.size()) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string quoted_alternatives(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += (i + 1 == items.size()) ? " or " : ", ";
    out += "'" + items[i] + "'";
  }
  return out;
}

std::string format_significant(double x, int digits) {
  if (!std::isfinite(x)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, x);
  return buf;
}

std::string format_number(double x) {
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  return buf;
}

}  // namespace physynth::core
