#include "physynth/domains/kinetics/sbml_model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include <sbml/SBMLTypes.h>
#include <sbml/extension/SBasePlugin.h>
#include <sbml/math/L3Parser.h>
#include <sbml/math/L3ParserSettings.h>

#include "physynth/core/config.h"
#include "physynth/domains/kinetics/reaction_network.h"

namespace physynth::domains::kinetics {

namespace {

// SBML_formulaToL3String returns a malloc'ed string the caller frees.
std::string formula_text(const ASTNode* node) {
  char* text = SBML_formulaToL3String(node);
  std::string out = text ? text : "";
  free(text);
  return out;
}

using core::Op;
using core::Tape;

// The value SBML Level 3 Version 1 gives the avogadro csymbol.
constexpr double kAvogadro = 6.02214179e23;

enum class Context { kDynamic, kInitial };

struct Symbol {
  enum class Kind { kSpecies, kCompartment, kParameter, kReaction, kSpeciesReference };
  Kind kind = Kind::kParameter;
  std::string id;
  int line = 0;
  int state = -1;  // a state of the model
  int param = -1;  // index in p of its written value (value, size, initial amount or concentration)
  const ASTNode* assignment_rule = nullptr;
  const ASTNode* rate_rule = nullptr;
  const ASTNode* initial_assignment = nullptr;
  // species
  int compartment = -1;  // symbol index
  bool amount = false;   // hasOnlySubstanceUnits: the symbol is an amount
  bool written_as_concentration = false;
  bool boundary = false;
  bool constant = false;
  // reactions
  const ::Reaction* reaction = nullptr;
  double stoichiometry = 1.0;  // species references
};

struct EventInfo {
  std::string id;
  int line = 0;
  int time_output = -1;  // output of the trigger tape: the trigger time
  bool strict = false;   // time > E rather than time >= E
  bool initial_value = true;
  std::vector<std::pair<int, int>> assignments;  // (state, output of the jump tape)
};

}  // namespace

struct SbmlModel::Impl {
  std::string name, source;
  std::unique_ptr<SBMLDocument> document;
  std::vector<Symbol> symbols;
  std::map<std::string, int> by_id;
  std::map<std::string, const FunctionDefinition*> functions;
  std::vector<core::VariableInfo> states, parameters;
  std::vector<double> defaults;
  std::vector<int> state_symbol;  // symbol of each state
  std::vector<SbmlSpeciesInfo> species;
  std::vector<char> nonnegative;
  Tape rhs, init, trigger, jump;
  core::TimeSwitches switches;  // of rhs
  core::SparsityPattern sparsity;              // of rhs by the state, with the diagonal
  std::optional<core::ColumnColoring> coloring;  // where it saves Jet evaluations
  std::vector<EventInfo> events;
  std::vector<core::LinearInvariant> invariants;

  core::Diagnostics* diags = nullptr;
  bool failed = false;

  void error(const SBase* where, const std::string& message) {
    failed = true;
    if (diags) diags->error({source, where ? static_cast<int>(where->getLine()) : 0, 0}, message);
  }
  void error_at(int line, const std::string& message) {
    failed = true;
    if (diags) diags->error({source, line, 0}, message);
  }

  // ---- compilation of MathML onto a tape ----
  struct Compilation {
    Tape* tape;
    Context context;
    std::map<int, int> memo;  // symbol -> slot
    std::set<int> visiting;   // cycle detection
    const std::vector<std::string>* extra = nullptr;
    std::string error;           // first problem; compilation goes on returning -1
    bool function_body = false;  // inside a function definition: only its arguments are visible
  };
  using Scope = std::map<std::string, int>;  // local names -> slots (function arguments, local parameters)

  int fail(Compilation& c, const std::string& message) {
    if (c.error.empty()) c.error = message;
    return -1;
  }

