// SbmlModel beyond the test suite: exact Jacobians of a compiled model, time
// events as jumps, conservation laws across compartments, and the messages for
// SBML physynth cannot or will not run.
#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/domains/kinetics/sbml_model.h"
#include "physynth/solvers/ode_solver.h"

using namespace physynth;
using physynth::domains::kinetics::SbmlModel;

namespace {

const std::string kBoehm = std::string(PHYSYNTH_SOURCE_DIR) + "/data/kinetics/boehm/model_Boehm_JProteomeRes2014.xml";

// An SBML Level 3 Version 2 document around `body` (units: mole, litre, second).
std::string sbml(const std::string& body) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="m" substanceUnits="mole" timeUnits="second" volumeUnits="litre" extentUnits="mole">
)" + body +
         R"(
  </model>
</sbml>
)";
}

const char* kDecay = R"(
    <listOfCompartments><compartment id="c" size="2" constant="true" units="litre"/></listOfCompartments>
    <listOfSpecies>
      <species id="A" compartment="c" initialConcentration="1" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false" substanceUnits="mole"/>
    </listOfSpecies>
    <listOfParameters><parameter id="k" value="0.5" constant="true" units="per_second"/></listOfParameters>
    <listOfUnitDefinitions><unitDefinition id="per_second"><listOfUnits><unit kind="second" exponent="-1" scale="0" multiplier="1"/></listOfUnits></unitDefinition></listOfUnitDefinitions>
    <listOfReactions>
      <reaction id="r" reversible="false">
        <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>c</ci><ci>k</ci><ci>A</ci></apply></math></kineticLaw>
      </reaction>
    </listOfReactions>
)";

std::string with_event(const std::string& model) {
  return model + R"(
    <listOfEvents>
      <event id="dose" useValuesFromTriggerTime="true">
        <trigger initialValue="true" persistent="true"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><geq/><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>5</cn></apply></math></trigger>
        <listOfEventAssignments><eventAssignment variable="A"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><plus/><ci>A</ci><cn>3</cn></apply></math></eventAssignment></listOfEventAssignments>
      </event>
    </listOfEvents>
)";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

// A document whose units are left unchecked (the test models leave most out).
std::shared_ptr<SbmlModel> read_without_units(const std::string& xml, const std::string& name) {
  core::Diagnostics diags;
  domains::kinetics::SbmlOptions options;
  options.units = domains::kinetics::UnitPolicy::kIgnore;
  auto model = SbmlModel::read_string(xml, name, diags, options);
  INFO(diags.report());
  REQUIRE(model);
  return model;
}

std::string read_errors(const std::string& xml) {
  core::Diagnostics diags;
  auto model = SbmlModel::read_string(xml, "bad.xml", diags);
  CHECK(model == nullptr);
  return diags.report();
}

}  // namespace

TEST_CASE("SBML: the Boehm model compiles with its parameters, rules and initial assignments") {
  core::Diagnostics diags;
  auto model = SbmlModel::read_file(kBoehm, diags);
  INFO(diags.report());
  REQUIRE(model);
  CHECK(model->num_states() == 8);
  CHECK(model->states()[0].name == "STAT5A");
  // STAT5A = 207.6 ratio by initial assignment.
  std::vector<double> y0(8);
  const auto& p = model->default_parameters();
  model->initial_state(p.data(), y0.data());
  const int ratio = model->parameter_index("ratio");
  REQUIRE(ratio >= 0);
  CHECK(y0[0] == Approx(207.6 * 0.693));
  CHECK(y0[1] == Approx(207.6 * (1 - 0.693)));
  // dy0/dratio from Jets through the initial-assignment tape.
  std::vector<double> jac(8 * model->num_parameters());
  model->initial_state_jacobian(p.data(), jac.data());
  CHECK(jac[0 + 8 * ratio] == Approx(207.6));
  CHECK(jac[1 + 8 * ratio] == Approx(-207.6));
}

