#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/core/random.h"
#include "physynth/domains/kinetics/reaction_network.h"
#include "physynth/domains/kinetics/yaml_binding.h"
#include "physynth/solvers/ode_solver.h"
#include "support/test_problems.h"

using namespace physynth;
using domains::kinetics::parse_equation;

TEST_CASE("parse_equation: coefficients, both arrows, empty sides") {
  std::string err;
  auto eq = parse_equation("2 B -> B + C", &err);
  REQUIRE(eq);
  CHECK_FALSE(eq->reversible);
  CHECK(eq->reactants == std::vector<std::pair<std::string, int>>{{"B", 2}});
  CHECK(eq->products == std::vector<std::pair<std::string, int>>{{"B", 1}, {"C", 1}});
  eq = parse_equation("E + S <=> ES", &err);
  REQUIRE(eq);
  CHECK(eq->reversible);
  eq = parse_equation("A + A -> ", &err);
  REQUIRE(eq);
  CHECK(eq->reactants == std::vector<std::pair<std::string, int>>{{"A", 2}});
  CHECK(eq->products.empty());
  eq = parse_equation("-> X", &err);
  REQUIRE(eq);
  CHECK(eq->reactants.empty());

  CHECK_FALSE(parse_equation("A = B", &err));
  CHECK(err == "no reaction arrow; write '->' (irreversible) or '<->' (reversible)");
  CHECK_FALSE(parse_equation("A -> B -> C", &err));
  CHECK(err == "more than one reaction arrow");
  CHECK_FALSE(parse_equation("A + -> B", &err));
  CHECK(err == "empty term");
  CHECK_FALSE(parse_equation("A -> B-", &err));
  CHECK(err == "'B-' is not a species name (letters, digits and '_', not starting with a digit)");
  CHECK_FALSE(parse_equation(" -> ", &err));
  CHECK(err == "a reaction needs at least one species");
}

TEST_CASE("ReactionNetwork: stoichiometry and conservation laws of enzyme kinetics") {
  const auto built = testing::network(R"(
species: [{name: E, initial: 1}, {name: S, initial: 10}, {name: ES, initial: 0}, {name: P, initial: 0}]
reactions:
  - {equation: "E + S <-> ES", kf: 1, kr: 1}
  - {equation: "ES -> E + P", k: 1}
)");
  const auto& net = dynamic_cast<const domains::kinetics::ReactionNetwork&>(*built.model);
  Eigen::MatrixXd expected(4, 2);
  expected << -1, 1, -1, 0, 1, -1, 0, 1;
  CHECK(net.stoichiometry() == expected);
  const auto laws = net.linear_invariants();
  REQUIRE(laws.size() == 2);
  CHECK(laws[0].description == "E + ES");
  CHECK(laws[1].description == "S + ES + P");
  for (const auto& law : laws) {
    Eigen::Map<const Eigen::RowVectorXd> w(law.weights.data(), 4);
    CHECK((w * net.stoichiometry()).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("ReactionNetwork: Robertson conserves A + B + C, 2A -> B conserves A + 2B") {
  auto rob = testing::network(testing::kRobertson);
  auto laws = rob.model->linear_invariants();
  REQUIRE(laws.size() == 1);
  CHECK(laws[0].description == "A + B + C");
  auto dimer = testing::network(
      "species: [{name: A, initial: 1}, {name: B, initial: 0}]\n"
      "reactions: [{equation: \"2 A <-> B\", kf: 1, kr: 2}]\n");
  laws = dimer.model->linear_invariants();
  REQUIRE(laws.size() == 1);
  CHECK(laws[0].description == "A + 2 B");
  auto open = testing::network(testing::kDecay);
  CHECK(open.model->linear_invariants().empty());
}

TEST_CASE("ReactionNetwork: right-hand side of Robertson equals the textbook equations") {
  const auto m = testing::network(testing::kRobertson);
  const auto p = testing::parameters(m, testing::kRobertsonRates);
  const double y[3] = {0.7, 2e-5, 0.3};
  double f[3];
  m.model->rhs(0.0, y, p.data(), f);
  CHECK(f[0] == Approx(-0.04 * y[0] + 1e4 * y[1] * y[2]).epsilon(1e-15));
  CHECK(f[1] == Approx(0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1]).epsilon(1e-14));
  CHECK(f[2] == Approx(3e7 * y[1] * y[1]).epsilon(1e-15));
}

TEST_CASE("ReactionNetwork: autodiff Jacobians equal central finite differences") {
  const auto m = testing::network(testing::kEnzymeWithHill);
  const auto& model = *m.model;
  const std::size_t n = model.num_states(), np = model.num_parameters();
  auto p = testing::parameters(m, testing::kEnzymeValues);
  core::CounterRng rng(3, 0, 0);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> y(n);
    for (auto& v : y) v = 0.1 + 5.0 * rng.uniform();
    std::vector<double> jac(n * n), pjac(n * np);
    model.jacobian(0.0, y.data(), p.data(), jac.data());
    model.parameter_jacobian(0.0, y.data(), p.data(), pjac.data());
    // Column j of d f / d x by central differences in x[j], where f(x) is the rhs with x = y or x = p.
    auto check_columns = [&](std::vector<double>& x, const std::vector<double>& analytic) {
      std::vector<double> fp(n), fm(n);
      for (std::size_t j = 0; j < x.size(); ++j) {
        const double saved = x[j], h = 1e-6 * std::max(1.0, std::fabs(saved));
        x[j] = saved + h;
        model.rhs(0.0, y.data(), p.data(), fp.data());
        x[j] = saved - h;
        model.rhs(0.0, y.data(), p.data(), fm.data());
        x[j] = saved;
        for (std::size_t i = 0; i < n; ++i)
          REQUIRE(analytic[i + n * j] == Approx((fp[i] - fm[i]) / (2 * h)).epsilon(1e-6).margin(1e-8));
      }
    };
    check_columns(y, jac);
    check_columns(p, pjac);
  }
}

// Four states with a Michaelis-Menten law (it divides), for the Jacobians' tests.
const char* const kFourStates =
    "species: [{name: E, initial: E0}, {name: S, initial: S0}, {name: ES, initial: 0}, {name: P, initial: 0}]\n"
    "reactions:\n"
    "  - {equation: \"E + S <-> ES\", kf: kon, kr: koff}\n"
    "  - {equation: \"ES -> E + P\", k: kcat}\n"
    "  - {equation: \"S -> P\", rate: michaelis_menten, vmax: vm, km: km}\n";

TEST_CASE("ReactionNetwork: rhs_and_jacobian gives jacobian()'s Jacobian bit for bit and rhs() to rounding") {
  // Four states (Jets of 4; a Michaelis-Menten law divides), five (Jets of 8) and a coloured
  // Jacobian (rhs() itself).
  const auto four = testing::network(kFourStates);
  const auto five = testing::network(testing::kEnzymeWithHill);
  const auto coloured = testing::network(testing::catalysed_chain(150));
  REQUIRE(coloured.model->num_states() == 150);
  for (const auto* m : {&four, &five, &coloured}) {
    const auto& model = *m->model;
    const std::size_t n = model.num_states();
    const auto p = testing::parameters(*m, testing::kEnzymeValues);
    core::CounterRng rng(11, n, 0);
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<double> y(n), f(n), f_both(n), jac(n * n), jac_both(n * n);
      for (auto& v : y) v = 0.1 + 5.0 * rng.uniform();
      model.rhs(0.0, y.data(), p.data(), f.data());
      model.jacobian(0.0, y.data(), p.data(), jac.data());
      model.rhs_and_jacobian(0.0, y.data(), p.data(), f_both.data(), jac_both.data());
      CHECK(jac_both == jac);
      for (std::size_t i = 0; i < n; ++i) CHECK(f_both[i] == Approx(f[i]).epsilon(1e-14).margin(1e-300));
      if (n == 150) CHECK(f_both == f);
    }
  }
}