  int resolve(Compilation& c, const std::string& id, const Scope& scope, const std::string& where) {
    if (auto it = scope.find(id); it != scope.end()) return it->second;
    if (c.function_body) return fail(c, where + ": '" + id + "' is not an argument of the function");
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      if (c.extra) {
        const auto& extra = *c.extra;
        for (std::size_t k = 0; k < extra.size(); ++k)
          if (extra[k] == id) return c.tape->parameter(static_cast<int>(parameters.size() + k));
      }
      std::vector<std::string> known;
      for (const auto& s : symbols) known.push_back(s.id);
      const std::string hint = core::closest_match(id, known);
      return fail(c, where + ": unknown symbol '" + id +
                         "' (not a species, compartment, parameter, reaction or local parameter)" +
                         (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
    const int index = it->second;
    if (auto m = c.memo.find(index); m != c.memo.end()) return m->second;
    if (c.visiting.count(index))
      return fail(c, where + ": '" + id + "' is defined in terms of itself (a cycle of rules)");
    c.visiting.insert(index);
    const int slot = value_of(c, index, where);
    c.visiting.erase(index);
    if (slot >= 0) c.memo[index] = slot;
    return slot;
  }

  int value_of(Compilation& c, int index, const std::string& where) {
    const Symbol& s = symbols[static_cast<std::size_t>(index)];
    const std::string what = "'" + s.id + "'";
    if (s.kind == Symbol::Kind::kReaction) {
      const KineticLaw* law = s.reaction->getKineticLaw();
      Scope local;
      for (unsigned k = 0; k < law->getNumParameters(); ++k) {
        const Parameter* lp = law->getParameter(k);
        local[lp->getId()] =
            c.tape->parameter(symbols[static_cast<std::size_t>(by_id.at(local_name(s.id, lp->getId())))].param);
      }
      return compile(c, law->getMath(), local, "reaction '" + s.id + "' kinetic law");
    }
    if (s.kind == Symbol::Kind::kSpeciesReference) return c.tape->constant(s.stoichiometry);
    if (c.context == Context::kDynamic) {
      if (s.state >= 0) return c.tape->state(s.state);
      if (s.assignment_rule) return compile(c, s.assignment_rule, {}, "assignment rule for " + what);
      // A constant: its initial assignment holds for all time.
      if (s.initial_assignment) {
        Compilation initial{c.tape, Context::kInitial, {}, {}, c.extra, {}};
        const int slot = compile(initial, s.initial_assignment, {}, "initial assignment to " + what);
        if (!initial.error.empty()) fail(c, initial.error);
        return slot;
      }
      if (s.param >= 0) return c.tape->parameter(s.param);
      return fail(c, where + ": " + what + " has no value (no value attribute, rule or initial assignment)");
    }
    // Initial context: values at t = 0.
    if (s.initial_assignment) return compile(c, s.initial_assignment, {}, "initial assignment to " + what);
    if (s.assignment_rule) return compile(c, s.assignment_rule, {}, "assignment rule for " + what);
    if (s.param < 0) return fail(c, where + ": " + what + " has no initial value");
    int slot = c.tape->parameter(s.param);
    if (s.kind == Symbol::Kind::kSpecies && s.written_as_concentration == s.amount) {
      // Written as a concentration but read as an amount (or the other way): convert with the volume.
      const int volume = resolve(c, symbols[static_cast<std::size_t>(s.compartment)].id, {}, where);
      if (volume < 0) return -1;
      slot = c.tape->binary(s.amount ? Op::kMul : Op::kDiv, slot, volume);
    }
    return slot;
  }

  static std::string local_name(const std::string& reaction, const std::string& local) {
    return reaction + "_" + local;
  }

  int fold(Compilation& c, Op op, const std::vector<int>& args) {
    int slot = args[0];
    for (std::size_t k = 1; k < args.size(); ++k) slot = c.tape->binary(op, slot, args[k]);
    return slot;
  }

  int truth(Compilation& c, int slot) {  // 1 if slot != 0
    return c.tape->unary(Op::kNot, c.tape->unary(Op::kNot, slot));
  }

  int compile(Compilation& c, const ASTNode* node, const Scope& scope, const std::string& where) {
    if (!node) return fail(c, where + ": no math");
    const ASTNodeType_t type = node->getType();
    const unsigned n = node->getNumChildren();
    std::vector<int> args;
    auto children = [&]() -> bool {
      args.clear();
      for (unsigned k = 0; k < n; ++k) {
        const int slot = compile(c, node->getChild(k), scope, where);
        if (slot < 0) return false;
        args.push_back(slot);
      }
      return true;
    };
    auto need = [&](unsigned count) -> bool {
      if (n == count) return true;
      fail(c, where + ": '" + std::string(node->getName() ? node->getName() : "operator") + "' needs " +
                  std::to_string(count) + " argument(s), got " + std::to_string(n));
      return false;
    };
    Tape& t = *c.tape;
    switch (type) {
      case AST_INTEGER:
      case AST_REAL:
      case AST_REAL_E:
      case AST_RATIONAL:
        return t.constant(node->getValue());
      case AST_CONSTANT_E:
        return t.constant(std::exp(1.0));
      case AST_CONSTANT_PI:
        return t.constant(M_PI);
      case AST_CONSTANT_TRUE:
        return t.constant(1.0);
      case AST_CONSTANT_FALSE:
        return t.constant(0.0);
      case AST_NAME_AVOGADRO:
        return t.constant(kAvogadro);
      case AST_NAME_TIME:
        return c.context == Context::kDynamic ? t.time() : t.constant(0.0);
      case AST_NAME:
        return resolve(c, node->getName(), scope, where);
      case AST_PLUS:
        if (n == 0) return t.constant(0.0);
        return children() ? fold(c, Op::kAdd, args) : -1;
      case AST_TIMES:
        if (n == 0) return t.constant(1.0);
        return children() ? fold(c, Op::kMul, args) : -1;
      case AST_MINUS:
        if (!children()) return -1;
        if (n == 1) return t.unary(Op::kNeg, args[0]);
        if (n != 2) return need(2), -1;
        return t.binary(Op::kSub, args[0], args[1]);
      case AST_DIVIDE:
        if (!need(2) || !children()) return -1;
        return t.binary(Op::kDiv, args[0], args[1]);
      case AST_POWER:
      case AST_FUNCTION_POWER: {
        if (!need(2) || !children()) return -1;
        double e = 0.0;
        if (t.is_constant(args[1], &e) && e == std::round(e) && std::fabs(e) <= 8)
          return t.power_int(args[0], static_cast<int>(e));
        return t.binary(Op::kPow, args[0], args[1]);
      }
      case AST_FUNCTION_ROOT: {
        if (!children()) return -1;
        if (n == 1) return t.unary(Op::kSqrt, args[0]);
        if (n != 2) return need(2), -1;
        double degree = 0.0;
        if (t.is_constant(args[0], &degree) && degree == 2.0) return t.unary(Op::kSqrt, args[1]);
        return t.binary(Op::kPow, args[1], t.binary(Op::kDiv, t.constant(1.0), args[0]));
      }
      case AST_FUNCTION_EXP:
        return need(1) && children() ? t.unary(Op::kExp, args[0]) : -1;
      case AST_FUNCTION_LN:
        return need(1) && children() ? t.unary(Op::kLog, args[0]) : -1;
      case AST_FUNCTION_LOG: {
        if (!children()) return -1;
        if (n == 1) return t.unary(Op::kLog10, args[0]);
        if (n != 2) return need(2), -1;
        double base = 0.0;
        if (t.is_constant(args[0], &base) && base == 10.0) return t.unary(Op::kLog10, args[1]);
        return t.binary(Op::kDiv, t.unary(Op::kLog, args[1]), t.unary(Op::kLog, args[0]));
      }
      case AST_FUNCTION_ABS:
        return need(1) && children() ? t.unary(Op::kAbs, args[0]) : -1;
      case AST_FUNCTION_FLOOR:
        return need(1) && children() ? t.unary(Op::kFloor, args[0]) : -1;
      case AST_FUNCTION_CEILING:
        return need(1) && children() ? t.unary(Op::kCeil, args[0]) : -1;
      case AST_FUNCTION_SIN:
        return need(1) && children() ? t.unary(Op::kSin, args[0]) : -1;
      case AST_FUNCTION_COS:
        return need(1) && children() ? t.unary(Op::kCos, args[0]) : -1;
      case AST_FUNCTION_TAN:
        return need(1) && children() ? t.unary(Op::kTan, args[0]) : -1;
      case AST_FUNCTION_SINH:
        return need(1) && children() ? t.unary(Op::kSinh, args[0]) : -1;
      case AST_FUNCTION_COSH:
        return need(1) && children() ? t.unary(Op::kCosh, args[0]) : -1;
      case AST_FUNCTION_TANH:
        return need(1) && children() ? t.unary(Op::kTanh, args[0]) : -1;
      case AST_FUNCTION_ARCSIN:
        return need(1) && children() ? t.unary(Op::kAsin, args[0]) : -1;
      case AST_FUNCTION_ARCCOS:
        return need(1) && children() ? t.unary(Op::kAcos, args[0]) : -1;
      case AST_FUNCTION_ARCTAN:
        return need(1) && children() ? t.unary(Op::kAtan, args[0]) : -1;
      case AST_FUNCTION_FACTORIAL:
        return need(1) && children() ? t.unary(Op::kFactorial, args[0]) : -1;
      case AST_FUNCTION_MAX:
      case AST_FUNCTION_MIN: {
        if (n == 0 || !children()) return n == 0 ? need(1), -1 : -1;
        int slot = args[0];
        for (std::size_t k = 1; k < args.size(); ++k) {
          const int less = t.binary(Op::kLess, slot, args[k]);
          slot = type == AST_FUNCTION_MAX ? t.select(less, args[k], slot) : t.select(less, slot, args[k]);
        }
        return slot;
      }
      case AST_RELATIONAL_LT:
      case AST_RELATIONAL_GT:
      case AST_RELATIONAL_LEQ:
      case AST_RELATIONAL_GEQ:
      case AST_RELATIONAL_EQ:
      case AST_RELATIONAL_NEQ: {
        if (n < 2 || !children()) return n < 2 ? need(2), -1 : -1;
        // A chain a < b < c holds when every neighbouring pair does.
        int result = -1;
        for (std::size_t k = 0; k + 1 < args.size(); ++k) {
          const int a = args[k], b = args[k + 1];
          int r = -1;
          switch (type) {
            case AST_RELATIONAL_LT:
              r = t.binary(Op::kLess, a, b);
              break;
            case AST_RELATIONAL_GT:
              r = t.binary(Op::kLess, b, a);
              break;
            case AST_RELATIONAL_LEQ:
              r = t.binary(Op::kLessEqual, a, b);
              break;
            case AST_RELATIONAL_GEQ:
              r = t.binary(Op::kLessEqual, b, a);
              break;
            case AST_RELATIONAL_EQ:
              r = t.binary(Op::kEqual, a, b);
              break;
            default:
              r = t.unary(Op::kNot, t.binary(Op::kEqual, a, b));
              break;
          }
          result = result < 0 ? r : t.binary(Op::kMul, result, r);
        }
        return result;
      }
      case AST_LOGICAL_AND:
        if (n == 0) return t.constant(1.0);
        if (!children()) return -1;
        for (int& a : args) a = truth(c, a);
        return fold(c, Op::kMul, args);
      case AST_LOGICAL_OR: {
        if (n == 0) return t.constant(0.0);
        if (!children()) return -1;
        // not(and(not a, not b, ...))
        for (int& a : args) a = t.unary(Op::kNot, a);
        return t.unary(Op::kNot, fold(c, Op::kMul, args));
      }
      case AST_LOGICAL_XOR: {
        if (n == 0) return t.constant(0.0);
        if (!children()) return -1;
        // parity: the sum of truths is odd
        for (int& a : args) a = truth(c, a);
        int sum = fold(c, Op::kAdd, args);
        const int half = t.unary(Op::kFloor, t.binary(Op::kDiv, sum, t.constant(2.0)));
        return t.binary(Op::kSub, sum, t.binary(Op::kMul, t.constant(2.0), half));
      }
      case AST_LOGICAL_NOT:
        return need(1) && children() ? t.unary(Op::kNot, args[0]) : -1;
      case AST_LOGICAL_IMPLIES:
        if (!need(2) || !children()) return -1;
        return t.unary(Op::kNot, t.binary(Op::kMul, truth(c, args[0]), t.unary(Op::kNot, args[1])));
      case AST_FUNCTION_PIECEWISE: {
        if (n == 0) return fail(c, where + ": piecewise without pieces");
        if (!children()) return -1;
        // piece(v1, c1), piece(v2, c2), ..., otherwise: the first piece whose condition holds.
        int slot = n % 2 == 1 ? args.back() : t.constant(std::numeric_limits<double>::quiet_NaN());
        for (int k = static_cast<int>(n / 2) - 1; k >= 0; --k) slot = t.select(args[2 * k + 1], args[2 * k], slot);
        return slot;
      }
      case AST_FUNCTION: {
        const std::string fname = node->getName() ? node->getName() : "";
        auto it = functions.find(fname);
        if (it == functions.end()) return fail(c, where + ": call of unknown function '" + fname + "'");
        const FunctionDefinition* fd = it->second;
        if (fd->getNumArguments() != n)
          return fail(c, where + ": function '" + fname + "' takes " + std::to_string(fd->getNumArguments()) +
                             " arguments, called with " + std::to_string(n));
        if (!children()) return -1;
        Scope arguments;
        for (unsigned k = 0; k < n; ++k) arguments[fd->getArgument(k)->getName()] = args[k];
        // A function's body sees its arguments and nothing of the model.
        return compile_function_body(c, fd->getBody(), arguments,
                                     "function '" + fname + "' (called from " + where + ")");
      }
      case AST_FUNCTION_DELAY:
        return fail(c, where + ": delay() is not supported (delay differential equations)");
      case AST_FUNCTION_RATE_OF:
        return fail(c, where + ": rateOf() is not supported");
      default: {
        const char* nm = node->getName();
        return fail(
            c, where + ": the MathML operator '" + (nm ? std::string(nm) : formula_text(node)) + "' is not supported");
      }
    }
  }

  int compile_function_body(Compilation& c, const ASTNode* body, const Scope& arguments, const std::string& where) {
    // Model symbols are hidden from function bodies: resolve only the arguments.
    const bool saved = c.function_body;
    c.function_body = true;
    const int slot = compile(c, body, arguments, where);
    c.function_body = saved;
    return slot;
  }

  // ---- building ----
  int add_symbol(Symbol s, const SBase* element) {
    if (by_id.count(s.id)) {
      error(element, "the id '" + s.id + "' is used twice");
      return -1;
    }
    s.line = static_cast<int>(element->getLine());
    symbols.push_back(std::move(s));
    by_id[symbols.back().id] = static_cast<int>(symbols.size()) - 1;
    return static_cast<int>(symbols.size()) - 1;
  }

  int add_parameter(const std::string& name, double value, const std::string& units, const std::string& description,
                    const SBase* element) {
    for (const auto& p : parameters)
      if (p.name == name) {
        error(element, "the parameter name '" + name + "' (made from an SBML id) is used twice");
        return -1;
      }
    parameters.push_back({name, units, description});
    defaults.push_back(value);
    return static_cast<int>(parameters.size()) - 1;
  }

  void build(const ::Model& m);
  // A model from a validated document, or nullptr after reporting why not.
  static std::shared_ptr<SbmlModel> compile(std::unique_ptr<SBMLDocument> doc, const std::string& source,
                                            core::Diagnostics& diags);
};

namespace {}  // namespace

void SbmlModel::Impl::build(const ::Model& m) {
  name = m.isSetId() ? m.getId() : "sbml_model";
  if (m.isSetConversionFactor()) error(&m, "model conversionFactor is not supported");

  for (unsigned i = 0; i < m.getNumFunctionDefinitions(); ++i) {
    const FunctionDefinition* fd = m.getFunctionDefinition(i);
    if (!fd->getBody()) error(fd, "function definition '" + fd->getId() + "' has no body");
    functions[fd->getId()] = fd;
  }

  // Rules and initial assignments, by the id they set.
  std::map<std::string, const Rule*> rules;
  for (unsigned i = 0; i < m.getNumRules(); ++i) {
    const Rule* r = m.getRule(i);
    if (r->isAlgebraic()) {
      error(r, "algebraic rules are not supported (they make the model a DAE)");
      continue;
    }
    rules[r->getVariable()] = r;
  }
  std::map<std::string, const InitialAssignment*> initial_assignments;
  for (unsigned i = 0; i < m.getNumInitialAssignments(); ++i)
    initial_assignments[m.getInitialAssignment(i)->getSymbol()] = m.getInitialAssignment(i);
  std::set<std::string> event_targets;
  for (unsigned i = 0; i < m.getNumEvents(); ++i)
    for (unsigned k = 0; k < m.getEvent(i)->getNumEventAssignments(); ++k)
      event_targets.insert(m.getEvent(i)->getEventAssignment(k)->getVariable());

  auto attach_rules = [&](Symbol& s) {
    if (auto it = rules.find(s.id); it != rules.end()) {
      (it->second->isAssignment() ? s.assignment_rule : s.rate_rule) = it->second->getMath();
      rules.erase(it);
    }
    if (auto it = initial_assignments.find(s.id); it != initial_assignments.end()) {
      s.initial_assignment = it->second->getMath();
      initial_assignments.erase(it);
    }
  };

  for (unsigned i = 0; i < m.getNumCompartments(); ++i) {
    const Compartment* c = m.getCompartment(i);
    Symbol s;
    s.kind = Symbol::Kind::kCompartment;
    s.id = c->getId();
    attach_rules(s);
    if (s.assignment_rule || s.rate_rule)
      error(c, "compartment '" + s.id + "' changes in time (a rule sets its size): not supported");
    if (event_targets.count(s.id)) error(c, "compartment '" + s.id + "' is changed by an event: not supported");
    if (!s.initial_assignment) {
      const double size = c->isSetSize() ? c->getSize() : (c->getSpatialDimensions() == 0 ? 1.0 : NAN);
      if (std::isnan(size)) error(c, "compartment '" + s.id + "' has no size");
      s.param = add_parameter(s.id, size, c->getUnits(), "size of compartment " + s.id, c);
    }
    add_symbol(std::move(s), c);
  }

  // Species first among the states, in document order.
  for (unsigned i = 0; i < m.getNumSpecies(); ++i) {
    const Species* sp = m.getSpecies(i);
    Symbol s;
    s.kind = Symbol::Kind::kSpecies;
    s.id = sp->getId();
    s.amount = sp->getHasOnlySubstanceUnits();
    s.boundary = sp->getBoundaryCondition();
    s.constant = sp->getConstant();
    if (sp->isSetConversionFactor()) error(sp, "species '" + s.id + "': conversionFactor is not supported");
    auto cit = by_id.find(sp->getCompartment());
    if (cit == by_id.end() || symbols[static_cast<std::size_t>(cit->second)].kind != Symbol::Kind::kCompartment) {
      error(sp, "species '" + s.id + "' is in compartment '" + sp->getCompartment() + "', which is not defined");
      continue;
    }
    s.compartment = cit->second;
    attach_rules(s);
    if (!s.initial_assignment && !s.assignment_rule) {
      double value = NAN;
      if (sp->isSetInitialAmount()) {
        value = sp->getInitialAmount();
      } else if (sp->isSetInitialConcentration()) {
        value = sp->getInitialConcentration();
        s.written_as_concentration = true;
      } else {
        error(sp, "species '" + s.id + "' has no initial amount, concentration or initial assignment");
      }
      s.param = add_parameter(
          s.id + "_0", value, sp->getSubstanceUnits(),
          std::string("initial ") + (s.written_as_concentration ? "concentration" : "amount") + " of " + s.id, sp);
    }
    if (!s.assignment_rule) {
      s.state = static_cast<int>(states.size());
      states.push_back({s.id, sp->getSubstanceUnits(), sp->getName()});
      state_symbol.push_back(static_cast<int>(symbols.size()));
    }
    species.push_back({s.id, sp->getCompartment(), s.amount, s.state, !s.initial_assignment && !s.assignment_rule,
                       s.written_as_concentration});
    add_symbol(std::move(s), sp);
  }

  for (unsigned i = 0; i < m.getNumParameters(); ++i) {
    const Parameter* p = m.getParameter(i);
    Symbol s;
    s.kind = Symbol::Kind::kParameter;
    s.id = p->getId();
    attach_rules(s);
    const bool is_state = s.rate_rule || event_targets.count(s.id);
    if (p->getConstant() && (s.rate_rule || s.assignment_rule))
      error(p, "parameter '" + s.id + "' is constant but a rule sets it");
    if (!s.initial_assignment && !s.assignment_rule) {
      if (!p->isSetValue()) error(p, "parameter '" + s.id + "' has no value, rule or initial assignment");
      s.param = add_parameter(is_state ? s.id + "_0" : s.id, p->isSetValue() ? p->getValue() : NAN, p->getUnits(),
                              is_state ? "initial value of " + s.id : p->getName(), p);
    }
    if (is_state) {
      s.state = static_cast<int>(states.size());
      states.push_back({s.id, p->getUnits(), p->getName()});
      state_symbol.push_back(static_cast<int>(symbols.size()));
    }
    add_symbol(std::move(s), p);
  }

  for (unsigned r = 0; r < m.getNumReactions(); ++r) {
    const ::Reaction* rx = m.getReaction(r);
    if (rx->isSetFast() && rx->getFast()) error(rx, "reaction '" + rx->getId() + "' is fast: not supported");
    if (!rx->isSetKineticLaw() || !rx->getKineticLaw()->isSetMath()) {
      error(rx, "reaction '" + rx->getId() + "' has no kinetic law");
      continue;
    }
    const KineticLaw* law = rx->getKineticLaw();
    for (unsigned k = 0; k < law->getNumParameters(); ++k) {
      const Parameter* lp = law->getParameter(k);
      Symbol s;
      s.kind = Symbol::Kind::kParameter;
      s.id = local_name(rx->getId(), lp->getId());
      s.param = add_parameter(s.id, lp->getValue(), lp->getUnits(),
                              "local parameter " + lp->getId() + " of reaction " + rx->getId(), lp);
      add_symbol(std::move(s), lp);
    }
    Symbol s;
    s.kind = Symbol::Kind::kReaction;
    s.id = rx->getId();
    s.reaction = rx;
    add_symbol(std::move(s), rx);
    auto references = [&](const SpeciesReference* ref) {
      if (ref->isSetStoichiometryMath())
        error(ref, "reaction '" + rx->getId() + "': stoichiometryMath is not supported");
      if (!ref->isSetId()) return;
      Symbol sr;
      sr.kind = Symbol::Kind::kSpeciesReference;
      sr.id = ref->getId();
      sr.stoichiometry = ref->isSetStoichiometry() ? ref->getStoichiometry() : 1.0;
      if (rules.count(sr.id) || initial_assignments.count(sr.id) || event_targets.count(sr.id))
        error(ref, "the stoichiometry '" + sr.id + "' is set by a rule, initial assignment or event: not supported");
      add_symbol(std::move(sr), ref);
    };
    for (unsigned k = 0; k < rx->getNumReactants(); ++k) references(rx->getReactant(k));
    for (unsigned k = 0; k < rx->getNumProducts(); ++k) references(rx->getProduct(k));
  }
  for (const auto& [id, rule] : rules)
    error(rule, "rule for '" + id + "': no species, compartment or parameter has this id");
  for (const auto& [id, ia] : initial_assignments)
    error(ia, "initial assignment to '" + id + "': no species, compartment or parameter has this id");
  if (failed) return;

  // ---- the right-hand side ----
  const std::size_t n = states.size();
  // Net stoichiometry of each species state (amount per unit of reaction extent).
  Eigen::MatrixXd N = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), m.getNumReactions());
  std::vector<const ::Reaction*> reactions;
  for (unsigned r = 0; r < m.getNumReactions(); ++r) {
    const ::Reaction* rx = m.getReaction(r);
    reactions.push_back(rx);
    auto add = [&](const SpeciesReference* ref, double sign) {
      auto it = by_id.find(ref->getSpecies());
      if (it == by_id.end() || symbols[static_cast<std::size_t>(it->second)].kind != Symbol::Kind::kSpecies) {
        error(ref, "reaction '" + rx->getId() + "' names species '" + ref->getSpecies() + "', which is not defined");
        return;
      }
      const Symbol& s = symbols[static_cast<std::size_t>(it->second)];
      if (s.boundary || s.constant) return;  // reactions do not change boundary or constant species
      if (s.state < 0 || s.rate_rule) {
        error(ref, "species '" + s.id + "' is set by a rule and also changed by reaction '" + rx->getId() +
                       "' (make it a boundary species)");
        return;
      }
      const double nu = ref->isSetStoichiometry() ? ref->getStoichiometry() : 1.0;
      N(s.state, r) += sign * nu;
    };
    for (unsigned k = 0; k < rx->getNumReactants(); ++k) add(rx->getReactant(k), -1.0);
    for (unsigned k = 0; k < rx->getNumProducts(); ++k) add(rx->getProduct(k), +1.0);
  }
  if (failed) return;