TEST_CASE("SBML: Jet Jacobians of the compiled tape equal central differences") {
  core::Diagnostics diags;
  auto model = SbmlModel::read_file(kBoehm, diags);
  REQUIRE(model);
  const std::size_t n = model->num_states(), m = model->num_parameters();
  // Parameters and states of order one, so that central differences are accurate to 1e-8 or so.
  std::vector<double> p(m);
  for (std::size_t k = 0; k < m; ++k) p[k] = 0.2 + 0.1 * static_cast<double>(k);
  std::vector<double> y = {1.3, 0.9, 0.3, 0.2, 0.1, 0.5, 0.4, 0.3}, jy(n * n), jp(n * m), f1(n), f2(n);
  const double t = 7.0;
  model->jacobian(t, y.data(), p.data(), jy.data());
  model->parameter_jacobian(t, y.data(), p.data(), jp.data());
  for (std::size_t j = 0; j < n; ++j) {
    auto a = y, b = y;
    const double h = 1e-5;
    a[j] += h;
    b[j] -= h;
    model->rhs(t, a.data(), p.data(), f1.data());
    model->rhs(t, b.data(), p.data(), f2.data());
    for (std::size_t i = 0; i < n; ++i)
      CHECK(jy[i + n * j] == Approx((f1[i] - f2[i]) / (2 * h)).epsilon(1e-6).margin(1e-8));
  }
  for (std::size_t k = 0; k < m; ++k) {
    auto a = p, b = p;
    const double h = 1e-5;
    a[k] += h;
    b[k] -= h;
    model->rhs(t, y.data(), a.data(), f1.data());
    model->rhs(t, y.data(), b.data(), f2.data());
    for (std::size_t i = 0; i < n; ++i)
      CHECK(jp[i + n * k] == Approx((f1[i] - f2[i]) / (2 * h)).epsilon(1e-6).margin(1e-8));
  }
}

TEST_CASE("SBML: a time-triggered event is a jump the solver applies exactly at its time") {
  core::Diagnostics diags;
  auto model = SbmlModel::read_string(sbml(with_event(kDecay)), "event.xml", diags);
  INFO(diags.report());
  REQUIRE(model);
  const auto& p = model->default_parameters();
  REQUIRE(model->jump_times(p.data()) == std::vector<double>{5.0});
  // d[A]/dt = -c k [A] / c = -k [A]; at t = 5, A += 3.
  solvers::OdeOptions options;
  options.rtol = 1e-10;
  options.atol = 1e-14;
  solvers::OdeSolver solver(model, options);
  const std::vector<double> times = {0, 2.5, 5, 7.5, 10};
  std::vector<double> y0(1), out(times.size());
  model->initial_state(p.data(), y0.data());
  const auto r = solver.solve(p.data(), y0.data(), 0.0, times, out.data());
  INFO(r.flag_name << " " << r.message);
  REQUIRE(r.status == solvers::SolveStatus::kSuccess);
  const double k = 0.5, at5 = std::exp(-k * 5) + 3;
  CHECK(out[1] == Approx(std::exp(-k * 2.5)).epsilon(1e-8));
  CHECK(out[2] == Approx(at5).epsilon(1e-8));  // a record at the jump shows the state after it
  CHECK(out[3] == Approx(at5 * std::exp(-k * 2.5)).epsilon(1e-8));
  CHECK(out[4] == Approx(at5 * std::exp(-k * 5)).epsilon(1e-8));
  // The event changes A, so A is no longer conserved by anything; A stays non-negative.
  CHECK(model->state_is_nonnegative(0));
}

