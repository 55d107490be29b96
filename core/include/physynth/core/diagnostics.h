// Problems found in user input, collected (never thrown one at a time) and
// printed in the compiler's format:
//   scenarios/press_line.yaml:14:9: error: solver.rtol must be > 0, got -1e-06
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace physynth::core {

struct SourceLocation {
  std::string file;  // path as given by the user, or "--set" for command-line overrides
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
  std::string format() const;
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  SourceLocation where;
  std::string message;
  std::string format() const;  // "file:line:col: error: message"
};

class Diagnostics {
 public:
  void error(SourceLocation where, std::string message);
  void warning(SourceLocation where, std::string message);

  std::size_t error_count() const;
  bool has_errors() const { return error_count() > 0; }
  const std::vector<Diagnostic>& list() const { return items_; }

  // Every diagnostic on its own line, then "N errors in M files; nothing was run."
  std::string report(const std::string& consequence = "nothing was run") const;

 private:
  std::vector<Diagnostic> items_;
};

// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(const std::string& a, const std::string& b);
// The candidate closest to `word` if it is plausibly a typo of it, else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
// "a, b, c" or "'a', 'b' or 'c'" style lists for messages.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");
std::string quoted_alternatives(const std::vector<std::string>& items);
// Shortest text that reads back as exactly this double.
std::string format_number(double x);
// x to `digits` significant digits ("%.*g") for reports and tables; "n/a" when it is not finite.
std::string format_significant(double x, int digits = 4);

}  // namespace physynth::core