TEST_CASE("ReactionNetwork: rhs_and_jacobian_lanes gives each lane rhs_and_jacobian's bits") {
  // Up to 4 states on LaneJets (a Michaelis-Menten law divides, a Hill law takes pow, here at a
  // zero base too); five and a coloured Jacobian lane by lane (Model's default).
  const auto four = testing::network(kFourStates);
  const auto hill = testing::network(
      "species: [{name: S, initial: S0}, {name: P, initial: 0}, {name: Q, initial: 0}]\n"
      "reactions:\n"
      "  - {equation: \"S -> P\", rate: hill, vmax: vh, k: kh, n: nh}\n"
      "  - {equation: \"P -> Q\", k: kcat}\n");
  const auto five = testing::network(testing::kEnzymeWithHill);
  const auto coloured = testing::network(testing::catalysed_chain(150));
  for (const auto* m : {&four, &hill, &five, &coloured}) {
    const auto& model = *m->model;
    const std::size_t n = model.num_states(), np = model.num_parameters();
    const auto p = testing::parameters(*m, testing::kEnzymeValues);
    core::CounterRng rng(12, n, 0);
    for (int trial = 0; trial < 10; ++trial) {
      std::vector<core::Lanes> y(n), pl(np), f(n), jac(n * n);
      std::vector<std::vector<double>> ys(core::kLanes, std::vector<double>(n)), ps(core::kLanes, p);
      for (int l = 0; l < core::kLanes; ++l) {
        for (std::size_t i = 0; i < n; ++i)
          ys[l][i] = (trial == 0 && l == 1 && i == 0) ? 0.0 : 0.1 + 5.0 * rng.uniform();
        for (std::size_t j = 0; j < np; ++j) ps[l][j] = p[j] * (1.0 + 0.1 * l);  // each lane its own parameters
        for (std::size_t i = 0; i < n; ++i) y[i].v[l] = ys[l][i];
        for (std::size_t j = 0; j < np; ++j) pl[j].v[l] = ps[l][j];
      }
      model.rhs_and_jacobian_lanes(core::Lanes(0.0), y.data(), pl.data(), f.data(), jac.data());
      for (int l = 0; l < core::kLanes; ++l) {
        std::vector<double> f1(n), j1(n * n);
        model.rhs_and_jacobian(0.0, ys[l].data(), ps[l].data(), f1.data(), j1.data());
        INFO(n << " states, trial " << trial << ", lane " << l);
        for (std::size_t i = 0; i < n; ++i) CHECK(f[i][l] == f1[i]);
        std::size_t differ = 0;
        for (std::size_t i = 0; i < n * n; ++i)
          if (!(jac[i][l] == j1[i]) && !(std::isnan(jac[i][l]) && std::isnan(j1[i]))) ++differ;
        CHECK(differ == 0);
      }
    }
  }
}