TEST_CASE("SBML: an input switched on at a parameter's time is a stop of the solve, states and sensitivities exact") {
  // d[A]/dt = -k [A] + piecewise(0, time < T, u): the inflow starts at T (not an output time).
  const std::string inflow = replace(kDecay, "    </listOfReactions>", R"(
      <reaction id="inflow" reversible="false">
        <listOfProducts><speciesReference species="A" stoichiometry="1" constant="true"/></listOfProducts>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>c</ci>
          <piecewise><piece><cn>0</cn><apply><lt/><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><ci>T</ci></apply></piece><otherwise><ci>u</ci></otherwise></piecewise>
        </apply></math></kineticLaw>
      </reaction>
    </listOfReactions>)");
  const std::string body = replace(inflow, R"(<parameter id="k" value="0.5" constant="true" units="per_second"/>)",
                                   R"(<parameter id="k" value="0.5" constant="true" units="per_second"/>
      <parameter id="T" value="3.3333333333333335" constant="true"/><parameter id="u" value="2" constant="true"/>)");
  const auto model = read_without_units(sbml(body), "switch.xml");
  CHECK_FALSE(model->has_jumps());
  const auto& p = model->default_parameters();
  const double T = 3.3333333333333335, k = 0.5, u = 2.0;
  REQUIRE(model->switch_times(p.data()) == std::vector<double>{T});
  // The right-hand side has its new form at T and its old one just before.
  double y = 1.0, before = 0.0, after = 0.0;
  model->rhs(std::nextafter(T, 0.0), &y, p.data(), &before);
  model->rhs(T, &y, p.data(), &after);
  CHECK(before == Approx(-k));
  CHECK(after == Approx(-k + u));

  const int ik = static_cast<int>(model->parameter_index("k")), iu = static_cast<int>(model->parameter_index("u"));
  const std::vector<double> times = {0, 1, 3, 3.5, 5, 8};
  for (const auto method : {solvers::Method::kBdf, solvers::Method::kRosenbrock}) {
    solvers::OdeOptions o;
    o.method = method;
    o.rtol = 1e-10;
    o.atol = 1e-14;
    o.sensitivity_parameters = {ik, iu};
    solvers::OdeSolver solver(model, o);
    std::vector<double> y0(1), out(times.size()), sens(times.size() * 2);
    model->initial_state(p.data(), y0.data());
    const auto r = solver.solve(p.data(), y0.data(), 0.0, times, out.data(), sens.data());
    INFO((method == solvers::Method::kBdf ? "CVODES" : "Rodas5P") << ": " << r.flag_name << " " << r.message);
    REQUIRE(r.status == solvers::SolveStatus::kSuccess);
    for (std::size_t i = 0; i < times.size(); ++i) {
      const double t = times[i], tau = t - T, AT = std::exp(-k * T), e = std::exp(-k * tau);
      const double A = t < T ? std::exp(-k * t) : AT * e + u / k * (1 - e);
      const double dk = t < T ? -t * std::exp(-k * t) : -T * AT * e - tau * AT * e + u * (tau * e / k - (1 - e) / (k * k));
      const double du = t < T ? 0.0 : (1 - e) / k;
      INFO("t = " << t);
      CHECK(out[i] == Approx(A).epsilon(1e-8));
      CHECK(sens[i * 2] == Approx(dk).epsilon(1e-6).margin(1e-9));
      CHECK(sens[i * 2 + 1] == Approx(du).epsilon(1e-6).margin(1e-9));
    }
  }
}

