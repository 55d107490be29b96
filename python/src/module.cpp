// physynth._physynth: the engine's public API for Python (pybind11). No logic of its own: the
// Python package (physynth/__init__.py) turns these into load_scenario, run, open_run, feed.
// Arrays leave C++ without a copy: each numpy array owns the std::vector it views. The GIL is
// released while the engine works.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "physynth/active/rare_event.h"
#include "physynth/anchor/real_data.h"
#include "physynth/core/diagnostics.h"
#include "physynth/engine/anchor.h"
#include "physynth/engine/dataset.h"
#include "physynth/engine/feed.h"
#include "physynth/engine/fidelity_audit.h"
#include "physynth/engine/output_folder.h"
#include "physynth/engine/run.h"
#include "physynth/engine/run_folder.h"
#include "physynth/engine/scenario.h"

namespace py = pybind11;
using namespace physynth;

namespace {

// A numpy array over a vector it takes over (no copy), with the given shape.
template <class T>
py::array_t<T> adopt(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owned->data(), free_when_done);
}

std::vector<std::string> names_of(const std::vector<core::VariableInfo>& v) {
  std::vector<std::string> out;
  for (const auto& x : v) out.push_back(x.name);
  return out;
}

py::list strings(const std::vector<std::string>& v) {
  py::list out;
  for (const auto& s : v) out.append(s);
  return out;
}

