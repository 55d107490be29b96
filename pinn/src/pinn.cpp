// The parametric PINN (pinn.h): batch evaluation, errors against a solver, save and load. The
// implementation it shares with training is pinn_impl.h; training is pinn_train.cpp.
#include "pinn_impl.h"

namespace physynth::pinn {

Pinn::Pinn(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pinn::Pinn(Pinn&&) noexcept = default;
Pinn& Pinn::operator=(Pinn&&) noexcept = default;
Pinn::~Pinn() = default;

const nlohmann::json& Pinn::metadata() const { return impl_->meta; }
void Pinn::set_threads(int threads) { use_threads(threads); }
bool cuda_available() { return torch::cuda::is_available(); }
const std::vector<ParameterRange>& Pinn::ranges() const { return impl_->ranges; }
double Pinn::t0() const { return impl_->t0; }
double Pinn::t1() const { return impl_->t1; }

std::string Pinn::sidecar_path(const std::string& path) {
  fs::path p(path);
  return p.extension() == ".pt" ? p.replace_extension(".json").string() : path + ".json";
}

std::string Pinn::check_parameters(const double* p) const {
  for (std::size_t k = 0; k < impl_->ranges.size(); ++k) {
    const ParameterRange& r = impl_->ranges[k];
    if (!(p[k] >= r.low && p[k] <= r.high)) {
      const std::string range =
          r.fixed() ? "was fixed at " + core::format_number(r.low)
                    : "covers [" + core::format_number(r.low) + ", " + core::format_number(r.high) + "]";
      return "parameter " + r.name + " = " + core::format_number(p[k]) + " is outside the range the network " + range +
             " (trained networks are not extrapolated)";
    }
  }
  return {};
}

void Pinn::predict(const double* p, std::size_t count, const std::vector<double>& times, double* states) const {
  impl_->predict(p, count, times, states);
}

void Pinn::residual(const double* p, std::size_t count, int points, double* rms) const {
  torch::NoGradGuard no_grad;
  impl_->residual_rows(impl_->sample_batch(p, count), points, rms);
}

void Pinn::predict_and_residual(const double* p, std::size_t count, const std::vector<double>& times, int points,
                                double* states, double* rms) const {
  torch::NoGradGuard no_grad;
  const Batch once = impl_->sample_batch(p, count);
  impl_->predict_rows(once, times, states);
  impl_->residual_rows(once, points, rms);
}

void Pinn::set_float32_layers(bool on) { impl_->set_float32_layers(on); }
void Pinn::set_output_by_rows(bool on) { impl_->rows_after_network = on; }

ErrorSummary Pinn::error_against_solver(std::size_t count, std::uint64_t seed, const solvers::OdeOptions& solver,
                                        const std::vector<double>& times) const {
  torch::manual_seed(seed);
  const std::vector<double> P = impl_->draw_parameters(count);
  const std::vector<double> y = reference(*impl_, P, solver, times);
  std::vector<double> u(y.size());
  predict(P.data(), count, times, u.data());
  return compare(u, y, count, times.size(), impl_->n());
}

void Pinn::time_derivatives(const double* p, std::size_t count, const double* t, bool forward_mode,
                            double* dudt) const {
  const Impl& im = *impl_;
  std::vector<double> th(count);
  for (std::size_t s = 0; s < count; ++s) th[s] = im.t_hat(t[s]);
  const Batch b = im.make_batch(th, std::vector<double>(p, p + count * im.m()));
  Tensor du;
  if (forward_mode) {
    torch::NoGradGuard no_grad;
    du = im.forward_mode(b).second;
  } else {
    du = im.reverse_mode(b, false).second;
  }
  const Tensor c = du.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  std::copy(c.data_ptr<double>(), c.data_ptr<double>() + count * im.n(), dudt);
}

double Pinn::time_training_steps(int points, int steps, bool forward_mode, std::uint64_t seed) {
  Impl& im = *impl_;
  torch::manual_seed(seed);
  const Batch b = im.batch_from_normalised(im.draw_points(points));
  torch::optim::Adam adam(im.net->parameters(), torch::optim::AdamOptions(1e-3));
  auto step = [&] {
    adam.zero_grad();
    auto [u, du] = forward_mode ? im.forward_mode(b) : im.reverse_mode(b, true);
    const Tensor loss = im.residual(b, u, du).pow(2).mean();
    loss.backward();
    adam.step();
  };
  step();  // warm-up
  const auto start = Clock::now();
  for (int k = 0; k < steps; ++k) step();
  return seconds_since(start) / std::max(steps, 1);
}

// ----------------------------------------------------------------------------------------
// Files

void Pinn::save(const std::string& path) const {
  const Impl& im = *impl_;
  write_atomically(path, [&](const std::string& tmp) {
    torch::serialize::OutputArchive archive;
    im.net->save(archive);
    archive.write("output_scale", im.scale, /*is_buffer=*/true);
    archive.save_to(tmp);
  });
  write_atomically(sidecar_path(path), [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out << im.meta.dump(2) << "\n";
    if (!out) throw std::runtime_error("cannot write '" + tmp + "'");
  });
}

Pinn Pinn::load(const std::string& path, std::shared_ptr<const core::Model> model, const std::string& device,
                int threads) {
  const std::string side = sidecar_path(path);
  std::ifstream in(side);
  if (!fs::exists(path)) throw std::runtime_error("PINN model file '" + path + "' does not exist");
  if (!in) throw std::runtime_error("PINN model '" + path + "' has no sidecar '" + side + "' (written by train-pinn)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(side + ": not valid JSON: " + e.what());
  }
  // physynth-pinn-1 moved quasi-steady states onto their manifold along other directions: such
  // a network means something else now. Without quasi-steady states it means the same.
  const std::string format = j.value("format", "");
  const bool has_qss = j.contains("network") && !j["network"].value("quasi_steady", nlohmann::json::array()).empty();
  if (format != kFormat && !(format == "physynth-pinn-1" && !has_qss))
    throw std::runtime_error(side + ": format '" + format + "' is not " + kFormat +
                             (format == "physynth-pinn-1" ? " (its quasi-steady states were placed differently); "
                                                            "train the network again with physynth train-pinn"
                                                          : ""));
  // The model must be the one it was trained for: name, states and parameters in order.
  auto names = [](const nlohmann::json& a) {
    std::vector<std::string> v;
    for (const auto& x : a) v.push_back(x.at("name").get<std::string>());
    return v;
  };
  const std::string trained = j.at("model").at("name").get<std::string>();
  const std::string scenario = j.at("scenario").value("name", "");
  const std::string origin = "PINN model '" + path + "' was trained for model '" + trained + "'" +
                             (scenario.empty() ? "" : " (scenario '" + scenario + "')");
  if (trained != model->name())
    throw std::runtime_error(origin + ", not for this scenario's model '" + model->name() +
                             "'; train one for it with physynth train-pinn");
  const auto st = names(j["model"]["states"]), ps = names(j["model"]["parameters"]);
  if (st != model_names(model->states()))
    throw std::runtime_error(origin + " with states [" + core::join(st) + "]; this model has [" +
                             core::join(model_names(model->states())) + "]");
  if (ps != model_names(model->parameters()))
    throw std::runtime_error(origin + " with parameters [" + core::join(ps) + "]; this model has [" +
                             core::join(model_names(model->parameters())) + "]");

  auto impl = std::make_unique<Impl>();
  Impl& im = *impl;
  im.device = parse_device(device);
  // A missing or malformed field (a sidecar edited by hand, or from another version) names the
  // sidecar and the field.
  try {
    std::vector<ParameterRange> ranges;
    for (const auto& r : j.at("parameter_ranges")) {
      ParameterRange pr;
      pr.name = r.at("name");
      pr.low = r.at("low");
      pr.high = r.at("high");
      pr.log_scale = r.at("log_scale");
      ranges.push_back(pr);
    }
    const auto& tj = j.at("normalisation").at("time");
    TimeScaling ts;
    ts.log = tj.at("log");
    ts.scale = tj.at("scale");
    ts.characteristic = tj.value("characteristic", false);
    im.setup(std::move(model), ranges, tj.at("t0"), tj.at("t1"), ts);
    im.tau_ref = tj.value("tau_ref", 1.0);
    im.network.width = j.at("network").at("width");
    im.network.depth = j.at("network").at("depth");
    im.dtype = parse_dtype(j.at("network").at("dtype"));
    im.form = residual_form(j.at("network").value("residual", "plain"));
    im.network.quasi_steady = j.at("network").value("quasi_steady", std::vector<std::string>{});
    im.network.positive = j.at("network").value("positive", std::vector<std::string>{});
    im.network.sample_scale = j.at("network").value("sample_scale", false);
    im.resolve_states();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(side + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(side + ": " + e.what());
  }
  use_threads(threads);
  im.build_network();
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, im.device);
    im.net->load(archive);
    archive.read("output_scale", im.scale, /*is_buffer=*/true);
  } catch (const c10::Error& e) {
    throw std::runtime_error("PINN model '" + path + "' cannot be read as a network of width " +
                             std::to_string(im.network.width) + " and depth " + std::to_string(im.network.depth) +
                             " (does the sidecar belong to it?): " + e.what_without_backtrace());
  }
  im.scale = im.scale.to(im.options());
  im.meta = std::move(j);
  return Pinn(std::move(impl));
}

}  // namespace physynth::pinn
