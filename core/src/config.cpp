#include "physynth/core/config.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace physynth::core {

ConfigNode::ConfigNode(YAML::Node node, std::string path, std::string file, Diagnostics* diagnostics,
                       std::shared_ptr<const std::vector<std::string>> overridden)
    : node_(std::move(node)),
      path_(std::move(path)),
      file_(std::move(file)),
      diagnostics_(diagnostics),
      overridden_(std::move(overridden)) {}

SourceLocation ConfigNode::location() const {
  if (overridden_)
    for (const auto& o : *overridden_)
      if (path_ == o || path_.rfind(o + ".", 0) == 0 || path_.rfind(o + "[", 0) == 0) return {"--set", 0, 0};
  if (!node_.IsDefined()) return fallback_.file.empty() ? SourceLocation{file_, 0, 0} : fallback_;
  const YAML::Mark mark = node_.Mark();
  if (mark.is_null()) return {"--set", 0, 0};
  return {file_, mark.line + 1, mark.column + 1};
}

SourceLocation ConfigNode::location_at(std::size_t offset) const {
  SourceLocation at = location();
  if (at.line <= 0 || at.column <= 0 || at.file == "--set") return at;
  std::ifstream in(file_);
  std::string line;
  for (int k = 0; k < at.line && std::getline(in, line); ++k) {
  }
  if (!in || static_cast<std::size_t>(at.column) > line.size()) return at;
  const char first = line[static_cast<std::size_t>(at.column) - 1];
  if (first == '|' || first == '>') return at;
  at.column += static_cast<int>(offset) + (first == '"' || first == '\'' ? 1 : 0);
  return at;
}

std::string ConfigNode::describe() const {
  if (!node_.IsDefined() || (node_.IsDefined() && node_.IsNull())) return "nothing";
  if ((node_.IsDefined() && node_.IsMap())) return "a mapping";
  if ((node_.IsDefined() && node_.IsSequence())) return "a list";
  return "'" + node_.Scalar() + "'";
}

void ConfigNode::error(const std::string& message) const { diagnostics_->error(location(), message); }
void ConfigNode::warning(const std::string& message) const { diagnostics_->warning(location(), message); }

bool ConfigNode::has(const std::string& key) const {
  return (node_.IsDefined() && node_.IsMap()) && node_[key].IsDefined();
}

ConfigNode ConfigNode::operator[](const std::string& key) const {
  YAML::Node child = (node_.IsDefined() && node_.IsMap()) ? node_[key] : YAML::Node(YAML::NodeType::Undefined);
  ConfigNode out(child, path_.empty() ? key : path_ + "." + key, file_, diagnostics_, overridden_);
  // An absent key is reported at its parent's position.
  out.fallback_ = location();
  return out;
}

ConfigNode ConfigNode::operator[](std::size_t index) const {
  YAML::Node child = (node_.IsDefined() && node_.IsSequence()) && index < node_.size()
                         ? node_[index]
                         : YAML::Node(YAML::NodeType::Undefined);
  ConfigNode out(child, path_ + "[" + std::to_string(index) + "]", file_, diagnostics_, overridden_);
  out.fallback_ = location();
  return out;
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (!(node_.IsDefined() && node_.IsMap())) return out;
  for (const auto& kv : node_) out.push_back(kv.first.Scalar());
  return out;
}

bool ConfigNode::expect_map() const {
  if ((node_.IsDefined() && node_.IsMap())) return true;
  error((path_.empty() ? std::string("the file") : path_) + " must be a mapping of keys to values, got " + describe());
  return false;
}

bool ConfigNode::expect_sequence() const {
  if ((node_.IsDefined() && node_.IsSequence())) return true;
  error(path_ + " must be a list, got " + describe());
  return false;
}