// The shards of one run, back to back in sample order.
engine::Shard concatenate(std::vector<engine::Shard>&& shards) {
  if (shards.empty()) throw std::runtime_error("no shards");
  engine::Shard all = std::move(shards.front());
  for (std::size_t k = 1; k < shards.size(); ++k) {
    engine::Shard& s = shards[k];
    if (s.first_sample != all.first_sample + all.samples)
      throw std::runtime_error("shard " + std::to_string(s.index) + " does not follow the one before it");
    auto append = [](auto& to, auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    append(all.states, s.states);
    append(all.parameters, s.parameters);
    append(all.labels, s.labels);
    append(all.status, s.status);
    append(all.t_reached, s.t_reached);
    append(all.solver_stats, s.solver_stats);
    append(all.record_labels, s.record_labels);
    append(all.regime, s.regime);
    append(all.sensitivities, s.sensitivities);
    append(all.plot, s.plot);
    append(all.failure_flag, s.failure_flag);
    append(all.failure_message, s.failure_message);
    for (std::size_t c = 0; c < all.observations.size(); ++c)
      append(all.observations[c].values, s.observations[c].values);
    append(all.waveforms, s.waveforms);
    all.samples += s.samples;
  }
  return all;
}

// A shard's arrays and names as a dict of numpy arrays (the Python Run reads it).
py::dict shard_dict(engine::Shard&& s) {
  const auto S = static_cast<py::ssize_t>(s.samples), T = static_cast<py::ssize_t>(s.times.size());
  py::dict d;
  std::vector<std::int64_t> sample(s.samples);
  for (std::size_t i = 0; i < s.samples; ++i) sample[i] = static_cast<std::int64_t>(s.first_sample + i);
  d["sample"] = adopt(std::move(sample), {S});
  d["time_units"] = s.time_units;
  d["state_names"] = strings(s.state_names);
  d["state_units"] = strings(s.state_units);
  d["parameter_names"] = strings(s.parameter_names);
  d["parameter_units"] = strings(s.parameter_units);
  d["label_names"] = strings(s.label_names);
  d["label_units"] = strings(s.label_units);
  d["record_label_names"] = strings(s.record_label_names);
  d["record_label_units"] = strings(s.record_label_units);
  d["stat_names"] = strings(s.stat_names);
  d["sensitivity_names"] = strings(s.sensitivity_names);
  const auto N = static_cast<py::ssize_t>(s.state_names.size()), M = static_cast<py::ssize_t>(s.parameter_names.size()),
             L = static_cast<py::ssize_t>(s.label_names.size()),
             R = static_cast<py::ssize_t>(s.record_label_names.size()),
             K = static_cast<py::ssize_t>(s.sensitivity_names.size()),
             Q = static_cast<py::ssize_t>(s.stat_names.size());
  d["time"] = adopt(std::move(s.times), {T});
  d["states"] = adopt(std::move(s.states), {S, T, N});
  d["parameters"] = adopt(std::move(s.parameters), {S, M});
  d["labels"] = adopt(std::move(s.labels), {S, L});
  d["record_labels"] = adopt(std::move(s.record_labels), {S, T, R});
  d["status"] = adopt(std::move(s.status), {S});
  d["t_reached"] = adopt(std::move(s.t_reached), {S});
  d["solver_stats"] = adopt(std::move(s.solver_stats), {S, Q});
  if (!s.regime.empty()) d["regime"] = adopt(std::move(s.regime), {S, T});
  if (K > 0) d["sensitivities"] = adopt(std::move(s.sensitivities), {S, T, K, N});
  if (!s.plot.empty()) d["plot"] = adopt(std::move(s.plot), {S, 2});
  py::dict failures;
  for (std::size_t i = 0; i < s.failure_flag.size(); ++i)
    if (!s.failure_flag[i].empty())
      failures[py::int_(s.first_sample + i)] = py::make_tuple(s.failure_flag[i], s.failure_message[i]);
  d["failures"] = failures;
  py::dict obs;
  for (auto& o : s.observations) {
    const auto n = static_cast<py::ssize_t>(o.times.size());
    py::dict c;
    c["units"] = o.units;
    c["time"] = adopt(std::move(o.times), {n});
    c["values"] = adopt(std::move(o.values), {S, n});
    obs[py::str(o.name)] = c;
  }
  d["observations"] = obs;
  if (!s.waveforms.empty()) {
    py::dict w;
    const auto K = static_cast<py::ssize_t>(s.waveform_times.size()), Lw = static_cast<py::ssize_t>(s.waveform_length);
    w["units"] = s.waveform_units;
    w["sample_rate_hz"] = s.waveform_rate_hz;
    w["time"] = adopt(std::move(s.waveform_times), {K});
    w["signal"] = adopt(std::move(s.waveforms), {S, K, Lw});
    d["waveforms"] = w;
  }
  return d;
}

py::dict batch_dict(engine::WindowBatch&& b) {
  const auto n = static_cast<py::ssize_t>(b.size);
  py::dict d;
  d["x"] = adopt(std::move(b.features), {n, static_cast<py::ssize_t>(b.window), static_cast<py::ssize_t>(b.channels)});
  d["y"] = adopt(std::move(b.targets), {n});
  d["sample"] = adopt(std::move(b.samples), {n});
  d["reading"] = adopt(std::move(b.end_times), {n});
  d["time"] = adopt(std::move(b.times), {n});
  return d;
}

struct ScenarioHandle {
  std::shared_ptr<const engine::Scenario> scenario;
};

// A float64 array in C order, converted from whatever the caller passed.
using Doubles = py::array_t<double, py::array::c_style | py::array::forcecast>;

// The scenario's model, after checking that p (and y) have its sizes; ValueError otherwise.
const core::Model& model_for(const ScenarioHandle& h, const Doubles& p, const Doubles* y = nullptr) {
  const core::Model& m = *h.scenario->model.model;
  if (static_cast<std::size_t>(p.size()) != m.num_parameters())
    throw py::value_error("p must have one value per parameter (" + std::to_string(m.num_parameters()) + ": " +
                          "see parameter_names), got " + std::to_string(p.size()));
  if (y && static_cast<std::size_t>(y->size()) != m.num_states())
    throw py::value_error("y must have one value per state (" + std::to_string(m.num_states()) + ": " +
                          "see state_names), got " + std::to_string(y->size()));
  return m;
}

py::list diagnostic_list(const core::Diagnostics& diagnostics) {
  py::list items;
  for (const auto& d : diagnostics.list())
    items.append(py::make_tuple(d.severity == core::Diagnostic::Severity::kError ? "error" : "warning", d.where.file,
                                d.where.line, d.where.column, d.message));
  return items;
}

engine::Split split_named(const std::string& name) {
  engine::Split split{};
  if (!engine::parse_split(name, &split))
    throw py::value_error("split '" + name + "': one of 'train', 'validation', 'test'");
  return split;
}

// Finite or endless batches of one split, computed on the fly (engine::FeedStream).
class Feed {
 public:
  Feed(const ScenarioHandle& h, const std::string& split, bool endless, int threads)
      : scenario_(h.scenario), stream_(*scenario_, split_named(split), endless, threads) {}
  py::object next() {
    engine::WindowBatch batch;
    bool more = false;
    {
      py::gil_scoped_release release;
      more = stream_.next(&batch);
    }
    if (!more) return py::none();
    return batch_dict(std::move(batch));
  }

 private:
  std::shared_ptr<const engine::Scenario> scenario_;
  engine::FeedStream stream_;
};

// A scenario's shards computed in memory, one at a time (DataLoader workers take disjoint ones).
class Generator {
 public:
  Generator(const ScenarioHandle& h, int threads) : scenario_(h.scenario), generator_(*scenario_, threads) {}
  std::uint64_t num_shards() const { return generator_.num_shards(); }
  py::dict shard(std::uint64_t index) {
    if (index >= generator_.num_shards())
      throw py::index_error("shard " + std::to_string(index) + " of " + std::to_string(generator_.num_shards()));
    engine::Shard s;
    {
      py::gil_scoped_release release;
      s = generator_.shard(index);
    }
    return shard_dict(std::move(s));
  }
  py::object windows(std::uint64_t index, const std::string& split) {
    const engine::Split which = split_named(split);
    engine::WindowBatch batch;
    {
      py::gil_scoped_release release;
      const engine::Shard s = generator_.shard(index);
      engine::append_windows(*scenario_, s, which, &batch);
    }
    return batch_dict(std::move(batch));
  }
  py::dict all() {
    std::vector<engine::Shard> shards;
    {
      py::gil_scoped_release release;
      for (std::uint64_t k = 0; k < generator_.num_shards(); ++k) shards.push_back(generator_.shard(k));
    }
    return shard_dict(concatenate(std::move(shards)));
  }

 private:
  std::shared_ptr<const engine::Scenario> scenario_;
  engine::ShardGenerator generator_;
};

}  // namespace