TEST_CASE("SBML: the Jacobian's sparsity comes from the compiled tape, a large sparse model's coloured Jacobian is exact") {
  // A chain of 120 species, A_i -> A_{i+1} at rate k A_i A_0 (A_0 reads into every reaction).
  const int n = 120;
  std::string species, reactions;
  for (int i = 0; i < n; ++i)
    species += R"(<species id="A)" + std::to_string(i) + R"(" compartment="c" initialConcentration=")" +
               (i == 0 ? "1" : "0.01") +
               R"(" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>)";
  for (int i = 1; i + 1 < n; ++i)
    reactions += R"(<reaction id="r)" + std::to_string(i) + R"(" reversible="false">
        <listOfReactants><speciesReference species="A)" + std::to_string(i) + R"(" stoichiometry="1" constant="true"/></listOfReactants>
        <listOfProducts><speciesReference species="A)" + std::to_string(i + 1) + R"(" stoichiometry="1" constant="true"/></listOfProducts>
        <listOfModifiers><modifierSpeciesReference species="A0"/></listOfModifiers>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>c</ci><ci>k</ci><ci>A)" +
                 std::to_string(i) + R"(</ci><ci>A0</ci></apply></math></kineticLaw></reaction>)";
  const std::string body = R"(<listOfCompartments><compartment id="c" size="1" constant="true"/></listOfCompartments>
    <listOfSpecies>)" + species + R"(</listOfSpecies>
    <listOfParameters><parameter id="k" value="3" constant="true"/></listOfParameters>
    <listOfReactions>)" + reactions + "</listOfReactions>";
  const auto model = read_without_units(sbml(body), "chain.xml");
  const auto pattern = model->jacobian_sparsity();
  // d[A_i]/dt reads A_i, A_{i-1} and A0; the diagonal is always in: 3 n - 3 entries, A0's column
  // has n - 1 (A0 is read by every reaction, but d[A0]/dt is 0: nothing consumes it).
  CHECK(pattern.nonzeros() == 3 * n - 3);
  CHECK(solvers::sparse_pays(*model));
  const core::ColumnColoring* c = model->jacobian_coloring();
  REQUIRE(c);
  CHECK(c->colors <= 4);
  const auto& p = model->default_parameters();
  std::vector<double> y(n);
  for (int i = 0; i < n; ++i) y[static_cast<std::size_t>(i)] = 0.5 + 0.01 * i;
  std::vector<double> jac(static_cast<std::size_t>(n) * n), f0(n), f1(n);
  model->jacobian(0.0, y.data(), p.data(), jac.data());
  // Against central differences of the right-hand side, column by column.
  for (int j = 0; j < n; ++j) {
    const double h = 1e-6;
    auto yp = y, ym = y;
    yp[static_cast<std::size_t>(j)] += h;
    ym[static_cast<std::size_t>(j)] -= h;
    model->rhs(0.0, yp.data(), p.data(), f1.data());
    model->rhs(0.0, ym.data(), p.data(), f0.data());
    for (int i = 0; i < n; ++i)
      REQUIRE(jac[static_cast<std::size_t>(i + n * j)] ==
              Approx((f1[static_cast<std::size_t>(i)] - f0[static_cast<std::size_t>(i)]) / (2 * h)).margin(1e-7));
  }
}

TEST_CASE("SBML: conservation laws hold in amounts across compartments of different volume") {
  // A (in c1, 2 L) -> B (in c2, 0.5 L): A V1 + B V2 is conserved, not A + B.
  const std::string body = R"(
    <listOfCompartments>
      <compartment id="c1" size="2" constant="true"/><compartment id="c2" size="0.5" constant="true"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="A" compartment="c1" initialConcentration="1" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
      <species id="B" compartment="c2" initialConcentration="0" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters><parameter id="k" value="0.3" constant="true"/></listOfParameters>
    <listOfReactions>
      <reaction id="transport" reversible="false">
        <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
        <listOfProducts><speciesReference species="B" stoichiometry="1" constant="true"/></listOfProducts>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>c1</ci><ci>k</ci><ci>A</ci></apply></math></kineticLaw>
      </reaction>
    </listOfReactions>
)";
  core::Diagnostics diags;
  auto model = SbmlModel::read_string(sbml(body), "two.xml", diags);
  INFO(diags.report());
  REQUIRE(model);
  const auto laws = model->linear_invariants();
  REQUIRE(laws.size() == 1);
  CHECK(laws[0].description == "c1*A + c2*B");
  const auto& p = model->default_parameters();
  CHECK(laws[0].weight(0, p.data()) == 2.0);
  CHECK(laws[0].weight(1, p.data()) == 0.5);
  solvers::OdeSolver solver(model, {});
  const std::vector<double> times = {0, 1, 5, 20};
  std::vector<double> y0(2), out(8);
  model->initial_state(p.data(), y0.data());
  solver.solve(p.data(), y0.data(), 0.0, times, out.data());
  for (std::size_t r = 0; r < times.size(); ++r) CHECK(2.0 * out[2 * r] + 0.5 * out[2 * r + 1] == Approx(2.0));
  CHECK(out[7] > 3.0);  // B's concentration rises above A's start: the volumes differ
}