void ConfigNode::check_keys(const std::vector<std::string>& allowed) const {
  if (!(node_.IsDefined() && node_.IsMap())) return;
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    bool known = false;
    for (const auto& a : allowed) known = known || a == key;
    if (known) continue;
    std::string msg = "unknown key '" + key + "' in " + (path_.empty() ? std::string("the scenario") : path_);
    const std::string hint = closest_match(key, allowed);
    if (!hint.empty())
      msg += "; did you mean '" + hint + "'?";
    else
      msg += "; valid keys are " + quoted_alternatives(allowed);
    const YAML::Mark mark = kv.first.Mark();
    diagnostics_->error(
        mark.is_null() ? SourceLocation{"--set", 0, 0} : SourceLocation{file_, mark.line + 1, mark.column + 1}, msg);
  }
}

bool ConfigNode::require(const std::string& key) const {
  if (has(key)) return true;
  error("missing required key '" + key + "' in " + (path_.empty() ? std::string("the scenario") : path_));
  return false;
}

std::optional<double> ConfigNode::as_number() const {
  if ((node_.IsDefined() && node_.IsScalar())) {
    const std::string& s = node_.Scalar();
    std::string t = s;
    if (t == ".inf" || t == ".Inf" || t == "+.inf") t = "inf";
    if (t == "-.inf" || t == "-.Inf") t = "-inf";
    if (t == ".nan" || t == ".NaN") t = "nan";
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(t.c_str(), &end);
    if (!t.empty() && end == t.c_str() + t.size() && errno != ERANGE) {
      if (!std::isfinite(v)) {
        error(path_ + " must be a finite number, got '" + s + "'");
        return std::nullopt;
      }
      return v;
    }
  }
  error(path_ + " must be a number, got " + describe());
  return std::nullopt;
}

std::optional<long long> ConfigNode::as_integer() const {
  if ((node_.IsDefined() && node_.IsScalar())) {
    const std::string& s = node_.Scalar();
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size() && errno != ERANGE) return v;
    // Accept integral floating notation such as 1e6.
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18)
      return static_cast<long long>(d);
  }
  error(path_ + " must be an integer, got " + describe());
  return std::nullopt;
}

std::optional<bool> ConfigNode::as_bool() const {
  if ((node_.IsDefined() && node_.IsScalar())) {
    const std::string& s = node_.Scalar();
    if (s == "true" || s == "True" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "False" || s == "no" || s == "off") return false;
  }
  error(path_ + " must be true or false, got " + describe());
  return std::nullopt;
}

std::optional<std::string> ConfigNode::as_string() const {
  if ((node_.IsDefined() && node_.IsScalar())) return node_.Scalar();
  error(path_ + " must be a text value, got " + describe());
  return std::nullopt;
}

std::optional<std::string> ConfigNode::as_enum(const std::vector<std::string>& allowed) const {
  auto s = as_string();
  if (!s) return std::nullopt;
  for (const auto& a : allowed)
    if (a == *s) return s;
  std::string msg = path_ + " must be " + quoted_alternatives(allowed) + ", got '" + *s + "'";
  const std::string hint = closest_match(*s, allowed);
  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  error(msg);
  return std::nullopt;
}

std::optional<std::vector<double>> ConfigNode::as_number_list() const {
  if (!expect_sequence()) return std::nullopt;
  std::vector<double> out;
  bool ok = true;
  for (std::size_t i = 0; i < node_.size(); ++i) {
    auto v = (*this)[i].as_number();
    if (v) out.push_back(*v);
    ok = ok && v.has_value();
  }
  if (!ok) return std::nullopt;
  return out;
}

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

bool check_input_file(const std::string& path, const std::string& what, std::uintmax_t max_bytes,
                      Diagnostics& diagnostics) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    diagnostics.error({path, 0, 0}, "cannot open " + what + ": " + std::string(std::strerror(errno)));
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    diagnostics.error({path, 0, 0}, "is a folder, not a " + what + "; give a file" +
                                        (what == "scenario file" ? " (e.g. " + (path == "." ? std::string("scenarios") : path) + "/x.yaml)"
                                                                 : std::string()));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    diagnostics.error({path, 0, 0}, std::string("is not a regular file (") +
                                        (S_ISFIFO(st.st_mode)   ? "a FIFO"
                                         : S_ISCHR(st.st_mode)  ? "a character device"
                                         : S_ISBLK(st.st_mode)  ? "a block device"
                                         : S_ISSOCK(st.st_mode) ? "a socket"
                                                                : "not a file") +
                                        "); a " + what + " must be a file");
    return false;
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes) {
    diagnostics.error({path, 0, 0}, "is " + std::to_string(st.st_size) + " bytes; a " + what + " is at most " +
                                        std::to_string(max_bytes) + " bytes");
    return false;
  }
  return true;
}