  Compilation c{&rhs, Context::kDynamic, {}, {}, nullptr, {}};
  std::vector<int> out(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    const Symbol& s = symbols[static_cast<std::size_t>(state_symbol[i])];
    if (s.rate_rule) {
      out[i] = compile(c, s.rate_rule, {}, "rate rule for '" + s.id + "'");
      continue;
    }
    int sum = -1;
    for (std::size_t r = 0; r < reactions.size(); ++r) {
      const double nu = N(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(r));
      if (nu == 0.0) continue;
      const int rate = resolve(c, reactions[r]->getId(), {}, "reaction '" + reactions[r]->getId() + "'");
      if (rate < 0) break;
      const int term = nu == 1.0 ? rate : rhs.binary(Op::kMul, rhs.constant(nu), rate);
      sum = sum < 0 ? term : rhs.binary(Op::kAdd, sum, term);
    }
    if (sum < 0) sum = rhs.constant(0.0);
    if (s.kind == Symbol::Kind::kSpecies && !s.amount) {
      const int volume = resolve(c, symbols[static_cast<std::size_t>(s.compartment)].id, {}, "species '" + s.id + "'");
      sum = rhs.binary(Op::kDiv, sum, volume);
    }
    out[i] = sum;
  }
  // Every reaction and assignment rule compiles, used or not, so that its errors are reported.
  for (const ::Reaction* rx : reactions) resolve(c, rx->getId(), {}, "reaction '" + rx->getId() + "'");
  for (const auto& s : symbols)
    if (s.assignment_rule) resolve(c, s.id, {}, "assignment rule for '" + s.id + "'");
  if (!c.error.empty()) {
    error_at(0, c.error);
    return;
  }
  for (int slot : out) rhs.add_output(slot);
  switches = core::TimeSwitches(rhs);
  {
    const auto reads = rhs.output_states();  // per derivative i: the states j it reads
    std::vector<std::vector<int>> rows(n);    // per state j: the derivatives i that read it
    for (std::size_t i = 0; i < n; ++i) {
      rows[i].push_back(static_cast<int>(i));
      for (int j : reads[i])
        if (j != static_cast<int>(i)) rows[static_cast<std::size_t>(j)].push_back(static_cast<int>(i));
    }
    sparsity.size = static_cast<int>(n);
    sparsity.column_start.assign(1, 0);
    for (auto& r : rows) {
      std::sort(r.begin(), r.end());
      sparsity.row_index.insert(sparsity.row_index.end(), r.begin(), r.end());
      sparsity.column_start.push_back(static_cast<int>(sparsity.row_index.size()));
    }
    coloring = core::coloring_if_it_pays(sparsity);
  }

