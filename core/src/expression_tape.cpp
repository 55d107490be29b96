#include "physynth/core/expression_tape.h"

#include <algorithm>

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

}  // namespace physynth::core
