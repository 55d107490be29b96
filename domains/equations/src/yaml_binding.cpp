#include "physynth/domains/equations/yaml_binding.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "physynth/core/expression_parser.h"
#include "physynth/core/parameter_table.h"
#include "physynth/domains/equations/equation_model.h"

namespace physynth::domains::equations {

namespace {

using core::ConfigNode;
using core::ExpressionError;
using core::ExpressionName;
using core::ParsedExpression;
using core::Tape;

// Marks an error already reported at its own place (a broken definition), so callers say nothing more.
const char* const kReported = "\x01";

struct Definition {
  std::string name;
  ConfigNode node;  // the expression's scalar
  std::optional<ParsedExpression> expression;
  core::VariableInfo info;
};

enum class Context { kDynamic, kInitial, kInvariant };

// Reads the section, then compiles expressions onto tapes, resolving names on demand.
class Binder {
 public:
  explicit Binder(const ConfigNode& model) : model_(model), diags_(model.diagnostics()) {}

  std::optional<core::BuiltModel> build();

 private:
  void read_states();
  void read_definitions();
  std::optional<ParsedExpression> parse(const ConfigNode& node);
  // Compiles `expr` (read from `node`) onto the tape; -1 after reporting.
  int compile(const ParsedExpression& expr, const ConfigNode& node, Tape& tape,
              Context context);
  int resolve(const ExpressionName& name, const ConfigNode& node, Tape& tape,
              Context context, ExpressionError* error);
  void read_invariants(EquationSystem& system);
  std::vector<std::string> symbols() const;

