// sampling.condition and its tuning keys (scenario.h, RareEventSpec), read after the labels.
#include <algorithm>
#include <string>
#include <vector>

#include "expression.h"
#include "scenario_readers.h"

namespace physynth::engine::detail {

namespace {

// The condition's one comparison at the top level (outside parentheses): its position and
// length, or npos with the reason.
struct Comparison {
  std::size_t at = std::string::npos, length = 0;
  std::string problem;
};

Comparison find_comparison(const std::string& text) {
  Comparison c;
  int depth = 0, found = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '(') ++depth;
    if (ch == ')') --depth;
    if (depth != 0) continue;
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if ((ch == '&' && next == '&') || (ch == '|' && next == '|') || ch == '?' || (ch == '=' && next == '=') ||
        (ch == '!' && next == '=')) {
      c.problem = "it must be one comparison, '<', '<=', '>' or '>=', of two expressions (found '" +
                  std::string(1, ch) + (ch == '?' ? "" : std::string(1, next)) +
                  "' outside parentheses); put a combined outcome into a label and compare that";
      return c;
    }
    if (ch == '<' || ch == '>') {
      ++found;
      c.at = i;
      c.length = next == '=' ? 2 : 1;
      if (c.length == 2) ++i;
    }
  }
  if (found != 1)
    c.problem = found == 0 ? "it must compare two expressions with '<', '<=', '>' or '>=' (e.g. \"life < 200\")"
                           : "it has " + std::to_string(found) + " comparisons outside parentheses; it must have one";
  return c;
}

}  // namespace

void read_rare_event(const ConfigNode& node, Scenario& s) {
  if (!node.is_map()) return;
  RareEventSpec& r = s.rare_event;
  const bool has = node.has("condition");
  for (const char* key : {"method", "level_probability", "samples_per_level", "max_levels"})
    if (node.has(key) && !has) node[key].error(node[key].path() + " applies only with sampling.condition");
  if (!has) return;
  const ConfigNode cn = node["condition"];
  const auto text = cn.as_string();
  if (!text) return;
  std::vector<std::string> variables;
  for (const auto& l : s.labels) variables.push_back(l.name);
  for (const auto& p : s.parameters) variables.push_back(p.name);
  const Comparison c = find_comparison(*text);
  if (!c.problem.empty()) {
    cn.error(cn.path() + ": '" + *text + "': " + c.problem);
    return;
  }
  r.lhs = text->substr(0, c.at);
  r.rhs = text->substr(c.at + c.length);
  r.greater = (*text)[c.at] == '>';
  r.inclusive = c.length == 2;
  for (const std::string* side : {&r.lhs, &r.rhs}) try {
      Expression e(*side, variables);
    } catch (const ExpressionSyntaxError& err) {
      const std::size_t start = side == &r.lhs ? 0 : c.at + c.length;
      cn.diagnostics().error(cn.location_at(start + err.offset()),
                             cn.path() + ": cannot evaluate '" + *side + "' of '" + *text + "': " + err.what() +
                                 "; it may use the labels and parameters: " + core::join(variables));
      return;
    }
  if (s.labels.empty())
    cn.error(cn.path() + ": the scenario has no labels (labels:); a condition is on the outcome of a sample");
  if (node.has("design"))
    if (auto d = node["design"].as_string(); d && *d != "random")
      node["design"].error(node["design"].path() + " '" + *d +
                           "' cannot be combined with sampling.condition: the rare-event sampler draws its own points");
  if (s.field.present) cn.error(cn.path() + ": a field's plots cannot be conditioned on an event");
  if (std::all_of(s.parameters.begin(), s.parameters.end(),
                  [](const ParameterSpec& p) { return p.distribution.is_fixed(); }))
    cn.error(cn.path() + ": no parameter is drawn from a distribution, so the event is certain or impossible");
  if (node.has("method"))
    if (auto m = node["method"].as_enum({"importance", "splitting"}))
      r.method = *m == "splitting" ? RareEventSpec::Method::kSplitting : RareEventSpec::Method::kImportance;
  if (node.has("level_probability") && r.method == RareEventSpec::Method::kImportance)
    node["level_probability"].error(node["level_probability"].path() +
                                    " applies to method splitting (importance sets its levels by the weights' "
                                    "coefficient of variation)");
  read_real(node, "level_probability", 0.0, 0.5, r.level_probability);
  read_int(node, "samples_per_level", 100, 100000000, r.samples_per_level);
  read_int(node, "max_levels", 1, 1000, r.max_levels);
  if (r.level_probability * static_cast<double>(r.samples_per_level) < 10.0)
    node.error(node.path() + ": level_probability x samples_per_level (" +
               format_number(r.level_probability * static_cast<double>(r.samples_per_level)) +
               ") must be at least 10: the samples that seed each level");
  r.condition = *text;
  r.present = true;
}

}  // namespace physynth::engine::detail
