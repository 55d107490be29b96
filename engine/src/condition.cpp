#include "physynth/engine/condition.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "expression.h"

namespace physynth::engine {

struct ConditionResponse::Impl {
  Expression lhs, rhs;
  bool greater;
  std::size_t labels, parameters;
  std::vector<double> values;
};

namespace {
std::vector<std::string> condition_variables(const Scenario& s) {
  std::vector<std::string> v;
  for (const auto& l : s.labels) v.push_back(l.name);
  for (const auto& p : s.parameters) v.push_back(p.name);
  return v;
}
}  // namespace

ConditionResponse::ConditionResponse(const Scenario& s) : inclusive_(s.rare_event.inclusive) {
  if (!s.rare_event.present) throw std::invalid_argument("the scenario has no sampling.condition");
  const auto variables = condition_variables(s);
  impl_ = std::unique_ptr<Impl>(new Impl{Expression(s.rare_event.lhs, variables), Expression(s.rare_event.rhs, variables),
                                         s.rare_event.greater, s.labels.size(), s.parameters.size(),
                                         std::vector<double>(variables.size())});
}

ConditionResponse::~ConditionResponse() = default;

std::vector<double> ConditionResponse::operator()(const Shard& shard) {
  Impl& m = *impl_;
  const std::size_t L = shard.num_labels(), P = shard.num_parameters();
  if (L < m.labels || P != m.parameters)
    throw std::invalid_argument("ConditionResponse: the shard is not of the scenario (labels or parameters differ)");
  std::vector<double> r(shard.samples);
  for (std::size_t i = 0; i < shard.samples; ++i) {
    std::copy_n(shard.labels.data() + i * L, m.labels, m.values.data());
    std::copy_n(shard.parameters.data() + i * P, P, m.values.data() + m.labels);
    const double a = m.lhs.evaluate(m.values.data()), b = m.rhs.evaluate(m.values.data());
    const double v = m.greater ? b - a : a - b;
    r[i] = std::isnan(v) ? std::numeric_limits<double>::infinity() : v;
  }
  return r;
}

}  // namespace physynth::engine