PYBIND11_MODULE(_physynth, m) {
  m.doc() = "physynth's engine (use the physynth package, not this module)";
  m.attr("__version__") = engine::physynth_version();

  py::class_<ScenarioHandle>(m, "Scenario")
      .def_property_readonly("file", [](const ScenarioHandle& h) { return h.scenario->file; })
      .def_property_readonly("name", [](const ScenarioHandle& h) { return h.scenario->name; })
      .def_property_readonly("domain", [](const ScenarioHandle& h) { return h.scenario->domain; })
      .def_property_readonly("samples", [](const ScenarioHandle& h) { return h.scenario->samples; })
      .def_property_readonly("seed", [](const ScenarioHandle& h) { return h.scenario->seed; })
      .def_property_readonly("overrides", [](const ScenarioHandle& h) { return h.scenario->overrides; })
      .def_property_readonly("time_units", [](const ScenarioHandle& h) { return h.scenario->time_units; })
      .def_property_readonly("feed_channels", [](const ScenarioHandle& h) { return h.scenario->feed.channels; })
      .def_property_readonly("feed_target", [](const ScenarioHandle& h) { return h.scenario->feed.target; })
      .def_property_readonly("feed_batch_size", [](const ScenarioHandle& h) { return h.scenario->feed.batch_size; })
      .def_property_readonly("resolved_json", [](const ScenarioHandle& h) { return h.scenario->resolved.dump(); })
      // The scenario's model itself, for use beside other tools (SciPy's integrators, a
      // user's own code): names, the nominal parameters, y0(p), f(t, y, p) and df/dy.
      .def_property_readonly("state_names",
                             [](const ScenarioHandle& h) { return names_of(h.scenario->model.model->states()); })
      .def_property_readonly("parameter_names",
                             [](const ScenarioHandle& h) { return names_of(h.scenario->model.model->parameters()); })
      .def("initial_state",
           [](const ScenarioHandle& h, Doubles p) {
             const core::Model& m = model_for(h, p);
             std::vector<double> y0(m.num_states());
             m.initial_state(p.data(), y0.data());
             return adopt(std::move(y0), {static_cast<py::ssize_t>(m.num_states())});
           })
      .def("rhs",
           [](const ScenarioHandle& h, double t, Doubles y, Doubles p) {
             const core::Model& m = model_for(h, p, &y);
             std::vector<double> f(m.num_states());
             m.rhs(t, y.data(), p.data(), f.data());
             return adopt(std::move(f), {static_cast<py::ssize_t>(m.num_states())});
           })
      .def("jacobian", [](const ScenarioHandle& h, double t, Doubles y, Doubles p) {
        const core::Model& m = model_for(h, p, &y);
        const auto n = static_cast<py::ssize_t>(m.num_states());
        std::vector<double> column_major(static_cast<std::size_t>(n * n)), J(column_major.size());
        m.jacobian(t, y.data(), p.data(), column_major.data());
        for (py::ssize_t i = 0; i < n; ++i)
          for (py::ssize_t j = 0; j < n; ++j)
            J[static_cast<std::size_t>(i * n + j)] = column_major[static_cast<std::size_t>(i + n * j)];
        return adopt(std::move(J), {n, n});
      });

  // (scenario or None, [(severity, file, line, column, message)], report text)
  m.def("load_scenario", [](const std::string& path, const std::vector<std::string>& overrides) {
    core::Diagnostics diagnostics;
    std::optional<engine::Scenario> s;
    {
      py::gil_scoped_release release;
      s = engine::load_scenario(path, overrides, diagnostics);
    }
    py::object handle = py::none();
    if (s) handle = py::cast(ScenarioHandle{std::make_shared<const engine::Scenario>(std::move(*s))});
    return py::make_tuple(handle, diagnostic_list(diagnostics), diagnostics.report());
  });

  m.def(
      "run",
      [](const ScenarioHandle& h, const std::string& out, int threads, bool overwrite) {
        engine::RunOptions o;
        o.output_directory = out;
        o.threads = threads;
        o.overwrite = overwrite;
        engine::RunSummary r;
        {
          py::gil_scoped_release release;
          // sampling.condition: the rare-event sampler draws the samples, as physynth run does.
          r = active::run(*h.scenario, o);
        }
        py::dict d;
        d["completed"] = r.completed;
        d["refused"] = r.refused;
        d["message"] = r.message;
        d["directory"] = r.directory;
        d["samples"] = r.samples;
        d["ok"] = r.ok;
        d["stopped_by_event"] = r.stopped_by_event;
        d["failed"] = r.failed;
        d["wall_s"] = r.wall_s;
        d["files"] = r.files;
        return d;
      },
      py::arg("scenario"), py::arg("out"), py::arg("threads") = 0, py::arg("overwrite") = false);

  // (manifest JSON text, the shards' arrays back to back)
  m.def("open_run", [](const std::string& dir) {
    engine::RunFolder folder;
    std::vector<engine::Shard> shards;
    {
      py::gil_scoped_release release;
      folder = engine::open_run_folder(dir, true, "physynth.open_run");
      for (const auto& path : folder.hdf5_shards) shards.push_back(engine::read_hdf5(path));
    }
    return py::make_tuple(folder.manifest.dump(), shard_dict(concatenate(std::move(shards))));
  });

  // Calibrates a scenario on real data into `out`, as `physynth anchor` does (the folder held and
  // its earlier physynth files removed first; a user's files refuse it). Returns
  // (None, diagnostics, report) when the data or the problem is refused, else
  // (result dict, [], "").
  m.def(
      "anchor",
      [](const ScenarioHandle& h, const std::string& data_file, const std::string& out, int starts, int threads) {
        engine::Scenario s = *h.scenario;
        if (starts > 0) s.anchor.options.starts = starts;
        s.anchor.options.threads = threads;
        const std::string file = data_file.empty() ? s.anchor.data : data_file;
        core::Diagnostics diagnostics;
        if (file.empty()) diagnostics.error({s.file, 0, 0}, "no real data: give data= or anchor.data in the scenario");
        std::optional<anchor::RealData> data;
        std::optional<anchor::CalibrationProblem> problem;
        if (!file.empty()) data = anchor::read_real_data(file, diagnostics);
        if (data) problem = engine::calibration_problem(s, *data, diagnostics);
        if (!problem)
          return py::make_tuple(py::none(), diagnostic_list(diagnostics), diagnostics.report("nothing was calibrated"));
        engine::AnchorResult r;
        {
          py::gil_scoped_release release;
          const auto folder = engine::OutputFolder::take(out, "anchor");
          folder->remove_physynth_files();
          r = engine::run_anchor(s, *data, *problem, out);
        }
        py::dict d;
        d["success"] = r.calibration.success;
        d["message"] = r.calibration.message;
        d["seconds"] = r.calibration.seconds;
        d["files"] = r.files;
        d["log_likelihood_before"] = r.before.log_likelihood;
        d["log_likelihood_after"] = r.after.log_likelihood;
        return py::make_tuple(d, py::list(), std::string());
      },
      py::arg("scenario"), py::arg("data"), py::arg("out"), py::arg("starts") = 0, py::arg("threads") = 0);

  // The fidelity audit of a run folder against real data (`physynth audit`), as JSON text; or
  // (None, diagnostics, report) when the real data are refused.
  m.def(
      "audit",
      [](const std::string& run_dir, const std::string& real_file, const std::string& label, int permutations,
         std::uint64_t seed, std::size_t max_units, int neighbours) {
        core::Diagnostics diagnostics;
        const auto real = anchor::read_real_data(real_file, diagnostics);
        if (!real)
          return py::make_tuple(py::none(), diagnostic_list(diagnostics), diagnostics.report("nothing was audited"));
        std::string text;
        {
          py::gil_scoped_release release;
          engine::FidelityAuditOptions opt;
          opt.permutations = permutations;
          opt.seed = seed;
          opt.label = label;
          opt.neighbours = neighbours;
          const auto audit = engine::audit_run(run_dir, *real, opt, max_units);
          text = audit.dump();
        }
        return py::make_tuple(py::str(text), py::list(), std::string());
      },
      py::arg("run"), py::arg("real"), py::arg("label") = "", py::arg("permutations") = 500, py::arg("seed") = 0,
      py::arg("max_units") = 2000, py::arg("neighbours") = 5);

  py::class_<Generator>(m, "Generator")
      .def(py::init<const ScenarioHandle&, int>(), py::arg("scenario"), py::arg("threads") = 0)
      .def_property_readonly("num_shards", &Generator::num_shards)
      .def("shard", &Generator::shard)
      .def("windows", &Generator::windows)
      .def("all", &Generator::all);

  py::class_<Feed>(m, "Feed")
      .def(py::init<const ScenarioHandle&, const std::string&, bool, int>(), py::arg("scenario"), py::arg("split"),
           py::arg("endless") = false, py::arg("threads") = 0)
      .def("next", &Feed::next);

  // Engine errors a user can cause (a folder that is not a run, a damaged file) arrive as
  // RuntimeError with the engine's message; invalid arguments as ValueError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
}
