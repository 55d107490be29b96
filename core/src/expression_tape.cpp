#include "physynth/core/expression_tape.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>

namespace physynth::core {

namespace {
// Marks every slot that `slot` reads, directly or through earlier slots.
std::vector<char> reachable(const std::vector<Instruction>& code, int slot) {
  std::vector<char> used(code.size(), 0);
  if (slot < 0) return used;
  used[static_cast<std::size_t>(slot)] = 1;
  for (int i = slot; i >= 0; --i) {
    if (!used[static_cast<std::size_t>(i)]) continue;
    const Instruction& in = code[static_cast<std::size_t>(i)];
    switch (in.op) {
      case Op::kConstant:
      case Op::kTime:
      case Op::kState:
      case Op::kParameter:
        break;
      case Op::kPowInt:
        used[static_cast<std::size_t>(in.a)] = 1;
        break;
      default:
        for (int operand : {in.a, in.b, in.c})
          if (operand >= 0) used[static_cast<std::size_t>(operand)] = 1;
    }
  }
  return used;
}
}  // namespace

bool Tape::depends_on_time_or_state(int slot) const {
  const auto used = reachable(code_, slot);
  for (std::size_t i = 0; i < code_.size(); ++i)
    if (used[i] && (code_[i].op == Op::kTime || code_[i].op == Op::kState)) return true;
  return false;
}

bool Tape::outputs_depend_on_time() const {
  for (int slot : outputs_) {
    const auto used = reachable(code_, slot);
    for (std::size_t i = 0; i < code_.size(); ++i)
      if (used[i] && code_[i].op == Op::kTime) return true;
  }
  return false;
}

bool Tape::is_constant(int slot, double* value) const {
  if (slot < 0 || static_cast<std::size_t>(slot) >= code_.size()) return false;
  const Instruction& in = code_[static_cast<std::size_t>(slot)];
  if (in.op != Op::kConstant) return false;
  if (value) *value = in.value;
  return true;
}

std::vector<Tape::TimeSwitch> Tape::time_switches() const {
  std::vector<char> used(code_.size(), 0);
  for (int slot : outputs_) {
    const auto u = reachable(code_, slot);
    for (std::size_t i = 0; i < code_.size(); ++i) used[i] = used[i] || u[i];
  }
  // Per slot: a function of the parameters alone, affine in time (c(p) t + d(p)), or anything else.
  enum Kind : std::uint8_t { kFixed = 0, kAffine = 1, kOther = 2 };
  std::vector<Kind> kind(code_.size(), kOther);
  std::vector<TimeSwitch> out;
  const auto k = [&](int slot) { return kind[static_cast<std::size_t>(slot)]; };
  for (std::size_t i = 0; i < code_.size(); ++i) {
    const Instruction& in = code_[i];
    Kind& r = kind[i];
    switch (in.op) {
      case Op::kConstant:
      case Op::kParameter:
        r = kFixed;
        break;
      case Op::kTime:
        r = kAffine;
        break;
      case Op::kState:
        r = kOther;
        break;
      case Op::kAdd:
      case Op::kSub:
        r = std::max(k(in.a), k(in.b));
        break;
      case Op::kMul:
        r = k(in.a) == kFixed ? k(in.b) : k(in.b) == kFixed ? k(in.a) : kOther;
        break;
      case Op::kDiv:
        r = k(in.b) == kFixed ? k(in.a) : kOther;
        break;
      case Op::kNeg:
        r = k(in.a);
        break;
      case Op::kPowInt:
        r = k(in.a) == kFixed ? kFixed : in.b == 1 ? k(in.a) : kOther;
        break;
      default: {
        bool fixed = true;
        for (int operand : {in.a, in.b, in.c})
          if (operand >= 0) fixed = fixed && k(operand) == kFixed;
        r = fixed ? kFixed : kOther;
        if ((in.op == Op::kLess || in.op == Op::kLessEqual) && used[i] && k(in.a) != kOther && k(in.b) != kOther &&
            (k(in.a) == kAffine || k(in.b) == kAffine))
          out.push_back({in.a, in.b, in.op == Op::kLess});
      }
    }
  }
  return out;
}

std::vector<std::vector<int>> Tape::output_states() const {
  std::vector<std::vector<int>> reads(code_.size());
  std::vector<int> merged;
  for (std::size_t i = 0; i < code_.size(); ++i) {
    const Instruction& in = code_[i];
    if (in.op == Op::kState) {
      reads[i] = {in.a};
      continue;
    }
    if (in.op == Op::kConstant || in.op == Op::kTime || in.op == Op::kParameter) continue;
    for (int operand : {in.a, in.op == Op::kPowInt ? -1 : in.b, in.c}) {
      if (operand < 0) continue;
      const auto& r = reads[static_cast<std::size_t>(operand)];
      merged.clear();
      std::set_union(reads[i].begin(), reads[i].end(), r.begin(), r.end(), std::back_inserter(merged));
      reads[i].swap(merged);
    }
  }
  std::vector<std::vector<int>> out;
  for (int slot : outputs_) out.push_back(reads[static_cast<std::size_t>(slot)]);
  return out;
}

TimeSwitches::TimeSwitches(const Tape& tape) : differences_(tape) {
  differences_.clear_outputs();
  for (const auto& w : tape.time_switches()) {
    strict_.push_back(w.strict ? 1 : 0);
    differences_.add_output(differences_.binary(Op::kSub, w.a, w.b));
  }
}

std::vector<double> TimeSwitches::times(const double* p, std::size_t states) const {
  const std::size_t K = strict_.size();
  if (K == 0) return {};
  // Each a - b = c t + d from its values at t = 0 and 1 (no state enters it).
  std::vector<double> y(states, 0.0), g0(K), g1(K), g(K);
  differences_.evaluate(0.0, y.data(), p, g0.data());
  differences_.evaluate(1.0, y.data(), p, g1.data());
  std::vector<double> out;
  for (std::size_t k = 0; k < K; ++k) {
    const double c = g1[k] - g0[k];
    double t = -g0[k] / c;
    if (c == 0.0 || !std::isfinite(t)) continue;  // constant in time: it never switches
    // After the switch a < b (a <= b) is false where c > 0 and true where c < 0.
    const bool strict = strict_[k] != 0;
    const auto after = [&](double at) {
      differences_.evaluate(at, y.data(), p, g.data());
      return c > 0.0 ? (strict ? g[k] >= 0.0 : g[k] > 0.0) : (strict ? g[k] < 0.0 : g[k] <= 0.0);
    };
    // -d/c is within a few roundings of where the comparison turns.
    for (int i = 0; i < 16 && !after(t); ++i) t = std::nextafter(t, HUGE_VAL);
    for (int i = 0; i < 16 && after(std::nextafter(t, -HUGE_VAL)); ++i) t = std::nextafter(t, -HUGE_VAL);
    out.push_back(t);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace physynth::core
