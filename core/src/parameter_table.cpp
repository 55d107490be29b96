#include "physynth/core/parameter_table.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "physynth/core/scheduled_model.h"

namespace physynth::core {

void ParameterTable::seed(const VariableInfo& parameter, double value, const ConfigNode& node) {
  by_name[parameter.name] = static_cast<int>(info.size());
  info.push_back(parameter);
  refs.push_back({value, true, node.location(), node.path(), ""});
}

int ParameterTable::resolve(const ConfigNode& node, const std::string& literal_name, bool must_be_positive) {
  if (!node.is_scalar()) {
    node.error(node.path() + " must be a number or a parameter name, got " + node.describe());
    return -1;
  }
  const std::string text = node.scalar();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size()) {
    if (!(v >= 0.0) || (must_be_positive && v == 0.0)) {
      node.error(node.path() + " must be " + (must_be_positive ? "> 0" : ">= 0") + ", got " + text);
      return -1;
    }
    info.push_back({literal_name, "", "written in the model section"});
    refs.push_back({v, false, node.location(), node.path(), ""});
    return static_cast<int>(info.size()) - 1;
  }
  if (!is_identifier(text)) {
    node.error(node.path() + " must be a number or a parameter name, got '" + text + "'");
    return -1;
  }
  return named(text, node.location(), node.path());
}

int ParameterTable::named(const std::string& name, const SourceLocation& where, const std::string& referenced_by) {
  auto it = by_name.find(name);
  if (it != by_name.end()) return it->second;
  info.push_back({name, "", ""});
  refs.push_back({std::nullopt, false, where, referenced_by, ""});
  by_name[name] = static_cast<int>(info.size()) - 1;
  return static_cast<int>(info.size()) - 1;
}

// `schedule:` changes of the state at given times, as a ScheduledModel around `inner`.
std::shared_ptr<const Model> read_schedule(const ConfigNode& model, std::shared_ptr<const Model> inner,
                                           ParameterTable& params) {
  const ConfigNode list = model["schedule"];
  if (!list.expect_sequence()) return inner;
  std::vector<std::string> state_names;
  for (const auto& st : inner->states()) state_names.push_back(st.name);
  std::vector<ScheduledChange> changes;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const ConfigNode entry = list[i];
    if (!entry.expect_map()) continue;
    entry.check_keys({"at", "every", "count", "set", "add"});
    ScheduledChange c;
    const std::string label = "schedule[" + std::to_string(i) + "]";
    if (entry.require("at")) c.at = params.resolve(entry["at"], label + ".at", false);
    if (entry.has("every")) c.every = params.resolve(entry["every"], label + ".every", true);
    if (entry.has("count"))
      if (auto n = entry["count"].as_number()) {
        if (*n >= 1 && *n == std::floor(*n) && *n <= 1e6)
          c.count = static_cast<int>(*n);
        else
          entry["count"].error(entry["count"].path() + " must be a whole number >= 1, got " + entry["count"].scalar());
      }
    if (entry.has("count") && !entry.has("every"))
      entry["count"].error(entry["count"].path() + " needs 'every' (the time between changes)");
    if (!entry.has("set") && !entry.has("add"))
      entry.error(entry.path() + " needs 'set' (new values) or 'add' (amounts added), a mapping of states to values");
    for (const char* kind : {"set", "add"}) {
      if (!entry.has(kind) || !entry[kind].expect_map()) continue;
      const ConfigNode targets = entry[kind];
      for (const auto& key : targets.keys()) {
        ScheduledChange::Target target;
        target.add = std::string(kind) == "add";
        target.state = inner->state_index(key);
        if (target.state < 0) {
          const std::string hint = closest_match(key, state_names);
          targets.error(targets.path() + ": '" + key + "' is not a state of the model; states are " +
                        join(state_names) + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
          continue;
        }
        target.value = params.resolve(targets[key], label + "." + kind + "." + key, false);
        c.targets.push_back(target);
      }
    }
    changes.push_back(std::move(c));
  }
  const std::size_t m = inner->num_parameters();
  std::vector<VariableInfo> extra(params.info.begin() + static_cast<long>(std::min(m, params.info.size())),
                                        params.info.end());
  return std::make_shared<ScheduledModel>(std::move(inner), std::move(extra), std::move(changes));
}

}  // namespace physynth::core
