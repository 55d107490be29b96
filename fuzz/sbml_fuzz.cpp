// libFuzzer harness: the SBML import (libSBML's reader, then physynth's translation of the model
// into an expression tape). A model it accepts is evaluated once at its defaults: initial state
// and right-hand side, where the tape's operations run.
#include <cstdint>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"
#include "physynth/domains/kinetics/sbml_model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string xml(reinterpret_cast<const char*>(data), size);
  physynth::core::Diagnostics diags;
  const auto model = physynth::domains::kinetics::SbmlModel::read_string(xml, "fuzz.xml", diags);
  (void)diags.report();
  if (!model) return 0;
  const std::vector<double>& p = model->default_parameters();
  std::vector<double> y(model->num_states()), dydt(model->num_states());
  model->initial_state(p.data(), y.data());
  model->evaluate(0.0, y.data(), p.data(), dydt.data());
  return 0;
}