  // ---- initial values ----
  Compilation ci{&init, Context::kInitial, {}, {}, nullptr, {}};
  for (std::size_t i = 0; i < n; ++i) {
    const int slot = resolve(ci, symbols[static_cast<std::size_t>(state_symbol[i])].id, {}, "initial value");
    init.add_output(slot);
  }
  if (!ci.error.empty()) {
    error_at(0, ci.error);
    return;
  }

  // ---- events: time-triggered jumps ----
  Compilation ct{&trigger, Context::kDynamic, {}, {}, nullptr, {}};
  Compilation cj{&jump, Context::kDynamic, {}, {}, nullptr, {}};
  for (unsigned i = 0; i < m.getNumEvents(); ++i) {
    const ::Event* e = m.getEvent(i);
    EventInfo info;
    info.id = e->isSetId() ? e->getId() : "event " + std::to_string(i + 1);
    info.line = static_cast<int>(e->getLine());
    if (e->isSetDelay()) error(e, info.id + ": events with a delay are not supported");
    if (e->isSetPriority()) error(e, info.id + ": event priorities are not supported");
    if (!e->isSetTrigger() || !e->getTrigger()->isSetMath()) {
      error(e, info.id + ": no trigger");
      continue;
    }
    if (e->getLevel() >= 3) info.initial_value = e->getTrigger()->getInitialValue();
    const ASTNode* trig = e->getTrigger()->getMath();
    // time >= E, time > E, E <= time, E < time (geq/gt with time first, leq/lt with time last).
    const ASTNodeType_t tt = trig->getType();
    const bool two = trig->getNumChildren() == 2;
    const ASTNode* time_side = nullptr;
    const ASTNode* bound = nullptr;
    if (two && (tt == AST_RELATIONAL_GEQ || tt == AST_RELATIONAL_GT)) {
      time_side = trig->getChild(0);
      bound = trig->getChild(1);
    } else if (two && (tt == AST_RELATIONAL_LEQ || tt == AST_RELATIONAL_LT)) {
      time_side = trig->getChild(1);
      bound = trig->getChild(0);
    }
    if (!time_side || time_side->getType() != AST_NAME_TIME) {
      error(e, info.id + ": only triggers of the form time >= E (or time > E) are supported, got '" +
                   formula_text(trig) + "'");
      continue;
    }
    info.strict = tt == AST_RELATIONAL_GT || tt == AST_RELATIONAL_LT;
    const int when = compile(ct, bound, {}, info.id + " trigger");
    if (when >= 0 && trigger.depends_on_time_or_state(when)) {
      error(e, info.id + ": the trigger time '" + formula_text(bound) +
                   "' depends on time or on a state; only times known from the parameters are supported");
      continue;
    }
    if (when < 0) continue;
    info.time_output = static_cast<int>(trigger.outputs().size());
    trigger.add_output(when);
    for (unsigned k = 0; k < e->getNumEventAssignments(); ++k) {
      const EventAssignment* ea = e->getEventAssignment(k);
      auto it = by_id.find(ea->getVariable());
      if (it == by_id.end() || symbols[static_cast<std::size_t>(it->second)].state < 0) {
        error(ea, info.id + ": assignment to '" + ea->getVariable() +
                      "', which is not a species or parameter that can change");
        continue;
      }
      const int slot = compile(cj, ea->getMath(), {}, info.id + " assignment to '" + ea->getVariable() + "'");
      if (slot < 0) continue;
      info.assignments.emplace_back(symbols[static_cast<std::size_t>(it->second)].state,
                                    static_cast<int>(jump.outputs().size()));
      jump.add_output(slot);
    }
    events.push_back(std::move(info));
  }
  if (!ct.error.empty()) error_at(0, ct.error);
  if (!cj.error.empty()) error_at(0, cj.error);

