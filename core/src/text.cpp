#include "physynth/core/text.h"

namespace physynth::core {

namespace {
std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \r") - b + 1);
}
}  // namespace

std::vector<std::string> split_fields(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == sep && !quoted) {
      out.push_back(trimmed(field));
      field.clear();
    } else {
      field += c;
    }
  }
  out.push_back(trimmed(field));
  return out;
}

}  // namespace physynth::core
