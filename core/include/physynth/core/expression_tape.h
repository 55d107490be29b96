// A compiled arithmetic expression (or several sharing their intermediate
// results), evaluated for any scalar type: double for CVODES, Ceres Jets for
// exact Jacobians, torch::Tensor batches for PINN residuals.
//
// Models read at run time (an SBML file's kinetic laws, rules and events)
// are compiled into one Tape: a list of instructions in evaluation order,
// each producing one value (slot) from the inputs t, y[], p[] and earlier
// slots. The tape is the runtime form of a templated right-hand side: it
// uses only the operations a templated model may use (scalar.h), with
// comparisons and selections going through ScalarOps<T>, so that the same
// tape runs on every scalar type.
//
//   Tape tape;
//   int k = tape.parameter(0), x = tape.state(1);
//   tape.add_output(tape.binary(Op::kMul, k, x));     // k * y1
//   double out; tape.evaluate(0.0, y, p, &out);
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <ceres/jet.h>
#include <boost/container/small_vector.hpp>

#include "physynth/core/lanes.h"

namespace physynth::core {

// Comparisons and selections for a scalar type. Booleans are scalars equal
// to 0 or 1, so that a condition can itself be a value (SBML allows both).
// The primary template serves double and Ceres Jets (compared by value, as
// a piecewise function's derivative is that of the branch taken); the PINN
// module specialises it for torch::Tensor (element-wise, torch::where).
inline double scalar_value(double x) { return x; }
template <class S, int N>
double scalar_value(const ceres::Jet<S, N>& x) {
  return x.a;
}

template <class T>
struct ScalarOps {
  static T truth(bool b) { return T(b ? 1.0 : 0.0); }
  static T less(const T& a, const T& b) { return truth(a < b); }
  static T less_equal(const T& a, const T& b) { return truth(a <= b); }
  static T equal(const T& a, const T& b) { return truth(a == b); }
  static T select(const T& condition, const T& if_true, const T& if_false) {
    return condition != T(0.0) ? if_true : if_false;
  }
  // x! = Gamma(x + 1), for the integers SBML gives it; its derivative is taken as 0.
  static T factorial(const T& x) { return T(std::tgamma(scalar_value(x) + 1.0)); }
};

// core::Lanes (several samples at once): each lane compared and selected as a double is.
template <>
struct ScalarOps<Lanes> {
  template <class F>
  static Lanes each(const Lanes& a, const Lanes& b, F f) {
    Lanes r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = f(a.v[l], b.v[l]);
    return r;
  }
  static Lanes less(const Lanes& a, const Lanes& b) { return each(a, b, ScalarOps<double>::less); }
  static Lanes less_equal(const Lanes& a, const Lanes& b) { return each(a, b, ScalarOps<double>::less_equal); }
  static Lanes equal(const Lanes& a, const Lanes& b) { return each(a, b, ScalarOps<double>::equal); }
  static Lanes select(const Lanes& condition, const Lanes& if_true, const Lanes& if_false) {
    Lanes r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = ScalarOps<double>::select(condition.v[l], if_true.v[l], if_false.v[l]);
    return r;
  }
  static Lanes factorial(const Lanes& x) {
    Lanes r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = ScalarOps<double>::factorial(x.v[l]);
    return r;
  }
};

enum class Op : std::uint8_t {
  kConstant,  // value
  kTime,
  kState,      // y[index]
  kParameter,  // p[index]
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,     // a ^ b
  kPowInt,  // a ^ index, index a small integer (repeated multiplication: exact for any sign of a)
  kNeg,
  kExp,
  kLog,
  kLog10,
  kSqrt,
  kAbs,
  kFloor,
  kCeil,
  kSin,
  kCos,
  kTan,
  kSinh,
  kCosh,
  kTanh,
  kAsin,
  kAcos,
  kAtan,
  kLess,
  kLessEqual,
  kEqual,      // 1 or 0
  kNot,        // 1 - truth(a != 0)
  kFactorial,  // Gamma(a + 1)
  kSelect,     // a != 0 ? b : c
};

struct Instruction {
  Op op = Op::kConstant;
  int a = -1, b = -1, c = -1;  // operand slots; for kState/kParameter/kPowInt, a is the index or exponent
  double value = 0.0;
};

class Tape {
 public:
  int constant(double v) { return push({Op::kConstant, -1, -1, -1, v}); }
  int time() { return push({Op::kTime}); }
  int state(int i) { return push({Op::kState, i}); }
  int parameter(int k) { return push({Op::kParameter, k}); }
  int unary(Op op, int a) { return push({op, a}); }
  int binary(Op op, int a, int b) { return push({op, a, b}); }
  int select(int condition, int if_true, int if_false) { return push({Op::kSelect, condition, if_true, if_false}); }
  int power_int(int a, int exponent) { return push({Op::kPowInt, a, exponent}); }

  void add_output(int slot) { outputs_.push_back(slot); }
  const std::vector<int>& outputs() const { return outputs_; }
  const std::vector<Instruction>& code() const { return code_; }
  std::size_t size() const { return code_.size(); }

  // Whether slot depends on t or on any state (so is not a function of p alone).
  bool depends_on_time_or_state(int slot) const;
  // Whether any output depends on t (a model whose right-hand side does not is autonomous).
  bool outputs_depend_on_time() const;
  // Whether slot is a constant instruction (and its value).
  bool is_constant(int slot, double* value = nullptr) const;

