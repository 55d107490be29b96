// libFuzzer harness: the infix expression parser of user-defined models, then compilation onto a
// tape (every name read as one of four parameters) and evaluation on doubles and on Jets.
#include <cstdint>
#include <string>

#include "physynth/core/autodiff.h"
#include "physynth/core/expression_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace physynth::core;
  const std::string text(reinterpret_cast<const char*>(data), size);
  ExpressionError error;
  const auto expr = ParsedExpression::parse(text, &error);
  if (!expr) return 0;
  (void)expr->names();
  Tape tape;
  const int slot = expr->compile(
      tape,
      [&](const ExpressionName& n, ExpressionError*) {
        if (n.name == "t") return tape.time();
        return n.name.size() % 2 ? tape.state(static_cast<int>(n.name.size() % 2))
                                 : tape.parameter(static_cast<int>(n.name.size() % 4));
      },
      &error);
  if (slot < 0) return 0;
  tape.add_output(slot);
  const double y[] = {0.5, -2.0}, p[] = {1.0, 0.0, -3.5, 1e300};
  double out = 0.0;
  tape.evaluate(0.25, y, p, &out);
  const Dual yd[] = {Dual(0.5, 0), Dual(-2.0, 1)}, pd[] = {Dual(1.0), Dual(0.0), Dual(-3.5), Dual(1e300)};
  Dual jet;
  tape.evaluate(Dual(0.25), yd, pd, &jet);
  return 0;
}