TEST_CASE("SBML: mistakes and unsupported constructs are refused with the element and line") {
  SECTION("an unknown species in a kinetic law") {
    const auto report = read_errors(
        sbml(replace(kDecay, "<ci>A</ci></apply></math></kineticLaw>", "<ci>Aa</ci></apply></math></kineticLaw>")));
    CHECK_THAT(report, Catch::Contains("bad.xml:"));
    CHECK_THAT(report, Catch::Contains("'Aa'"));
  }
  SECTION("an algebraic rule") {
    const auto report = read_errors(sbml(replace(kDecay, "</listOfParameters>",
                                                 R"(<parameter id="x" constant="false"/></listOfParameters>
    <listOfRules><algebraicRule><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><minus/><ci>x</ci><cn>1</cn></apply></math></algebraicRule></listOfRules>)")));
    CHECK_THAT(report, Catch::Contains("algebraic rules are not supported"));
    CHECK_THAT(report, Catch::Contains("bad.xml:"));
  }
  SECTION("a delayed event and a state-triggered event") {
    const auto delayed = replace(
        with_event(kDecay), "<listOfEventAssignments>",
        R"(<delay><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>1</cn></math></delay><listOfEventAssignments>)");
    CHECK_THAT(read_errors(sbml(delayed)), Catch::Contains("dose: events with a delay are not supported"));
    const auto on_state = replace(
        with_event(kDecay),
        R"(<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>5</cn>)",
        "<ci>A</ci><cn>5</cn>");
    CHECK_THAT(read_errors(sbml(on_state)), Catch::Contains("only triggers of the form time >= E"));
  }
  SECTION("a delay in a kinetic law") {
    const auto report = read_errors(sbml(replace(
        kDecay, "<ci>A</ci></apply></math></kineticLaw>",
        R"(<apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/delay">delay</csymbol><ci>A</ci><cn>1</cn></apply></apply></math></kineticLaw>)")));
    CHECK_THAT(report, Catch::Contains("delay() is not supported"));
  }
  SECTION("a kinetic law whose units are not substance per time") {
    // k in 1/s times A in mol/L gives mol/(L s), but a rate must be mol/s: the compartment is missing.
    const auto xml = sbml(replace(kDecay, "<apply><times/><ci>c</ci><ci>k</ci><ci>A</ci></apply>",
                                  "<apply><times/><ci>k</ci><ci>A</ci></apply>"));
    // libSBML warns about it: under the default policy ('warn') the model loads with a warning
    // that says how to change the policy; 'strict' refuses it; 'ignore' says nothing.
    using domains::kinetics::UnitPolicy;
    for (const auto policy : {UnitPolicy::kWarn, UnitPolicy::kStrict, UnitPolicy::kIgnore}) {
      core::Diagnostics diags;
      domains::kinetics::SbmlOptions options;
      options.units = policy;
      const auto model = SbmlModel::read_string(xml, "bad.xml", diags, options);
      const std::string report = diags.report();
      INFO(report);
      CHECK((model == nullptr) == (policy == UnitPolicy::kStrict));
      CHECK(diags.has_errors() == (policy == UnitPolicy::kStrict));
      if (policy == UnitPolicy::kIgnore) {
        CHECK(diags.list().empty());
        continue;
      }
      CHECK_THAT(report, Catch::Contains("bad.xml:"));
      CHECK_THAT(report, Catch::Contains("units: "));
      CHECK_THAT(report, Catch::Contains(policy == UnitPolicy::kWarn ? "'units: strict' makes it an error"
                                                                     : "'units: warn' keeps libSBML's own severity"));
    }
  }
  SECTION("malformed XML") { CHECK_THAT(read_errors("<sbml><model"), Catch::Contains("bad.xml")); }
  SECTION("a missing file") {
    core::Diagnostics diags;
    CHECK_FALSE(SbmlModel::read_file("/nonexistent/model.xml", diags));
    CHECK_THAT(diags.report(), Catch::Contains("/nonexistent/model.xml"));
  }
}