TEST_CASE("ReactionNetwork: the sparsity pattern covers every nonzero of the Jacobian") {
  const auto m = testing::network(testing::kEnzymeWithHill);
  const auto& model = *m.model;
  const std::size_t n = model.num_states();
  const auto p = testing::parameters(m, testing::kEnzymeValues);
  const std::vector<double> y = {0.3, 4.0, 0.2, 1.5, 0.7};
  std::vector<double> jac(n * n);
  model.jacobian(0.0, y.data(), p.data(), jac.data());
  const auto pattern = model.jacobian_sparsity();
  std::size_t nonzeros = 0;
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n; ++i) {
      bool in_pattern = false;
      for (int k = pattern.column_start[j]; k < pattern.column_start[j + 1]; ++k)
        in_pattern = in_pattern || pattern.row_index[k] == static_cast<int>(i);
      if (jac[i + n * j] != 0.0) {
        ++nonzeros;
        INFO("entry (" << i << ", " << j << ")");
        CHECK(in_pattern);
      }
    }
  CHECK(pattern.nonzeros() < static_cast<int>(n * n));
  CHECK(nonzeros > 0);
}

TEST_CASE("ReactionNetwork: a large sparse network's coloured Jacobian equals the one seeded column by column, "
          "KLU and dense LU give the same solution") {
  const auto m = testing::network(testing::catalysed_chain(150));
  const auto& net = dynamic_cast<const domains::kinetics::ReactionNetwork&>(*m.model);
  const std::size_t n = net.num_states();
  REQUIRE(n == 150);
  const core::ColumnColoring* c = net.jacobian_coloring();
  REQUIRE(c);
  // Each A_i reads E and its neighbours; E's column is dense: a handful of colours for 150 columns.
  CHECK(c->colors <= 8);
  for (int j = 0; j < c->pattern.size; ++j)  // no two columns of a colour share a row
    for (int k = j + 1; k < c->pattern.size; ++k)
      if (c->color[static_cast<std::size_t>(j)] == c->color[static_cast<std::size_t>(k)])
        for (int e = c->pattern.column_start[j]; e < c->pattern.column_start[j + 1]; ++e)
          for (int f = c->pattern.column_start[k]; f < c->pattern.column_start[k + 1]; ++f)
            REQUIRE(c->pattern.row_index[static_cast<std::size_t>(e)] != c->pattern.row_index[static_cast<std::size_t>(f)]);
  CHECK(solvers::sparse_pays(net));
  CHECK_FALSE(solvers::sparse_pays(*testing::network(testing::catalysed_chain(40)).model));

  const auto p = testing::parameters(m, {});
  core::CounterRng rng(7, 0, 0);
  std::vector<double> y(n);
  for (double& v : y) v = rng.uniform();
  std::vector<double> colored(n * n), seeded(n * n);
  net.jacobian(0.0, y.data(), p.data(), colored.data());
  std::vector<core::Dual> pd(p.begin(), p.end());
  core::forward_jacobian(
      [&](const core::Dual* yd, core::Dual* out) { net.evaluate<core::Dual>(core::Dual(0.0), yd, pd.data(), out); }, n,
      n, y.data(), seeded.data());
  CHECK(colored == seeded);  // the same Jet arithmetic, entry by entry

  const std::vector<double> times = {0, 0.1, 1, 10};
  std::vector<double> y0(n), klu(times.size() * n), dense(times.size() * n);
  net.initial_state(p.data(), y0.data());
  for (const auto kind : {solvers::LinearSolverKind::kKlu, solvers::LinearSolverKind::kDense}) {
    solvers::OdeOptions o;
    o.method = solvers::Method::kBdf;
    o.linear_solver = kind;
    o.rtol = 1e-10;
    o.atol = 1e-14;
    solvers::OdeSolver solver(m.model, o);
    const auto r = solver.solve(p.data(), y0.data(), 0.0, times,
                                (kind == solvers::LinearSolverKind::kKlu ? klu : dense).data());
    REQUIRE(r.status == solvers::SolveStatus::kSuccess);
  }
  for (std::size_t k = 0; k < klu.size(); ++k) CHECK(klu[k] == Approx(dense[k]).margin(1e-10));
}
