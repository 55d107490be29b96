// Strict reading of YAML input with complete diagnostics.
//
// ConfigNode wraps a YAML node with its key path ("solver.rtol",
// "sensors[0].name") and the file it came from. Accessors never throw: a value
// of the wrong type, a missing required key or an unknown key becomes a
// diagnostic with file:line:column, and reading goes on so that every problem
// in a file is reported at once.
#pragma once

#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "physynth/core/diagnostics.h"

namespace physynth::core {

class ConfigNode {
 public:
  // `overridden` lists key paths set on the command line ("solver.rtol"); nodes
  // at or below them are reported as "--set" rather than at a file position.
  ConfigNode(YAML::Node node, std::string path, std::string file, Diagnostics* diagnostics,
             std::shared_ptr<const std::vector<std::string>> overridden = nullptr);

  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  Diagnostics& diagnostics() const { return *diagnostics_; }
  const YAML::Node& yaml() const { return node_; }
  SourceLocation location() const;
  // Where character `offset` of this scalar's text is in the file: its column, past an opening
  // quote. A block scalar ('|', '>') or a --set value is reported at the node.
  SourceLocation location_at(std::size_t offset) const;

  bool defined() const { return node_.IsDefined() && !node_.IsNull(); }
  bool is_map() const { return node_.IsDefined() && node_.IsMap(); }
  bool is_sequence() const { return node_.IsDefined() && node_.IsSequence(); }
  bool is_scalar() const { return node_.IsDefined() && node_.IsScalar(); }
  std::string scalar() const { return is_scalar() ? node_.Scalar() : std::string(); }
  std::size_t size() const { return node_.IsDefined() ? node_.size() : 0; }
  // "a mapping", "a list", "'text'" or "nothing", for messages.
  std::string describe() const;

  // Reports an error at this node.
  void error(const std::string& message) const;
  void warning(const std::string& message) const;

  bool has(const std::string& key) const;
  ConfigNode operator[](const std::string& key) const;
  ConfigNode operator[](std::size_t index) const;
  std::vector<std::string> keys() const;  // in file order

  // Errors unless this node is a mapping / list; return whether it is.
  bool expect_map() const;
  bool expect_sequence() const;
  // An error for every key not in `allowed`, with a "did you mean" hint.
  void check_keys(const std::vector<std::string>& allowed) const;
  // An error if `key` is absent; returns whether it is present.
  bool require(const std::string& key) const;

  // Typed reads of this scalar node; nullopt (and an error) if it is not one.
  std::optional<double> as_number() const;
  std::optional<long long> as_integer() const;
  std::optional<bool> as_bool() const;
  std::optional<std::string> as_string() const;
  // One of `allowed`; an error listing them otherwise.
  std::optional<std::string> as_enum(const std::vector<std::string>& allowed) const;
  std::optional<std::vector<double>> as_number_list() const;

 private:
  YAML::Node node_;
  std::string path_;
  std::string file_;
  Diagnostics* diagnostics_;
  SourceLocation fallback_;  // where to report when node_ is absent
  std::shared_ptr<const std::vector<std::string>> overridden_;
};

// Whether s is a name a user may give a species, parameter or channel: letters,
// digits and '_', not starting with a digit. Names physynth generates for the
// literals of a model section contain a '.', so they never are.
bool is_identifier(const std::string& s);

// The largest YAML file physynth reads (a scenario, a PEtab or PCSE file): 16 MiB.
inline constexpr std::uintmax_t kMaxYamlFileBytes = 16u << 20;
// The largest data file a reader takes whole (a real-data CSV, a weather file, a PEtab table, an
// SBML model): 1 GiB.
inline constexpr std::uintmax_t kMaxInputFileBytes = std::uintmax_t{1} << 30;

// Whether `path` is a file a reader can take: a regular file (not a folder, a FIFO, which would
// block, or a device, which never ends) of at most max_bytes. Otherwise reports why, as `what`
// ("scenario file", "real-data file" ...), and returns false. Nothing is opened.
bool check_input_file(const std::string& path, const std::string& what, std::uintmax_t max_bytes,
                      Diagnostics& diagnostics);

// Loads a YAML file strictly. Reported, with nullopt returned: a path that is not a regular file
// (a folder, a FIFO, a device) or is larger than kMaxYamlFileBytes, a missing or unreadable
// file, a syntax error, and a key given twice in one mapping at any depth, block or flow style
// (both places named).
std::optional<YAML::Node> load_yaml_file(const std::string& path, Diagnostics& diagnostics,
                                         const std::string& what = "scenario file");
// The duplicate-key check load_yaml_file makes, for a tree parsed from text (file names it);
// `at` is the key path of the tree's root ("" for a whole file).
void check_duplicate_keys(const YAML::Node& root, const std::string& file, Diagnostics& diagnostics,
                          const std::string& at = "");

// Applies a command-line override "a.b[2].c=value" to a YAML tree (the value is
// parsed as YAML). Reports malformed overrides and returns false.
bool apply_override(YAML::Node& root, const std::string& assignment, Diagnostics& diagnostics);
// Applies overrides in order to a tree as loaded from `file`. An override whose key, or a key on
// its way, is one use of a node shared through a YAML anchor and aliases (&u ... *u) is refused
// with the other uses named: changing it would change them all.
bool apply_overrides(YAML::Node& root, const std::vector<std::string>& assignments, const std::string& file,
                     Diagnostics& diagnostics);
// The key path of an override ("solver.rtol" for "solver.rtol=1e-8").
std::string override_path(const std::string& assignment);

}  // namespace physynth::core