  // The comparisons a < b and a <= b that an output reads where a - b is c(p) t + d(p): a function
  // of time and the parameters, affine in time, with no state in it (`piecewise(1, time < T, 0)`,
  // `time - t_on >= 0`). Each switches once, at a time known from the parameters alone: where the
  // right-hand side may jump, which an integrator should stop at rather than step across.
  struct TimeSwitch {
    int a = -1, b = -1;  // the compared slots
    bool strict = true;  // a < b (else a <= b)
  };
  std::vector<TimeSwitch> time_switches() const;
  // Per output, the states it reads (sorted): the structure of its Jacobian by the state, every
  // branch of a selection included.
  std::vector<std::vector<int>> output_states() const;
  void clear_outputs() { outputs_.clear(); }

  // Evaluates every output: out[k] = value of outputs()[k].
  template <class T>
  void evaluate(const T& t, const T* y, const T* p, T* out) const;

 private:
  int push(Instruction in) {
    code_.push_back(in);
    return static_cast<int>(code_.size()) - 1;
  }
  std::vector<Instruction> code_;
  std::vector<int> outputs_;
};

// The switches in time of a tape's outputs (Tape::time_switches) and when each switches under
// given parameters: what a model built on a tape answers to Model::switch_times.
class TimeSwitches {
 public:
  TimeSwitches() = default;
  explicit TimeSwitches(const Tape& tape);
  bool empty() const { return strict_.empty(); }
  // Each switch's time under parameters p (sorted, distinct; those constant in time left out):
  // the first double at which its comparison has its value from after the switch, so that an
  // integrator restarting there sees only the new right-hand side. `states` is the tape's count.
  std::vector<double> times(const double* p, std::size_t states) const;

 private:
  Tape differences_;           // the tape, its outputs each switch's a - b = c(p) t + d(p)
  std::vector<char> strict_;  // per switch: a < b (else a <= b)
};

template <class T>
void Tape::evaluate(const T& t, const T* y, const T* p, T* out) const {
  using std::abs, std::acos, std::asin, std::atan, std::ceil, std::cos, std::cosh, std::exp, std::floor, std::log,
      std::log10, std::pow, std::sin, std::sinh, std::sqrt, std::tan, std::tanh;
  using Ops = ScalarOps<T>;
  // Slot i is instruction i's value; each is written before it is read, so doubles are left
  // uninitialised here (value-initialising them was a tenth of a short expression's time).
  boost::container::small_vector<T, 128> s(code_.size(), boost::container::default_init);
  std::size_t i = 0;
  for (const Instruction& in : code_) {
    T& r = s[i++];
    switch (in.op) {
      case Op::kConstant:  // exactly the value on doubles and lanes (lane by lane as on doubles)
        if constexpr (std::is_same_v<T, double> || std::is_same_v<T, Lanes>)
          r = T(in.value);
        else
          r = t * 0.0 + in.value;
        break;
      case Op::kTime:
        r = t;
        break;
      case Op::kState:
        r = y[in.a];
        break;
      case Op::kParameter:
        r = p[in.a];
        break;
      case Op::kAdd:
        r = s[in.a] + s[in.b];
        break;
      case Op::kSub:
        r = s[in.a] - s[in.b];
        break;
      case Op::kMul:
        r = s[in.a] * s[in.b];
        break;
      case Op::kDiv:
        r = s[in.a] / s[in.b];
        break;
      case Op::kPow:
        r = pow(s[in.a], s[in.b]);
        break;
      case Op::kPowInt: {
        const int n = in.b < 0 ? -in.b : in.b;
        T x = s[in.a];
        for (int k = 1; k < n; ++k) x = x * s[in.a];
        if (n == 0) x = s[in.a] * 0.0 + 1.0;
        r = in.b < 0 ? 1.0 / x : x;
        break;
      }
      case Op::kNeg:
        r = -s[in.a];
        break;
      case Op::kExp:
        r = exp(s[in.a]);
        break;
      case Op::kLog:
        r = log(s[in.a]);
        break;
      case Op::kLog10:
        r = log10(s[in.a]);
        break;
      case Op::kSqrt:
        r = sqrt(s[in.a]);
        break;
      case Op::kAbs:
        r = abs(s[in.a]);
        break;
      case Op::kFloor:
        r = floor(s[in.a]);
        break;
      case Op::kCeil:
        r = ceil(s[in.a]);
        break;
      case Op::kSin:
        r = sin(s[in.a]);
        break;
      case Op::kCos:
        r = cos(s[in.a]);
        break;
      case Op::kTan:
        r = tan(s[in.a]);
        break;
      case Op::kSinh:
        r = sinh(s[in.a]);
        break;
      case Op::kCosh:
        r = cosh(s[in.a]);
        break;
      case Op::kTanh:
        r = tanh(s[in.a]);
        break;
      case Op::kAsin:
        r = asin(s[in.a]);
        break;
      case Op::kAcos:
        r = acos(s[in.a]);
        break;
      case Op::kAtan:
        r = atan(s[in.a]);
        break;
      case Op::kLess:
        r = Ops::less(s[in.a], s[in.b]);
        break;
      case Op::kLessEqual:
        r = Ops::less_equal(s[in.a], s[in.b]);
        break;
      case Op::kEqual:
        r = Ops::equal(s[in.a], s[in.b]);
        break;
      case Op::kNot:
        r = 1.0 - Ops::select(s[in.a], s[in.a] * 0.0 + 1.0, s[in.a] * 0.0);
        break;
      case Op::kSelect:
        r = Ops::select(s[in.a], s[in.b], s[in.c]);
        break;
      case Op::kFactorial:
        r = Ops::factorial(s[in.a]);
        break;
    }
  }
  for (std::size_t k = 0; k < outputs_.size(); ++k) out[k] = s[static_cast<std::size_t>(outputs_[k])];
}

}  // namespace physynth::core