std::optional<YAML::Node> load_yaml_file(const std::string& path, Diagnostics& diagnostics, const std::string& what) {
  // What the path is, before opening it: a FIFO would block and a device never end.
  if (!check_input_file(path, what, kMaxYamlFileBytes, diagnostics)) return std::nullopt;
  std::ifstream in(path);
  if (!in) {
    diagnostics.error({path, 0, 0}, "cannot open " + what + ": " + std::string(std::strerror(errno)));
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    YAML::Node root = YAML::Load(text.str());
    if (!root.IsDefined() || root.IsNull()) {
      diagnostics.error({path, 1, 1}, "the file is empty; a scenario is a mapping of keys to values");
      return std::nullopt;
    }
    const std::size_t before = diagnostics.error_count();
    check_duplicate_keys(root, path, diagnostics);
    if (diagnostics.error_count() > before) return std::nullopt;
    return root;
  } catch (const YAML::Exception& e) {
    diagnostics.error({path, e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
    return std::nullopt;
  }
}

namespace {

// Visits every node once (an alias's target is entered at its first use only, so a file of
// nested aliases cannot make the walk explode), with the key path of each use.
void visit_uses(const YAML::Node& node, const std::string& path, std::map<std::size_t, std::vector<std::string>>& uses,
                const std::function<void(const YAML::Node&, const std::string&)>& on_map) {
  const YAML::Mark mark = node.Mark();
  if (!mark.is_null()) {
    auto& u = uses[static_cast<std::size_t>(mark.pos)];
    u.push_back(path);
    if (u.size() > 1) return;
  }
  if (node.IsMap()) {
    on_map(node, path);
    for (const auto& kv : node) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      visit_uses(kv.second, path.empty() ? key : path + "." + key, uses, on_map);
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      visit_uses(node[i], path + "[" + std::to_string(i) + "]", uses, on_map);
  }
}

}  // namespace

void check_duplicate_keys(const YAML::Node& root, const std::string& file, Diagnostics& diagnostics,
                          const std::string& at) {
  std::map<std::size_t, std::vector<std::string>> uses;
  visit_uses(root, at, uses, [&](const YAML::Node& map, const std::string& path) {
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) continue;
      const std::string key = kv.first.Scalar();
      const YAML::Mark mark = kv.first.Mark();
      const auto [it, fresh] = seen.emplace(key, mark);
      if (fresh) continue;
      diagnostics.error({file, mark.line + 1, mark.column + 1},
                        "duplicate key '" + key + "' in " + (path.empty() ? std::string("the file") : path) +
                            " (first at line " + std::to_string(it->second.line + 1) + ", column " +
                            std::to_string(it->second.column + 1) + "); a key may appear once in a mapping");
    }
  });
}

namespace {
// Splits "a.b[2].c" into steps; a step is a key or an index.
struct Step {
  std::string key;
  long index = -1;
};
bool parse_path(const std::string& path, std::vector<Step>& steps) {
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '[') {
      const std::size_t close = path.find(']', i);
      if (close == std::string::npos) return false;
      const std::string num = path.substr(i + 1, close - i - 1);
      if (num.empty() || num.size() > 9 || num.find_first_not_of("0123456789") != std::string::npos) return false;
      steps.push_back({"", std::stol(num)});
      i = close + 1;
      if (i < path.size() && path[i] == '.') ++i;
    } else {
      std::size_t end = path.find_first_of(".[", i);
      if (end == std::string::npos) end = path.size();
      if (end == i) return false;
      steps.push_back({path.substr(i, end - i), -1});
      i = end;
      if (i < path.size() && path[i] == '.') ++i;
    }
  }
  return !steps.empty();
}
}  // namespace

