#include "physynth/engine/petab_scenario.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "expression.h"

namespace physynth::engine {

namespace {

using domains::kinetics::PetabMeasurement;
using domains::kinetics::PetabObservable;
using domains::kinetics::PetabProblem;
using domains::kinetics::PetabValue;

// `text` with every identifier found in `with` replaced by its text (a number in parentheses).
std::string substitute(const std::string& text, const std::map<std::string, std::string>& with) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (std::isalpha(c) || c == '_') {
      std::size_t j = i;
      while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
      const std::string word = text.substr(i, j - i);
      const auto it = with.find(word);
      out += it == with.end() ? word : it->second;
      i = j;
    } else if (std::isdigit(c) || c == '.') {  // a number, with its exponent (1e-5 is no identifier 'e')
      std::size_t j = i;
      while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) ++j;
      if (j < text.size() && (text[j] == 'e' || text[j] == 'E')) {
        std::size_t k = j + 1;
        if (k < text.size() && (text[k] == '+' || text[k] == '-')) ++k;
        if (k < text.size() && std::isdigit(static_cast<unsigned char>(text[k]))) {
          j = k;
          while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
        }
      }
      out += text.substr(i, j - i);
      i = j;
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  const auto b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// How an observable's σ reaches the scenario.
struct Noise {
  enum Kind { kKnown, kPerRow, kEstimated } kind = kKnown;
  double sigma = 0.0;           // kKnown, and the start of kEstimated (on the observable's scale)
  std::vector<double> per_row;  // kPerRow: per measurement of the observable
};

}  // namespace

std::optional<PetabScenario> petab_to_scenario(const PetabProblem& problem, const std::string& problem_path,
                                               const std::string& scenario_path, const std::string& data_name,
                                               core::Diagnostics& diags) {
  const std::size_t errors_before = diags.error_count();
  const auto& model = problem.model();
  const auto& parameters = problem.parameters();
  const auto& measurements = problem.measurements();
  const auto& observables = problem.observables();
  const auto& conditions = problem.conditions();
  const std::vector<double> nominal = problem.nominal_values();
  const std::string parameter_file = problem.files().at("parameter_file").front();
  std::map<std::string, int> petab_index;
  for (std::size_t q = 0; q < parameters.size(); ++q) petab_index[parameters[q].id] = static_cast<int>(q);

  // A number, or a PEtab parameter that is not estimated (its nominal value); else refused.
  const auto fixed_value = [&](const PetabValue& v, const std::string& where, const core::SourceLocation& at,
                               double* out) {
    if (v.parameter < 0) {
      *out = v.number;
      return true;
    }
    const auto& p = parameters[static_cast<std::size_t>(v.parameter)];
    if (p.estimate) {
      diags.error(at, where + " is the estimated parameter '" + p.id +
                          "', which a scenario cannot fit there (only model parameters and one σ per observable)");
      return false;
    }
    *out = nominal[static_cast<std::size_t>(v.parameter)];
    return true;
  };

  // Measurements: refused constructs, reported once each with the first row and the count.
  std::size_t preequilibrated = 0, at_inf = 0;
  const PetabMeasurement *first_pre = nullptr, *first_inf = nullptr;
  for (const auto& m : measurements) {
    if (m.preequilibration >= 0 && !preequilibrated++) first_pre = &m;
    if (std::isinf(m.time) && !at_inf++) first_inf = &m;
  }
  if (first_pre)
    diags.error({first_pre->file, first_pre->line, 0},
                "preequilibration (" + std::to_string(preequilibrated) +
                    " measurements): a scenario starts every unit from the model's initial state; "
                    "use physynth petab --llh or --calibrate for this problem");
  if (first_inf)
    diags.error({first_inf->file, first_inf->line, 0},
                "a measurement at time inf (" + std::to_string(at_inf) +
                    " measurements): a scenario has no steady-state readings; use physynth petab --llh or --calibrate");

  // Observables.
  std::map<int, std::vector<std::string>> sigma_of;  // estimated σ parameter -> the observables it is σ of
  std::vector<std::string> expressions(observables.size());
  std::vector<Noise> noises(observables.size());
  const auto variables = expression_variables(model);
  std::vector<double> p0 = model.default_parameters();
  for (std::size_t q = 0; q < parameters.size(); ++q)
    if (const int j = model.parameter_index(parameters[q].id); j >= 0) p0[static_cast<std::size_t>(j)] = nominal[q];
  std::vector<double> y0(model.num_states());
  model.initial_state(p0.data(), y0.data());
  for (std::size_t o = 0; o < observables.size(); ++o) {
    const PetabObservable& obs = observables[o];
    const core::SourceLocation at{obs.file, obs.line, 0};
    std::vector<const PetabMeasurement*> rows;
    for (const auto& m : measurements)
      if (m.observable == static_cast<int>(o)) rows.push_back(&m);
    if (rows.empty()) continue;
    if (obs.distribution != "normal") {
      diags.error(at, "observable '" + obs.id + "': noiseDistribution " + obs.distribution +
                          " (the scenario's anchor has normal and log-normal noise only)");
      continue;
    }
    // Placeholders and PEtab-only parameters in the formula become numbers.
    std::map<std::string, std::string> with;
    for (const auto& p : parameters)
      if (model.parameter_index(p.id) < 0 && !p.estimate)
        with[p.id] = "(" + core::format_number(nominal[static_cast<std::size_t>(petab_index[p.id])]) + ")";
    bool same = true;
    for (const auto* m : rows) {
      same = same && m->observable_parameters.size() == rows[0]->observable_parameters.size();
      for (std::size_t k = 0; same && k < m->observable_parameters.size(); ++k)
        same = m->observable_parameters[k].parameter == rows[0]->observable_parameters[k].parameter &&
               (m->observable_parameters[k].parameter >= 0 ||
                m->observable_parameters[k].number == rows[0]->observable_parameters[k].number);
      if (!same) {
        diags.error({m->file, m->line, 0}, "observable '" + obs.id +
                                               "': observableParameters differ between its measurements; a scenario "
                                               "channel has one formula");
        break;
      }
    }
    if (!same) continue;
    bool ok = true;
    for (std::size_t k = 0; k < rows[0]->observable_parameters.size(); ++k) {
      double v = 0.0;
      ok = fixed_value(rows[0]->observable_parameters[k],
                       "observable '" + obs.id + "': observableParameter " + std::to_string(k + 1),
                       {rows[0]->file, rows[0]->line, 0}, &v) &&
           ok;
      with["observableParameter" + std::to_string(k + 1) + "_" + obs.id] = "(" + core::format_number(v) + ")";
    }
    if (!ok) continue;
    expressions[o] = substitute(obs.formula_text, with);

    // The same function? Compared at the start and at moved states and times.
    try {
      Expression e(expressions[o], variables);
      std::vector<double> ext = p0, values(variables.size());
      for (const auto& name : obs.formula->extra) {
        const auto it = with.find(name);
        ext.push_back(it == with.end() ? 0.0 : std::stod(it->second.substr(1)));
      }
      for (int trial = 0; trial < 3 && ok; ++trial) {
        std::vector<double> y = y0;
        for (std::size_t i = 0; i < y.size(); ++i) y[i] = y[i] * (1.0 + 0.1 * trial) + 0.01 * trial * (i + 1);
        const double t = 1.5 * trial;
        const double reference = obs.formula->evaluate(t, y.data(), ext.data());
        expression_values(model, t, y.data(), p0.data(), values.data());
        const double mine = e.evaluate(values.data());
        // (equal infinities agree: log of a state that starts at 0)
        if (!(mine == reference || std::fabs(mine - reference) <= 1e-9 * std::max(1.0, std::fabs(reference))) &&
            !(std::isnan(mine) && std::isnan(reference))) {
          diags.error(at, "observable '" + obs.id + "': the formula '" + obs.formula_text + "' written as '" +
                              expressions[o] + "' gives " + core::format_number(mine) + " where PEtab's gives " +
                              core::format_number(reference) + " (the scenario's expressions read it differently)");
          ok = false;
        }
      }
    } catch (const std::exception& ex) {
      diags.error(at, "observable '" + obs.id + "': the formula '" + obs.formula_text +
                          "' cannot be written as a scenario expression: " + ex.what());
      ok = false;
    }
    if (!ok) continue;

    // Noise: one parameter per observable (estimated or not), a number, or numbers per row.
    Noise& noise = noises[o];
    const double to_ln = obs.transformation == "log10" ? std::log(10.0) : 1.0;
    const std::string formula = trim(obs.noise_text);
    const std::string placeholder = "noiseParameter1_" + obs.id;
    std::vector<PetabValue> per_row;
    if (formula == placeholder) {
      for (const auto* m : rows) {
        if (m->noise_parameters.size() != 1) {
          diags.error({m->file, m->line, 0}, "observable '" + obs.id + "': noiseParameters must give one value here");
          ok = false;
          break;
        }
        per_row.push_back(m->noise_parameters[0]);
      }
    } else if (auto it = petab_index.find(formula); it != petab_index.end()) {
      per_row.assign(rows.size(), PetabValue{0.0, it->second});
    } else if (double v = 0.0; !formula.empty() && (std::istringstream(formula) >> v) &&
                               formula.find_first_not_of("0123456789.eE+-") == std::string::npos) {
      per_row.assign(rows.size(), PetabValue{v, -1});
    } else {
      diags.error(at, "observable '" + obs.id + "': noiseFormula '" + obs.noise_text +
                          "' is neither a number nor one parameter (a σ that depends on the simulation or on several "
                          "parameters has no scenario noise model)");
      ok = false;
    }
    if (!ok) continue;
    const bool one_parameter = std::all_of(per_row.begin(), per_row.end(), [&](const PetabValue& v) {
      return v.parameter >= 0 && v.parameter == per_row[0].parameter;
    });
    if (one_parameter && parameters[static_cast<std::size_t>(per_row[0].parameter)].estimate) {
      sigma_of[per_row[0].parameter].push_back(obs.id);
      noise.kind = Noise::kEstimated;
      noise.sigma = nominal[static_cast<std::size_t>(per_row[0].parameter)] * to_ln;
      continue;
    }
    for (std::size_t r = 0; r < rows.size() && ok; ++r) {
      double v = 0.0;
      ok = fixed_value(per_row[r], "observable '" + obs.id + "': σ", {rows[r]->file, rows[r]->line, 0}, &v);
      noise.per_row.push_back(v * to_ln);
    }
    if (!ok) continue;
    const bool constant =
        std::all_of(noise.per_row.begin(), noise.per_row.end(), [&](double v) { return v == noise.per_row[0]; });
    if (constant) {
      noise.kind = Noise::kKnown;
      noise.sigma = noise.per_row[0];
    } else if (obs.transformation != "lin") {
      diags.error(at, "observable '" + obs.id + "': σ differs between its measurements on a " + obs.transformation +
                          " scale (a reading's own sd is on the linear scale)");
    } else {
      noise.kind = Noise::kPerRow;
    }
  }

  // Estimated parameters must be the model's, or σ of one observable: what the anchor fits.
  for (std::size_t q = 0; q < parameters.size(); ++q) {
    const auto& p = parameters[q];
    if (!p.estimate || model.parameter_index(p.id) >= 0) continue;
    const auto it = sigma_of.find(static_cast<int>(q));
    if (it == sigma_of.end())
      diags.error(
          {parameter_file, 0, 0},
          "parameter '" + p.id +
              "' is estimated but is neither a parameter of the SBML model nor the σ of "
              "an observable (an observable's scaling or offset, say); a scenario's anchor fits model parameters "
              "and one σ per observable only");
    else if (it->second.size() > 1)
      diags.error({parameter_file, 0, 0}, "parameter '" + p.id + "' is the σ of " + core::join(it->second) +
                                              "; a scenario's anchor fits one σ per observable");
  }

  // Conditions as units: the condition table's numbers as covariates.
  std::vector<int> used;
  for (const auto& m : measurements)
    if (std::find(used.begin(), used.end(), m.condition) == used.end()) used.push_back(m.condition);
  std::set<int> override_columns;
  for (const int c : used)
    for (const auto& [index, v] : conditions[static_cast<std::size_t>(c)].overrides) override_columns.insert(index);
  std::vector<int> covariates(override_columns.begin(), override_columns.end());
  std::map<int, std::vector<double>> covariate_values;  // condition -> per covariate
  for (const int c : used) {
    std::vector<double> row;
    for (const int j : covariates) {
      double v = p0[static_cast<std::size_t>(j)];
      for (const auto& [index, value] : conditions[static_cast<std::size_t>(c)].overrides)
        if (index == j)
          fixed_value(value,
                      "condition '" + conditions[static_cast<std::size_t>(c)].id +
                          "': " + model.parameters()[static_cast<std::size_t>(j)].name,
                      {problem.files().at("condition_files").front(), 0, 0}, &v);
      row.push_back(v);
    }
    covariate_values[c] = row;
  }
  for (const int j : covariates) {
    const std::string& name = model.parameters()[static_cast<std::size_t>(j)].name;
    if (auto it = petab_index.find(name);
        it != petab_index.end() && parameters[static_cast<std::size_t>(it->second)].estimate)
      diags.error({problem.files().at("condition_files").front(), 1, 0},
                  "condition column '" + name +
                      "' sets an estimated parameter per condition; a scenario's anchor "
                      "fits one value for every unit");
  }
  if (diags.error_count() > errors_before) return std::nullopt;

  // The files.
  PetabScenario out;
  const bool any_sd =
      std::any_of(noises.begin(), noises.end(), [](const Noise& n) { return n.kind == Noise::kPerRow; });
  std::ostringstream csv;
  csv << "unit,time,observable,value" << (any_sd ? ",sd" : "");
  for (const int j : covariates) csv << "," << model.parameters()[static_cast<std::size_t>(j)].name;
  csv << "\n";
  std::map<int, std::size_t> row_of;  // per observable: its next row
  // Rows grouped by unit (condition), in time order within each observable (the reader needs it).
  for (const int c : used) {
    std::vector<const PetabMeasurement*> rows;
    for (const auto& m : measurements)
      if (m.condition == c) rows.push_back(&m);
    std::stable_sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) {
      return a->observable != b->observable ? a->observable < b->observable : a->time < b->time;
    });
    for (const auto* m : rows) {
      const auto o = static_cast<std::size_t>(m->observable);
      std::size_t r = 0;  // the row's index among its observable's measurements
      for (const auto& x : measurements) {
        if (&x == m) break;
        r += x.observable == m->observable;
      }
      csv << conditions[static_cast<std::size_t>(c)].id << "," << core::format_number(m->time) << ","
          << observables[o].id << "," << core::format_number(m->value);
      if (any_sd) csv << "," << (noises[o].kind == Noise::kPerRow ? core::format_number(noises[o].per_row[r]) : "");
      for (double v : covariate_values[c]) csv << "," << core::format_number(v);
      csv << "\n";
    }
  }
  out.csv = csv.str();

  const std::filesystem::path folder = std::filesystem::absolute(scenario_path).parent_path();
  const auto rel = [&](const std::string& f) {
    return std::filesystem::relative(std::filesystem::absolute(f), folder).generic_string();
  };
  std::set<double> time_set = {0.0};
  for (const auto& m : measurements) time_set.insert(m.time);
  if (time_set.size() < 2) time_set.insert(1.0);
  std::ostringstream y;
  const std::string stem = std::filesystem::path(problem_path).stem().string();
  y << "# The PEtab problem " << problem_path << " as a physynth scenario (physynth petab --scenario).\n"
    << "# Parameters at the nominal values; each condition is a unit of " << data_name
    << " with the condition table's values as covariates.\n"
    << "name: " << stem << "\ndescription: PEtab problem " << stem << "\ndomain: kinetics\n\n"
    << "model:\n  sbml: " << rel(problem.files().at("sbml_files").front()) << "\n\nparameters:\n";
  bool any_parameter = false;
  for (std::size_t q = 0; q < parameters.size(); ++q)
    if (model.parameter_index(parameters[q].id) >= 0) {
      y << "  " << parameters[q].id << ": " << core::format_number(nominal[q]) << "\n";
      any_parameter = true;
    }
  if (!any_parameter) y << "  {}\n";
  y << "\nsampling: {samples: 1, seed: 1}\n\ntime:\n  values: [";
  bool first = true;
  for (double t : time_set) y << (first ? "" : ", ") << core::format_number(t), first = false;
  y << "]\n\nsolver: {method: bdf, rtol: 1.0e-8, atol: 1.0e-12, max_steps: 1000000}\n\nobservations:\n";
  for (std::size_t o = 0; o < observables.size(); ++o) {
    if (expressions[o].empty()) continue;
    const auto& n = noises[o];
    const bool log_scale = observables[o].transformation != "lin";
    y << "  - name: " << observables[o].id << "\n    expression: \"" << expressions[o] << "\"\n";
    if (n.kind != Noise::kPerRow && n.sigma > 0.0)
      y << "    noise: {" << (log_scale ? "log_sd" : "additive_sd") << ": " << core::format_number(n.sigma) << "}\n";
  }
  y << "\nanchor:\n  data: " << data_name << "\n  observables:\n";
  for (std::size_t o = 0; o < observables.size(); ++o) {
    if (expressions[o].empty()) continue;
    const auto& n = noises[o];
    y << "    - {name: " << observables[o].id
      << ", noise: " << (observables[o].transformation == "lin" ? "additive" : "log_normal");
    if (n.kind == Noise::kKnown) y << ", sigma: " << core::format_number(n.sigma);
    y << "}\n";
  }
  y << "  fit:\n";
  bool any_fit = false;
  for (std::size_t q = 0; q < parameters.size(); ++q)
    if (parameters[q].estimate && model.parameter_index(parameters[q].id) >= 0) {
      y << "    - {parameter: " << parameters[q].id << ", low: " << core::format_number(parameters[q].lower)
        << ", high: " << core::format_number(parameters[q].upper)
        << ", log: " << (parameters[q].scale == "lin" ? "false" : "true") << "}\n";
      any_fit = true;
    }
  if (!any_fit) {
    diags.error({parameter_file, 0, 0}, "no model parameter is estimated: the scenario's anchor would fit nothing");
    return std::nullopt;
  }
  y << "  starts: 10\n  seed: 1\n\noutput: {formats: [hdf5, csv]}\n";
  out.yaml = y.str();
  return out;
}

}  // namespace physynth::engine