  const ConfigNode& model_;
  core::Diagnostics& diags_;
  core::ParameterTable params_;
  std::vector<core::VariableInfo> states_;
  std::vector<ConfigNode> state_nodes_;
  std::vector<char> nonnegative_;
  std::map<std::string, int> state_index_;
  std::vector<Definition> definitions_;
  std::map<std::string, int> definition_index_;
  // Per tape being compiled: definition -> slot, and the chain being compiled (for cycles).
  std::map<const Tape*, std::map<int, int>> memo_;
  std::vector<int> chain_;
  std::set<int> reported_;  // definitions whose errors are out
};

const std::set<std::string>& reserved_names() {
  static const std::set<std::string> names = [] {
    std::set<std::string> out = {"t", "pi"};
    for (const auto& f : core::expression_functions()) out.insert(f);
    return out;
  }();
  return names;
}

std::optional<ParsedExpression> Binder::parse(const ConfigNode& node) {
  if (!node.is_scalar()) {
    node.error(node.path() + " must be an expression (text or a number), got " + node.describe());
    return std::nullopt;
  }
  ExpressionError error;
  auto expr = ParsedExpression::parse(node.scalar(), &error);
  if (!expr)
    diags_.error(node.location_at(error.offset), node.path() + ": " + error.message + " in '" + node.scalar() + "'");
  return expr;
}

std::vector<std::string> Binder::symbols() const {
  std::vector<std::string> out;
  for (const auto& s : states_) out.push_back(s.name);
  for (const auto& d : definitions_) out.push_back(d.name);
  return out;
}

// A new name (a state or a definition) must be an identifier no other symbol or builtin uses.
bool check_new_name(const ConfigNode& node, const std::string& name, const std::string& kind,
                    const std::map<std::string, int>& states, const std::map<std::string, int>& definitions) {
  if (!core::is_identifier(name)) {
    node.error(node.path() + ": a " + kind + " name must be letters, digits and '_' (not starting with a digit), got '" +
               name + "'");
    return false;
  }
  if (reserved_names().count(name)) {
    node.error(node.path() + ": '" + name + "' is reserved (t is time, pi is pi, and the functions " +
               core::join(core::expression_functions()) + "); choose another " + kind + " name");
    return false;
  }
  if (states.count(name) || definitions.count(name)) {
    node.error(node.path() + ": '" + name + "' is declared twice (" + (states.count(name) ? "as a state" : "as a definition") +
               " already)");
    return false;
  }
  return true;
}

void Binder::read_states() {
  if (!model_.require("states") || !model_["states"].expect_sequence()) return;
  const ConfigNode list = model_["states"];
  if (list.size() == 0) list.error(list.path() + " must list at least one state");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const ConfigNode st = list[i];
    if (!st.expect_map()) continue;
    st.check_keys({"name", "units", "initial", "nonnegative", "description"});
    core::VariableInfo info;
    if (!st.require("name")) continue;
    const auto name = st["name"].as_string();
    if (!name || !check_new_name(st["name"], *name, "state", state_index_, definition_index_)) continue;
    info.name = *name;
    if (st.has("units"))
      if (auto u = st["units"].as_string()) info.units = *u;
    if (st.has("description"))
      if (auto u = st["description"].as_string()) info.description = *u;
    char nonneg = 0;
    if (st.has("nonnegative"))
      if (auto b = st["nonnegative"].as_bool()) nonneg = *b ? 1 : 0;
    st.require("initial");
    state_index_[info.name] = static_cast<int>(states_.size());
    states_.push_back(info);
    state_nodes_.push_back(st);
    nonnegative_.push_back(nonneg);
  }
}

void Binder::read_definitions() {
  if (!model_.has("definitions") || !model_["definitions"].expect_map()) return;
  const ConfigNode map = model_["definitions"];
  for (const auto& key : map.keys()) {
    const ConfigNode entry = map[key];
    Definition d{key, entry, std::nullopt, {key, "", ""}};
    if (entry.is_map()) {
      entry.check_keys({"value", "units", "description"});
      if (!entry.require("value")) continue;
      d.node = entry["value"];
      if (entry.has("units"))
        if (auto u = entry["units"].as_string()) d.info.units = *u;
      if (entry.has("description"))
        if (auto u = entry["description"].as_string()) d.info.description = *u;
    }
    if (!check_new_name(entry, key, "definition", state_index_, definition_index_)) continue;
    d.expression = parse(d.node);
    definition_index_[key] = static_cast<int>(definitions_.size());
    definitions_.push_back(std::move(d));
  }
}

int Binder::resolve(const ExpressionName& name, const ConfigNode& node, Tape& tape,
                    Context context, ExpressionError* error) {
  auto refuse = [&](const std::string& message) {
    *error = {name.offset, message};
    return -1;
  };
  if (name.name == "t") {
    if (context == Context::kInitial) return refuse("an initial value holds at the start and cannot read time 't'");
    if (context == Context::kInvariant) return refuse("an invariant holds at every time and cannot read time 't'");
    return tape.time();
  }
  if (name.name == "pi") return tape.constant(M_PI);
  if (auto it = state_index_.find(name.name); it != state_index_.end()) {
    if (context == Context::kInitial)
      return refuse("an initial value may use parameters only, not the state '" + name.name + "'");
    return tape.state(it->second);
  }
  if (auto it = definition_index_.find(name.name); it != definition_index_.end()) {
    const int index = it->second;
    auto& memo = memo_[&tape];
    if (auto m = memo.find(index); m != memo.end()) return m->second;
    if (std::find(chain_.begin(), chain_.end(), index) != chain_.end()) {
      // A cycle is reported once, at the definition where it starts, with its members.
      std::string cycle;
      bool known = false;
      for (auto k = std::find(chain_.begin(), chain_.end(), index); k != chain_.end(); ++k) {
        cycle += definitions_[static_cast<std::size_t>(*k)].name + " -> ";
        known |= !reported_.insert(*k).second;
      }
      const Definition& start = definitions_[static_cast<std::size_t>(index)];
      if (!known)
        diags_.error(start.node.location_at(0),
                     start.node.path() + ": definition '" + name.name + "' depends on itself: " + cycle + name.name);
      return refuse(kReported);
    }
    Definition& d = definitions_[static_cast<std::size_t>(index)];
    if (!d.expression) return refuse(kReported);  // its syntax error is out
    chain_.push_back(index);
    ExpressionError inner;
    const int slot = d.expression->compile(
        tape,
        [&](const ExpressionName& n, ExpressionError* e) {
          return resolve(n, d.node, tape, context, e);
        },
        &inner);
    chain_.pop_back();
    if (slot < 0) {
      if (inner.message == kReported) return refuse(kReported);
      // What the context forbids (a state in an initial value, t in an invariant) is reported
      // where the definition is used.
      return refuse("'" + name.name + "' cannot be used here: " + inner.message);
    }
    memo[index] = slot;
    return slot;
  }
  // Anything else is a parameter of the scenario.
  const int k = params_.named(name.name, node.location_at(name.offset), node.path());
  auto& ref = params_.refs[static_cast<std::size_t>(k)];
  if (ref.did_you_mean.empty()) ref.did_you_mean = core::closest_match(name.name, symbols());
  return tape.parameter(k);
}

int Binder::compile(const ParsedExpression& expr, const ConfigNode& node, Tape& tape,
                    Context context) {
  ExpressionError error;
  const int slot = expr.compile(
      tape, [&](const ExpressionName& n, ExpressionError* e) { return resolve(n, node, tape, context, e); },
      &error);
  if (slot < 0 && error.message != kReported)
    diags_.error(node.location_at(error.offset), node.path() + ": " + error.message + " in '" + expr.text() + "'");
  return slot;
}

// The weights of an invariant that is linear in the states, each weight a constant or a
// constant times one parameter (core::LinearInvariant's form), read off the tape's structure.
struct LinearForm {
  enum class Kind { kConstant, kParameter, kOtherParameters, kLinear, kNonlinear, kTime } kind = Kind::kConstant;
  double value = 0.0;  // kConstant; kParameter: the factor
  int parameter = -1;  // kParameter
  std::map<int, std::pair<double, int>> terms;  // kLinear: state -> (weight, parameter or -1)
};

LinearForm form(LinearForm::Kind kind, double value = 0.0, int parameter = -1) {
  LinearForm f;
  f.kind = kind;
  f.value = value;
  f.parameter = parameter;
  return f;
}

LinearForm scaled(LinearForm f, double c, int parameter) {
  for (auto& [state, term] : f.terms) {
    term.first *= c;
    if (parameter >= 0) {
      if (term.second >= 0) return form(LinearForm::Kind::kNonlinear);
      term.second = parameter;
    }
  }
  return f;
}

LinearForm linear_form(const Tape& tape, int slot, std::vector<std::optional<LinearForm>>& memo) {
  using K = LinearForm::Kind;
  if (memo[static_cast<std::size_t>(slot)]) return *memo[static_cast<std::size_t>(slot)];
  const core::Instruction& in = tape.code()[static_cast<std::size_t>(slot)];
  auto arg = [&](int s) { return linear_form(tape, s, memo); };
  auto p_only = [](const LinearForm& f) {
    return f.kind == K::kConstant || f.kind == K::kParameter || f.kind == K::kOtherParameters;
  };
  LinearForm out;
  switch (in.op) {
    case core::Op::kConstant:
      out = form(K::kConstant, in.value);
      break;
    case core::Op::kTime:
      out = form(K::kTime);
      break;
    case core::Op::kParameter:
      out = form(K::kParameter, 1.0, in.a);
      break;
    case core::Op::kState:
      out.kind = K::kLinear;
      out.terms[in.a] = {1.0, -1};
      break;
    case core::Op::kNeg: {
      const LinearForm a = arg(in.a);
      if (a.kind == K::kLinear) out = scaled(a, -1.0, -1);
      else if (a.kind == K::kConstant || a.kind == K::kParameter) out = form(a.kind, -a.value, a.parameter);
      else out = a;
      break;
    }
    case core::Op::kAdd:
    case core::Op::kSub: {
      const LinearForm a = arg(in.a), b = in.op == core::Op::kSub ? scaled(arg(in.b), -1.0, -1) : arg(in.b);
      if (a.kind == K::kTime || b.kind == K::kTime) out = form(K::kTime);
      else if (a.kind == K::kNonlinear || b.kind == K::kNonlinear) out = form(K::kNonlinear);
      else if (a.kind == K::kLinear || b.kind == K::kLinear) {
        // An offset independent of the states does not change whether the sum is constant.
        out.kind = K::kLinear;
        for (const LinearForm* f : {&a, &b})
          if (f->kind == K::kLinear)
            for (const auto& [state, term] : f->terms) {
              auto it = out.terms.find(state);
              if (it == out.terms.end()) out.terms[state] = term;
              else if (it->second.second == term.second) it->second.first += term.first;
              else out = form(K::kNonlinear);
              if (out.kind == K::kNonlinear) break;
            }
      } else if (a.kind == K::kConstant && b.kind == K::kConstant) {
        out = form(K::kConstant, in.op == core::Op::kSub ? a.value - arg(in.b).value : a.value + b.value);
      } else {
        out = form(K::kOtherParameters);
      }
      break;
    }
    case core::Op::kMul:
    case core::Op::kDiv: {
      const LinearForm a = arg(in.a), b = arg(in.b);
      if (a.kind == K::kTime || b.kind == K::kTime) out = form(K::kTime);
      else if (p_only(a) && p_only(b)) {
        if (a.kind == K::kConstant && b.kind == K::kConstant)
          out = form(K::kConstant, in.op == core::Op::kMul ? a.value * b.value : a.value / b.value);
        else if (in.op == core::Op::kMul && a.kind == K::kConstant && b.kind == K::kParameter)
          out = form(K::kParameter, a.value * b.value, b.parameter);
        else if (a.kind == K::kParameter && b.kind == K::kConstant)
          out = form(K::kParameter, in.op == core::Op::kMul ? a.value * b.value : a.value / b.value, a.parameter);
        else out = form(K::kOtherParameters);
      } else if (a.kind == K::kLinear && (b.kind == K::kConstant || (b.kind == K::kParameter && in.op == core::Op::kMul))) {
        out = in.op == core::Op::kMul ? scaled(a, b.value, b.kind == K::kParameter ? b.parameter : -1)
                                      : scaled(a, 1.0 / b.value, -1);
      } else if (in.op == core::Op::kMul && b.kind == K::kLinear && (a.kind == K::kConstant || a.kind == K::kParameter)) {
        out = scaled(b, a.value, a.kind == K::kParameter ? a.parameter : -1);
      } else {
        out = form(K::kNonlinear);
      }
      break;
    }
    default: {
      // Any other operation of states is not linear; of parameters alone it is a coefficient
      // this form cannot carry (unless it multiplies nothing).
      bool state = false, time = false;
      for (int operand : {in.a, in.b, in.c})
        if (operand >= 0 && !(in.op == core::Op::kPowInt && operand == in.b)) {
          const LinearForm f = arg(operand);
          state |= f.kind == K::kLinear || f.kind == K::kNonlinear;
          time |= f.kind == K::kTime;
        }
      out = form(time ? K::kTime : state ? K::kNonlinear : K::kOtherParameters);
    }
  }
  memo[static_cast<std::size_t>(slot)] = out;
  return out;
}

void Binder::read_invariants(EquationSystem& system) {
  if (!model_.has("invariants") || !model_["invariants"].expect_sequence()) return;
  const ConfigNode list = model_["invariants"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    const ConfigNode entry = list[i];
    if (!entry.expect_map()) continue;
    entry.check_keys({"name", "expression"});
    std::string name = "invariant " + std::to_string(i + 1);
    if (entry.has("name"))
      if (auto s = entry["name"].as_string()) name = *s;
    if (!entry.require("expression")) continue;
    auto expr = parse(entry["expression"]);
    if (!expr) continue;
    Tape tape;
    const int slot = compile(*expr, entry["expression"], tape, Context::kInvariant);
    memo_.erase(&tape);
    if (slot < 0) continue;
    std::vector<std::optional<LinearForm>> memo(tape.size());
    const LinearForm form = linear_form(tape, slot, memo);
    if (form.kind != LinearForm::Kind::kLinear || form.terms.empty()) {
      entry["expression"].error(
          entry["expression"].path() + ": invariant '" + name + "' (" + expr->text() + ") " +
          (form.kind == LinearForm::Kind::kNonlinear
               ? "is not linear in the states"
               : "does not involve any state") +
          "; the audit checks invariants that are sums of states times constants or times one parameter each "
          "(\"Q + L\", \"V * c + n\")");
      continue;
    }
    core::LinearInvariant law;
    law.description = name + " (" + expr->text() + ")";
    law.weights.assign(states_.size(), 0.0);
    law.weight_parameter.assign(states_.size(), -1);
    for (const auto& [state, term] : form.terms) {
      law.weights[static_cast<std::size_t>(state)] = term.first;
      law.weight_parameter[static_cast<std::size_t>(state)] = term.second;
    }
    system.invariants.push_back(std::move(law));
  }
}

std::optional<core::BuiltModel> Binder::build() {
  const std::size_t errors_before = diags_.error_count();
  if (!model_.expect_map()) return std::nullopt;
  model_.check_keys({"name", "states", "definitions", "equations", "invariants", "schedule"});
  EquationSystem system;
  system.name = "equations";
  if (model_.has("name"))
    if (auto s = model_["name"].as_string()) system.name = *s;
  read_states();
  read_definitions();

  // Initial values, from the parameters alone.
  for (std::size_t i = 0; i < states_.size(); ++i) {
    const ConfigNode init = state_nodes_[i]["initial"];
    int slot = -1;
    if (init.defined())
      if (auto expr = parse(init))
        slot = compile(*expr, init, system.initial, Context::kInitial);
    system.initial.add_output(slot < 0 ? system.initial.constant(0.0) : slot);
  }

  // One derivative per state.
  std::vector<int> derivative(states_.size(), -1);
  if (model_.require("equations") && model_["equations"].expect_map()) {
    const ConfigNode eqs = model_["equations"];
    std::vector<std::string> expected;
    for (const auto& s : states_) expected.push_back("d" + s.name + "/dt");
    for (const auto& key : eqs.keys()) {
      const bool shaped = key.size() > 4 && key[0] == 'd' && key.compare(key.size() - 3, 3, "/dt") == 0;
      const std::string state = shaped ? key.substr(1, key.size() - 4) : "";
      auto it = state_index_.find(state);
      if (it == state_index_.end()) {
        const std::string hint = core::closest_match(key, expected);
        eqs[key].error(eqs.path() + ": '" + key + "' is not the derivative of a state" +
                       (shaped ? " ('" + state + "' is not declared in states)" : " (write d<state>/dt)") +
                       "; expected " + core::join(expected) + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
        continue;
      }
      auto expr = parse(eqs[key]);
      if (!expr) continue;
      derivative[static_cast<std::size_t>(it->second)] =
          compile(*expr, eqs[key], system.rhs, Context::kDynamic);
    }
    for (std::size_t i = 0; i < states_.size(); ++i)
      if (!eqs.has(expected[i]))
        eqs.error(eqs.path() + ": state '" + states_[i].name + "' has no equation; add '" + expected[i] +
                  ": ...' (write 0 for a state that stays constant)");
  }
  for (std::size_t i = 0; i < states_.size(); ++i)
    system.rhs.add_output(derivative[i] < 0 ? system.rhs.constant(0.0) : derivative[i]);

  // Every definition, observable as a feature.
  for (std::size_t k = 0; k < definitions_.size(); ++k) {
    const Definition& d = definitions_[k];
    system.definitions.push_back(d.info);
    int slot = -1;
    ExpressionError error;
    if (d.expression)
      slot = resolve({d.name, 0}, d.node, system.definition_values, Context::kDynamic,
                     &error);
    system.definition_values.add_output(slot < 0 ? system.definition_values.constant(0.0) : slot);
  }

  read_invariants(system);
  if (diags_.error_count() > errors_before) return std::nullopt;

  system.states = states_;
  system.nonnegative = nonnegative_;
  system.parameters = params_.info;
  std::shared_ptr<const core::Model> built = std::make_shared<EquationModel>(std::move(system));
  if (model_.has("schedule")) built = core::read_schedule(model_, built, params_);
  if (diags_.error_count() > errors_before) return std::nullopt;
  return core::BuiltModel{built, params_.refs};
}

}  // namespace

bool is_equation_model(const ConfigNode& model) { return model.is_map() && model.has("equations"); }

std::optional<core::BuiltModel> build_from_yaml(const ConfigNode& model) { return Binder(model).build(); }

}  // namespace physynth::domains::equations