std::string override_path(const std::string& assignment) { return assignment.substr(0, assignment.find('=')); }

bool apply_override(YAML::Node& root, const std::string& assignment, Diagnostics& diagnostics) {
  const std::size_t eq = assignment.find('=');
  std::vector<Step> steps;
  if (eq == std::string::npos || eq == 0 || !parse_path(assignment.substr(0, eq), steps)) {
    diagnostics.error({"--set", 0, 0},
                      "malformed override '" + assignment + "'; expected KEY=VALUE such as solver.rtol=1e-8");
    return false;
  }
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    diagnostics.error({"--set", 0, 0}, "override '" + assignment + "': invalid YAML value: " + e.msg);
    return false;
  }
  {
    // The value is YAML too: a key twice in it ({a: 1, a: 2}) is the same mistake as in a file.
    Diagnostics inner;
    check_duplicate_keys(value, "--set", inner, assignment.substr(0, eq));
    if (inner.has_errors()) {
      const std::string& m = inner.list().front().message;
      diagnostics.error({"--set", 0, 0}, "override '" + assignment + "': " + m.substr(0, m.find(" (first")) +
                                             "; a key may appear once in a mapping");
      return false;
    }
  }
  // Walk by reassignment of node handles (yaml-cpp nodes are references).
  std::vector<YAML::Node> chain{root};
  for (std::size_t s = 0; s + 1 < steps.size(); ++s) {
    YAML::Node cur = chain.back();
    if (steps[s].index >= 0) {
      if (!cur.IsSequence() || static_cast<std::size_t>(steps[s].index) >= cur.size()) {
        diagnostics.error({"--set", 0, 0}, "override '" + assignment + "': no list element [" +
                                               std::to_string(steps[s].index) + "] to set");
        return false;
      }
      chain.push_back(cur[steps[s].index]);
    } else {
      chain.push_back(cur[steps[s].key]);
    }
  }
  YAML::Node parent = chain.back();
  const Step& last = steps.back();
  if (last.index >= 0) {
    if (!parent.IsSequence() || static_cast<std::size_t>(last.index) >= parent.size()) {
      diagnostics.error({"--set", 0, 0},
                        "override '" + assignment + "': no list element [" + std::to_string(last.index) + "] to set");
      return false;
    }
    parent[last.index] = value;
  } else {
    parent[last.key] = value;
  }
  return true;
}

bool apply_overrides(YAML::Node& root, const std::vector<std::string>& assignments, const std::string& file,
                     Diagnostics& diagnostics) {
  // The key paths that are one of several uses of one node, with the others (from the file as
  // it was read, before any override).
  std::map<std::size_t, std::vector<std::string>> uses;
  visit_uses(root, "", uses, [](const YAML::Node&, const std::string&) {});
  std::map<std::string, const std::vector<std::string>*> shared;
  for (const auto& [pos, paths] : uses)
    if (paths.size() > 1)
      for (const auto& p : paths) shared[p] = &paths;
  bool ok = true;
  for (const auto& a : assignments) {
    std::vector<Step> steps;
    bool refused = false;
    if (!shared.empty() && parse_path(override_path(a), steps)) {
      std::string prefix;
      for (const auto& st : steps) {
        prefix += st.index >= 0 ? "[" + std::to_string(st.index) + "]" : (prefix.empty() ? "" : ".") + st.key;
        const auto it = shared.find(prefix);
        if (it == shared.end()) continue;
        std::string others;
        for (const auto& p : *it->second)
          if (p != prefix) others += (others.empty() ? "" : ", ") + p;
        diagnostics.error({"--set", 0, 0}, "override '" + a + "': " + prefix + " in " + file +
                                               " is a YAML anchor or alias shared with " + others +
                                               "; --set would change them all: write the values out in the file "
                                               "instead of the alias");
        refused = true;
        break;
      }
    }
    if (refused) {
      ok = false;
      continue;
    }
    ok = apply_override(root, a, diagnostics) && ok;
  }
  return ok;
}

}  // namespace physynth::core