  // ---- conservation laws and positivity ----
  std::set<int> changed_by_jumps;
  for (const auto& e : events)
    for (const auto& [state, output] : e.assignments) changed_by_jumps.insert(state);
  nonnegative.assign(n, 0);
  std::vector<int> reacting;  // species states changed by reactions only
  for (std::size_t i = 0; i < n; ++i) {
    const Symbol& s = symbols[static_cast<std::size_t>(state_symbol[i])];
    if (s.kind == Symbol::Kind::kSpecies && !s.rate_rule) nonnegative[i] = 1;
    if (s.kind == Symbol::Kind::kSpecies && !s.rate_rule && !changed_by_jumps.count(static_cast<int>(i)) &&
        N.row(static_cast<Eigen::Index>(i)).cwiseAbs().sum() > 0.0)
      reacting.push_back(static_cast<int>(i));
  }
  if (!reacting.empty() && N.cols() > 0) {
    Eigen::MatrixXd Nr(static_cast<Eigen::Index>(reacting.size()), N.cols());
    std::vector<core::VariableInfo> names;
    for (std::size_t k = 0; k < reacting.size(); ++k) {
      Nr.row(static_cast<Eigen::Index>(k)) = N.row(reacting[k]);
      names.push_back(states[static_cast<std::size_t>(reacting[k])]);
    }
    for (const auto& law : conservation_laws(Nr, names)) {
      // The law holds for amounts: a concentration's weight carries its compartment's volume.
      core::LinearInvariant full;
      full.description = law.description;
      full.weights.assign(n, 0.0);
      full.weight_parameter.assign(n, -1);
      std::set<int> compartments;
      bool computed_volume = false, any_amount = false;
      std::string scaled;  // the law in amounts: each concentration times its compartment's volume
      for (std::size_t k = 0; k < reacting.size(); ++k) {
        const double w = law.weights[k];
        if (w == 0.0) continue;
        const auto i = static_cast<std::size_t>(reacting[k]);
        const Symbol& s = symbols[static_cast<std::size_t>(state_symbol[i])];
        full.weights[i] = w;
        std::string term = std::fabs(w) == 1.0 ? "" : core::format_number(std::fabs(w)) + " ";
        if (s.amount) {
          any_amount = true;
        } else {
          compartments.insert(s.compartment);
          const int volume = symbols[static_cast<std::size_t>(s.compartment)].param;
          if (volume < 0) computed_volume = true;
          full.weight_parameter[i] = volume;
          term += symbols[static_cast<std::size_t>(s.compartment)].id + "*";
        }
        term += s.id;
        scaled += scaled.empty() ? (w < 0 ? "-" : "") + term : (w < 0 ? " - " : " + ") + term;
      }
      if (compartments.size() <= 1 && !any_amount) {
        full.weight_parameter.clear();  // concentrations in one volume: it cancels
      } else if (computed_volume) {
        continue;  // a volume set by an initial assignment: no weights from the parameters
      } else {
        full.description = scaled;
      }
      invariants.push_back(std::move(full));
    }
  }
}

SbmlModel::SbmlModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SbmlModel::~SbmlModel() = default;

namespace {

// The document if libSBML and the consistency checks find no error in it, else nullptr.
std::unique_ptr<SBMLDocument> validated(std::unique_ptr<SBMLDocument> doc, const std::string& source,
                                        core::Diagnostics& diags, const SbmlOptions& options) {
  if (!doc) {
    diags.error({source, 0, 0}, "could not read SBML");
    return nullptr;
  }
  // Reading errors (malformed XML, invalid SBML) and the consistency checks, units included.
  doc->setConsistencyChecks(LIBSBML_CAT_UNITS_CONSISTENCY, true);
  doc->setConsistencyChecks(LIBSBML_CAT_MODELING_PRACTICE, false);
  if (doc->getNumErrors(LIBSBML_SEV_FATAL) + doc->getNumErrors(LIBSBML_SEV_ERROR) == 0) doc->checkConsistency();
  bool bad = false;
  for (unsigned i = 0; i < doc->getNumErrors(); ++i) {
    const SBMLError* e = doc->getError(i);
    const bool is_error = e->isFatal() || e->isError();
    // libSBML's unit findings (rules 10501-10599) follow the unit policy; units it cannot check
    // because they are not declared (99505, 99507, 99508, 20702) are not findings.
    const unsigned id = e->getErrorId();
    const bool unit_finding = e->getCategory() == LIBSBML_CAT_UNITS_CONSISTENCY && id > 10500 && id < 10600;
    if (unit_finding && options.units == UnitPolicy::kIgnore) continue;
    if (!is_error && !unit_finding) continue;
    std::string message = e->getMessage();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    for (auto& ch : message)
      if (ch == '\n') ch = ' ';
    const core::SourceLocation where{source, static_cast<int>(e->getLine()), static_cast<int>(e->getColumn())};
    std::string text = std::string(unit_finding ? "units: " : "") + e->getShortMessage() + ": " + message;
    const bool as_error = is_error || (unit_finding && options.units == UnitPolicy::kStrict);
    if (unit_finding)
      text += as_error ? (options.units == UnitPolicy::kStrict
                              ? " (an error under the unit policy 'strict'; 'units: warn' keeps libSBML's own "
                                "severity, 'units: ignore' skips unit checks)"
                              : " (libSBML reports this as an error; 'units: ignore' skips unit checks)")
                       : " (a warning under the unit policy 'warn'; 'units: strict' makes it an error, 'units: "
                         "ignore' skips unit checks)";
    if (!as_error) {
      diags.warning(where, text);
      continue;
    }
    diags.error(where, text);
    bad = true;
  }
  if (bad) return nullptr;
  if (!doc->getModel()) {
    diags.error({source, 0, 0}, "the SBML document has no model");
    return nullptr;
  }
  // A package the model requires changes its mathematical meaning (comp, fbc, ...): refuse it.
  // Optional ones (layout, render) do not; l3v2extendedmath is part of SBML L3V2 core math.
  for (unsigned i = 0; doc->getLevel() >= 3 && i < doc->getNumPlugins(); ++i) {
    const SBasePlugin* plugin = doc->getPlugin(i);
    if (!plugin || plugin->getPackageName() == "l3v2extendedmath") continue;
    if (doc->getPackageRequired(plugin->getURI())) {
      diags.error({source, 0, 0},
                  "SBML package '" + plugin->getPackageName() + "' is required by the model and not supported");
      return nullptr;
    }
  }
  return doc;
}

}  // namespace

std::shared_ptr<SbmlModel> SbmlModel::read_file(const std::string& path, core::Diagnostics& diags,
                                                const SbmlOptions& options) {
  if (!core::check_input_file(path, "SBML file", core::kMaxInputFileBytes, diags)) return nullptr;
  SBMLReader reader;
  std::unique_ptr<SBMLDocument> doc(reader.readSBMLFromFile(path));
  if (doc && doc->getNumErrors() > 0 && doc->getError(0)->getErrorId() == XMLFileUnreadable) {
    diags.error({path, 0, 0}, "cannot read the SBML file (missing or not readable)");
    return nullptr;
  }
  return Impl::compile(validated(std::move(doc), path, diags, options), path, diags);
}

std::shared_ptr<SbmlModel> SbmlModel::read_string(const std::string& xml, const std::string& source,
                                                  core::Diagnostics& diags, const SbmlOptions& options) {
  SBMLReader reader;
  std::unique_ptr<SBMLDocument> doc(reader.readSBMLFromString(xml));
  return Impl::compile(validated(std::move(doc), source, diags, options), source, diags);
}

std::shared_ptr<SbmlModel> SbmlModel::Impl::compile(std::unique_ptr<SBMLDocument> doc, const std::string& source,
                                                    core::Diagnostics& diags) {
  if (!doc) return nullptr;
  auto impl = std::make_unique<Impl>();
  impl->source = source;
  impl->diags = &diags;
  impl->build(*doc->getModel());
  impl->document = std::move(doc);
  impl->diags = nullptr;
  if (impl->failed) return nullptr;
  return std::shared_ptr<SbmlModel>(new SbmlModel(std::move(impl)));
}

const std::string& SbmlModel::name() const { return impl_->name; }
const std::vector<core::VariableInfo>& SbmlModel::states() const { return impl_->states; }
const std::vector<core::VariableInfo>& SbmlModel::parameters() const { return impl_->parameters; }
const std::vector<double>& SbmlModel::default_parameters() const { return impl_->defaults; }
const std::vector<SbmlSpeciesInfo>& SbmlModel::species() const { return impl_->species; }
const core::Tape& SbmlModel::rhs_tape() const { return impl_->rhs; }
std::vector<core::LinearInvariant> SbmlModel::linear_invariants() const { return impl_->invariants; }
bool SbmlModel::state_is_nonnegative(std::size_t i) const { return impl_->nonnegative[i] != 0; }
bool SbmlModel::is_autonomous() const { return !impl_->rhs.outputs_depend_on_time(); }

void SbmlModel::initial_state(const double* p, double* y0) const { impl_->init.evaluate(0.0, y0, p, y0); }

void SbmlModel::initial_state_jacobian(const double* p, double* jac) const {
  const std::size_t n = num_states(), m = num_parameters();
  std::vector<core::Dual> unused(n);
  core::forward_jacobian(
      [&](const core::Dual* pd, core::Dual* out) { impl_->init.evaluate(core::Dual(0.0), unused.data(), pd, out); }, n,
      m, p, jac);
}

bool SbmlModel::has_jumps() const { return !impl_->events.empty(); }

std::vector<double> SbmlModel::jump_times(const double* p) const {
  if (impl_->events.empty()) return {};
  std::vector<double> when(impl_->trigger.outputs().size());
  std::vector<double> y(num_states(), 0.0);
  impl_->trigger.evaluate(0.0, y.data(), p, when.data());
  std::vector<double> times;
  for (const auto& e : impl_->events) {
    const double tau = when[static_cast<std::size_t>(e.time_output)];
    // At t = 0 the trigger fires only if it was false before (initialValue false) or becomes true just after (>).
    if (tau < 0.0 || (tau == 0.0 && !e.strict && e.initial_value)) continue;
    if (std::isfinite(tau)) times.push_back(tau);
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  return times;
}

core::SparsityPattern SbmlModel::jacobian_sparsity() const { return impl_->sparsity; }

const core::ColumnColoring* SbmlModel::jacobian_coloring() const {
  return impl_->coloring ? &*impl_->coloring : nullptr;
}

std::vector<double> SbmlModel::switch_times(const double* p) const {
  return impl_->switches.times(p, num_states());
}

void SbmlModel::apply_jumps(double t, double* y, const double* p) const {
  if (impl_->events.empty()) return;
  std::vector<double> when(impl_->trigger.outputs().size()), values(impl_->jump.outputs().size());
  impl_->trigger.evaluate(t, y, p, when.data());
  impl_->jump.evaluate(t, y, p, values.data());  // every assignment from the state before the jumps
  for (const auto& e : impl_->events)
    if (when[static_cast<std::size_t>(e.time_output)] == t)
      for (const auto& [state, output] : e.assignments) y[state] = values[static_cast<std::size_t>(output)];
}

std::unique_ptr<SbmlFormula> SbmlModel::compile_formula(const std::string& formula,
                                                        const std::vector<std::string>& extra,
                                                        std::string* error) const {
  L3ParserSettings settings;
  settings.setParseLog(L3P_PARSE_LOG_AS_LN);
  settings.setModel(impl_->document->getModel());  // the model's ids are names, even 'avogadro' or 'time'
  std::unique_ptr<ASTNode> ast(SBML_parseL3FormulaWithSettings(formula.c_str(), &settings));
  if (!ast) {
    char* message = SBML_getLastParseL3Error();
    *error = "cannot parse '" + formula + "': " + (message ? message : "syntax error");
    free(message);
    return nullptr;
  }
  auto result = std::make_unique<SbmlFormula>();
  result->extra = extra;
  Impl::Compilation c{&result->tape, Context::kDynamic, {}, {}, &result->extra, {}};
  const int slot = impl_->compile(c, ast.get(), {}, "formula '" + formula + "'");
  if (slot < 0) {
    *error = c.error;
    return nullptr;
  }
  result->tape.add_output(slot);
  return result;
}

}  // namespace physynth::domains::kinetics
