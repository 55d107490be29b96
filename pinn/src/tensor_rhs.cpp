// One dynamic_cast per templated domain model: the only place that lists them,
// and the only translation unit that instantiates their evaluate<at::Tensor>.
// A new templated model is added here.
#include "tensor_rhs.h"

#include <stdexcept>

#include "physynth/domains/equations/equation_model.h"
#include "physynth/domains/kinetics/reaction_network.h"
#include "physynth/domains/kinetics/sbml_model.h"
#include "physynth/domains/manufacturing/bearing.h"
#include "physynth/domains/manufacturing/tool_wear.h"
#include "physynth/pinn/pinn.h"
#include "physynth/pinn/torch_scalar.h"

namespace physynth::pinn {
namespace {

template <class M>
TensorRhs bind(const M& m) {
  return [&m](const at::Tensor& t, const at::Tensor* y, const at::Tensor* p, at::Tensor* f) {
    m.template evaluate<at::Tensor>(t, y, p, f);
  };
}

template <class... Ms>
TensorRhs find(const core::Model& model) {
  TensorRhs out;
  ((out ? void() : [&] {
     if (const auto* m = dynamic_cast<const Ms*>(&model)) out = bind(*m);
   }()),
   ...);
  return out;
}

TensorRhs lookup(const core::Model& model) {
  using namespace domains;
  return find<kinetics::ReactionNetwork, kinetics::SbmlModel, manufacturing::ToolWear,
              manufacturing::BearingDegradation, equations::EquationModel>(model);
}

}  // namespace

std::string tensor_support(const core::Model& model) {
  if (model.has_jumps())
    return "model '" + model.name() +
           "' has jumps (a schedule or SBML events), which a network u(t, theta) continuous in t cannot represent; "
           "use backend: cvode";
  if (dynamic_cast<const core::SteppedModel*>(&model))
    return "model '" + model.name() +
           "' advances itself in daily steps with tabulated weather, so it has no right-hand side to take a "
           "physics residual of; use backend: cvode";
  if (!lookup(model))
    return "model '" + model.name() +
           "' has no templated right-hand side the PINN can evaluate on tensors (supported: kinetics reaction "
           "networks and SBML models, manufacturing tool_wear and bearing, user-defined equations)";
  return {};
}

TensorRhs make_tensor_rhs(const core::Model& model) {
  const std::string why = tensor_support(model);
  if (!why.empty()) throw std::invalid_argument(why);
  return lookup(model);
}

}  // namespace physynth::pinn
