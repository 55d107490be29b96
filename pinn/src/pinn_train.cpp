// Training of the parametric PINN (pinn.h: Pinn::train and the Trainer behind it).
#include "pinn_impl.h"

namespace physynth::pinn {

// ----------------------------------------------------------------------------------------
// Training

namespace {

struct Trainer {
  Pinn::Impl& im;
  const Problem& problem;
  const TrainOptions& opt;
  const Pinn::ProgressCallback& progress;
  Clock::time_point start = Clock::now();

  Trainer(Pinn::Impl& i, const Problem& pb, const TrainOptions& o, const Pinn::ProgressCallback& cb)
      : im(i), problem(pb), opt(o), progress(cb) {}

  Tensor points;  // collocation, normalised [N, 1 + q] (CPU double)
  Batch collocation;
  std::vector<double> validation_p, validation_y;
  std::optional<Batch> data;
  Tensor data_target;
  double data_weight = 0.0;
  bool balanced = false;

  std::vector<Tensor> best;
  ErrorSummary best_error;
  double best_score = std::numeric_limits<double>::infinity();
  bool target_reached = false;

  struct Loss {
    Tensor total, residual, data;
  };

  Loss loss(bool with_data) {
    auto [u, du] = im.forward_mode(collocation);
    const Tensor r2 = im.residual(collocation, u, du).pow(2).mean(1);  // per point
    Loss l;
    if (opt.causal) {
      const int M = std::max(opt.causal_bins, 1);
      const Tensor bin = (collocation.x.select(1, 0) * M).floor().clamp(0, M - 1).to(torch::kLong);
      const Tensor sums = torch::zeros({M}, im.options()).index_add(0, bin, r2);
      const Tensor counts = torch::zeros({M}, im.options()).index_add(0, bin, torch::ones_like(r2)).clamp_min(1.0);
      const Tensor per_bin = sums / counts;
      const Tensor before = torch::cumsum(per_bin, 0) - per_bin;
      const Tensor w = torch::exp(-opt.causal_epsilon * before).detach();
      l.residual = (w * per_bin).mean();
    } else {
      l.residual = r2.mean();
    }
    l.total = l.residual;
    if (with_data && data) {
      if (!data_rows.defined()) draw_data_rows();
      const Batch part = data->select(data_rows);
      const Tensor u_data = im.output(part, im.net->forward(im.net_input(part, part.x)));
      // In the output's units, as the residual: each draw's own with NetworkOptions::sample_scale.
      l.data = ((u_data - data_target.index_select(0, data_rows)) / part.s).pow(2).mean();
      l.total = l.residual + data_weight * l.data;
    }
    return l;
  }

  // The data points the loss uses: a minibatch as large as the collocation set, drawn again
  // every Adam step; in L-BFGS held until the next resample (a line search needs one loss).
  Tensor data_rows;
  void draw_data_rows() {
    const std::int64_t D = data->size(), take = std::min<std::int64_t>(D, collocation.size());
    data_rows = (take == D ? torch::arange(D, torch::kLong) : torch::randint(D, {take}, torch::kLong)).to(im.device);
  }

  static double norm_of_grads(const std::vector<Tensor>& params) {
    double s = 0.0;
    for (const auto& p : params)
      if (p.grad().defined()) s += p.grad().pow(2).sum().item<double>();
    return std::sqrt(s);
  }

  // Learning-rate annealing: the data term weighted so its gradient is as large as the residual's.
  void balance() {
    auto params = im.net->parameters();
    for (auto& p : params) p.mutable_grad() = Tensor();
    Loss l = loss(true);
    l.residual.backward({}, /*retain_graph=*/true);
    const double gr = norm_of_grads(params);
    for (auto& p : params) p.mutable_grad() = Tensor();
    l.data.backward();
    const double gd = norm_of_grads(params);
    for (auto& p : params) p.mutable_grad() = Tensor();
    if (gd > 0 && std::isfinite(gr / gd)) data_weight = balanced ? 0.9 * data_weight + 0.1 * (gr / gd) : gr / gd;
    balanced = true;
  }

  // Residual-based adaptive distribution (RAD): keep a random part of the points, draw the
  // rest from a pool with probability proportional to 1 + R^2 / mean(R^2). The data
  // minibatch is drawn again with them.
  void resample() {
    const std::int64_t N = points.size(0);
    const auto replace = static_cast<std::int64_t>(opt.resample_fraction * static_cast<double>(N));
    if (replace <= 0) return;
    const Tensor pool = im.draw_points(N * std::max(opt.pool_factor, 1));
    Tensor r2;
    {
      torch::NoGradGuard no_grad;
      const Batch b = im.batch_from_normalised(pool);
      auto [u, du] = im.forward_mode(b);
      r2 = im.residual(b, u, du).pow(2).mean(1).to(torch::kCPU, torch::kFloat64);
    }
    const Tensor w = r2 / r2.mean().clamp_min(1e-300) + 1.0;
    const Tensor chosen = torch::multinomial(w, replace, /*replacement=*/false);
    const Tensor keep = torch::randperm(N, torch::kLong).slice(0, 0, N - replace);
    points = torch::cat({points.index_select(0, keep), pool.index_select(0, chosen)}, 0);
    collocation = im.batch_from_normalised(points);
    if (data) draw_data_rows();
  }

  ErrorSummary validate() {
    const std::size_t count = validation_p.size() / im.m();
    std::vector<double> u(validation_y.size());
    im.predict(validation_p.data(), count, problem.times, u.data());
    return compare(u, validation_y, count, problem.times.size(), im.n());
  }

  // Validates, keeps the best network, checkpoints; true when training should stop.
  bool checkpoint(Progress& pr) {
    const ErrorSummary e = validate();
    pr.validation_median = e.median;
    pr.validation_worst = e.worst;
    const double score = std::isnan(e.worst) ? std::numeric_limits<double>::infinity() : e.worst;
    if (score < best_score) {
      best_score = score;
      best_error = e;
      torch::NoGradGuard no_grad;
      best.clear();
      for (const auto& p : im.net->parameters()) best.push_back(p.detach().clone());
      if (!opt.checkpoint.empty()) save_checkpoint();
    }
    target_reached = opt.target_error > 0 && score <= opt.target_error;
    return target_reached;
  }

  std::function<void()> save_checkpoint;

  bool out_of_time() const { return seconds_since(start) > opt.max_seconds; }

  void report(Progress pr, const Loss& l) {
    pr.loss = l.total.item<double>();
    pr.residual_loss = l.residual.item<double>();
    pr.data_loss = l.data.defined() ? l.data.item<double>() : 0.0;
    pr.data_weight = data_weight;
    pr.elapsed_s = seconds_since(start);
    if (progress) progress(pr);
  }
};

}  // namespace

Pinn Pinn::train(const Problem& problem, const NetworkOptions& network, const TrainOptions& opt,
                 const ProgressCallback& progress) {
  if (!problem.model) throw std::invalid_argument("no model to train a PINN for");
  if (problem.parameters.size() != problem.model->num_parameters())
    throw std::invalid_argument("one parameter range per model parameter is needed");
  if (problem.times.size() < 2 || !(problem.times.back() > problem.times.front()))
    throw std::invalid_argument("the time grid must span an interval");
  if (network.width < 1 || network.depth < 1) throw std::invalid_argument("network width and depth must be >= 1");
  if (opt.collocation < 16) throw std::invalid_argument("collocation must be >= 16 points");

  auto impl = std::make_unique<Impl>();
  Impl& im = *impl;
  im.setup(problem.model, problem.parameters, problem.times.front(), problem.times.back(), problem.time);
  im.network = network;
  im.form = opt.residual;
  im.device = parse_device(opt.device);
  im.dtype = parse_dtype(opt.dtype);
  im.resolve_states();
  use_threads(opt.threads);
  torch::manual_seed(opt.seed);

  Trainer tr{im, problem, opt, progress};
  TrainSummary summary;

  // Reference trajectories: validation and data draws, solved once.
  const auto ref_start = Clock::now();
  const std::size_t V = static_cast<std::size_t>(std::max(opt.validation_samples, 1));
  const std::size_t D = static_cast<std::size_t>(std::max(opt.data_samples, 0));
  tr.validation_p = im.draw_parameters(V);
  tr.validation_y = reference(im, tr.validation_p, problem.solver, problem.times);
  const std::vector<double> data_p = im.draw_parameters(D);
  const std::vector<double> data_y = reference(im, data_p, problem.solver, problem.times);
  summary.reference_seconds = seconds_since(ref_start);

  // Characteristic change of each state over the references.
  const std::size_t N = im.n(), M = im.m(), T = problem.times.size();
  std::vector<double> s(N, 0.0), y0(N);
  auto widen = [&](const std::vector<double>& P, const std::vector<double>& Y) {
    for (std::size_t k = 0; k < P.size() / M; ++k) {
      if (std::isnan(Y[k * T * N])) continue;
      im.model->initial_state(&P[k * M], y0.data());
      for (std::size_t row = 0; row < T; ++row)
        for (std::size_t i = 0; i < N; ++i) s[i] = std::max(s[i], std::abs(Y[(k * T + row) * N + i] - y0[i]));
    }
  };
  widen(tr.validation_p, tr.validation_y);
  widen(data_p, data_y);
  const double largest = *std::max_element(s.begin(), s.end());
  for (double& v : s) v = v > 0 ? v : (largest > 0 ? largest : 1.0);
  im.scale = torch::from_blob(s.data(), {static_cast<std::int64_t>(N)}, kF64).to(im.options(), false, true).clone();
  if (im.time.characteristic) {
    const Tensor centre = torch::zeros({1, static_cast<std::int64_t>(1 + im.inputs.size())}, kF64);
    im.tau_ref = im.batch_from_normalised(centre).tau.item<double>();
  }

  im.build_network();
  // Data-parallel ranks share the network's initial weights and draw their own points.
  if (opt.average && opt.rank > 0)
    torch::manual_seed(opt.seed + 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(opt.rank));
  tr.points = im.draw_points(opt.collocation);
  tr.collocation = im.batch_from_normalised(tr.points);
  if (D > 0) {
    std::vector<double> th, P;
    std::vector<double> target;
    for (std::size_t k = 0; k < D; ++k) {
      if (std::isnan(data_y[k * T * N])) continue;
      for (std::size_t row = 0; row < T; ++row) {
        th.push_back(im.t_hat(problem.times[row]));
        P.insert(P.end(), &data_p[k * M], &data_p[(k + 1) * M]);
        target.insert(target.end(), &data_y[(k * T + row) * N], &data_y[(k * T + row + 1) * N]);
      }
    }
    if (!th.empty()) {
      tr.data = im.make_batch(th, P);
      tr.data_target =
          torch::from_blob(target.data(), {static_cast<std::int64_t>(th.size()), static_cast<std::int64_t>(N)}, kF64)
              .to(im.options(), false, true)
              .clone();
      tr.data_weight = opt.data_weight;
    }
  }

  Pinn result(std::move(impl));
  auto set_meta = [&](const TrainSummary& sm) {
    nlohmann::json j;
    j["format"] = kFormat;
    nlohmann::json states = nlohmann::json::array(), params = nlohmann::json::array();
    for (const auto& v : im.model->states()) states.push_back({{"name", v.name}, {"units", v.units}});
    for (const auto& v : im.model->parameters()) params.push_back({{"name", v.name}, {"units", v.units}});
    j["model"] = {{"name", im.model->name()}, {"states", states}, {"parameters", params}};
    nlohmann::json ranges = nlohmann::json::array();
    for (const auto& r : im.ranges)
      ranges.push_back({{"name", r.name}, {"low", r.low}, {"high", r.high}, {"log_scale", r.log_scale}});
    j["parameter_ranges"] = ranges;
    std::vector<std::string> inputs{"t"};
    for (int k : im.inputs) inputs.push_back(im.ranges[static_cast<std::size_t>(k)].name);
    if (im.time.characteristic) inputs.push_back("phi = ln(1 + (t - t0)/tau(theta)) / ln(1 + (t1 - t0)/tau_ref)");
    j["normalisation"] = {{"time",
                           {{"t0", im.t0},
                            {"t1", im.t1},
                            {"log", im.time.log},
                            {"scale", im.time.scale},
                            {"characteristic", im.time.characteristic},
                            {"tau_ref", im.tau_ref}}},
                          {"inputs", inputs},
                          {"output_scale", s}};
    j["network"] = {
        {"width", im.network.width},
        {"depth", im.network.depth},
        {"activation", "tanh"},
        {"dtype", opt.dtype},
        {"residual", residual_name(im.form)},
        {"quasi_steady", im.network.quasi_steady},
        {"positive", im.network.positive},
        {"sample_scale", im.network.sample_scale},
        {"output", std::string("y0(theta) + ") +
                       (im.network.sample_scale ? "max(|y0|, |u0|, |f(t0, u0)| H)(theta)" : "output_scale") +
                       (im.time.characteristic ? " * t^ * N(t^, theta^, phi)" : " * t^ * N(t^, theta^)") +
                       (im.network.positive.empty() ? "" : "; positive states s * ln(1 + exp(10 (z0 + t^ N))) / 10")}};
    j["training"] = {{"seed", opt.seed},
                     {"ranks", opt.average ? opt.ranks : 1},
                     {"collocation", opt.collocation},
                     {"adam_steps", sm.adam_steps},
                     {"lbfgs_iterations", sm.lbfgs_iterations},
                     {"learning_rate", opt.learning_rate},
                     {"causal", opt.causal},
                     {"data_samples", opt.data_samples},
                     {"resamples", sm.resamples},
                     {"final_loss", sm.final_loss},
                     {"final_residual_loss", sm.final_residual_loss},
                     {"final_data_loss", sm.final_data_loss},
                     {"seconds", sm.seconds},
                     {"stopped", sm.stopped},
                     {"validation", error_json(sm.validation)},
                     {"test", error_json(sm.test)},
                     {"solver", {{"rtol", problem.solver.rtol}, {"atol", problem.solver.atol}}}};
    j["scenario"] = {{"name", problem.scenario}, {"sha256", problem.scenario_sha256}};
    j["versions"] = {{"LibTorch", TORCH_VERSION}};
    result.impl_->meta = j;
  };
  tr.save_checkpoint = [&] {
    set_meta(summary);
    result.save(opt.checkpoint);
  };

  // Adam, learning rate decaying exponentially.
  auto params = im.net->parameters();
  // Data-parallel: the mean gradient and loss over the ranks, and a stop any rank asks for.
  std::vector<double> flat;
  auto average_gradients = [&](Tensor& loss) {
    if (!opt.average) return;
    flat.clear();
    for (const auto& p : params) {
      const Tensor g = p.grad().defined() ? p.grad() : torch::zeros_like(p);
      const Tensor c = g.detach().to(torch::TensorOptions().device(torch::kCPU).dtype(torch::kFloat64)).contiguous();
      flat.insert(flat.end(), c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    }
    flat.push_back(loss.item<double>());
    opt.average(flat.data(), flat.size());
    std::size_t at = 0;
    torch::NoGradGuard no_grad;
    for (auto& p : params) {
      const Tensor mean = torch::from_blob(flat.data() + at, p.sizes(), kF64).to(p.options());
      if (p.grad().defined())
        p.mutable_grad().copy_(mean);
      else
        p.mutable_grad() = mean.clone();
      at += static_cast<std::size_t>(p.numel());
    }
    loss = torch::full({}, flat.back(), loss.options());
  };
  auto shared_stop = [&](bool mine) {
    if (!opt.average) return mine;
    double v = mine ? 1.0 : 0.0;
    opt.average(&v, 1);
    return v > 0.0;
  };
  torch::optim::Adam adam(params, torch::optim::AdamOptions(opt.learning_rate));
  const int every = std::max(opt.validation_every, 1);
  Trainer::Loss last;
  bool stop = false;
  for (int step = 1; step <= opt.adam_steps && !stop; ++step) {
    const double lr =
        opt.learning_rate * std::pow(opt.final_lr_factor, static_cast<double>(step - 1) / std::max(opt.adam_steps, 1));
    for (auto& group : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    if (tr.data && opt.balance && (step - 1) % std::max(opt.balance_every, 1) == 0) tr.balance();
    if (tr.data) tr.draw_data_rows();
    adam.zero_grad();
    last = tr.loss(true);
    last.total.backward();
    average_gradients(last.total);
    adam.step();
    summary.adam_steps = step;
    Progress pr;
    pr.phase = "adam";
    pr.step = step;
    pr.steps = opt.adam_steps;
    if (step % every == 0 || step == opt.adam_steps) {
      stop = shared_stop(tr.checkpoint(pr) || tr.out_of_time());
      tr.report(pr, last);
    } else if (step % 50 == 0) {
      tr.report(pr, last);
    }
    if (opt.resample_every > 0 && step % opt.resample_every == 0 && step < opt.adam_steps) {
      tr.resample();
      ++summary.resamples;
    }
  }

  // L-BFGS in chunks between validations. RAD resampling goes on (every resample_every
  // iterations, with a fresh L-BFGS, whose curvature pairs belong to the old points): on one
  // fixed set L-BFGS fits those points and the network drifts between them.
  if (!stop && opt.lbfgs_iterations > 0) {
    const auto lbfgs_options = torch::optim::LBFGSOptions(1.0)
                                   .max_iter(std::min(every, opt.lbfgs_iterations))
                                   .history_size(50)
                                   .tolerance_grad(1e-12)
                                   .tolerance_change(1e-14)
                                   .line_search_fn("strong_wolfe");
    auto lbfgs = std::make_unique<torch::optim::LBFGS>(params, lbfgs_options);
    auto closure = [&] {
      lbfgs->zero_grad();
      last = tr.loss(true);
      last.total.backward();
      average_gradients(last.total);
      return last.total;
    };
    int done = 0, since_resample = 0, failures = 0;
    std::vector<Tensor> chunk_start;
    while (done < opt.lbfgs_iterations && !stop) {
      {
        torch::NoGradGuard no_grad;
        chunk_start.clear();
        for (const auto& p : params) chunk_start.push_back(p.detach().clone());
      }
      const int chunk = std::min(every, opt.lbfgs_iterations - done);
      const double loss_before = lbfgs->step(closure).item<double>();
      done += chunk;
      since_resample += chunk;
      summary.lbfgs_iterations = done;
      Progress pr;
      pr.phase = "lbfgs";
      pr.step = done;
      pr.steps = opt.lbfgs_iterations;
      const double loss_after = last.total.item<double>();
      stop = shared_stop(tr.checkpoint(pr) || tr.out_of_time());
      tr.report(pr, last);
      if (stop || done >= opt.lbfgs_iterations) break;
      // A chunk that did not lower the loss on its own points (converged there, or a line
      // search that failed) is undone; without resampling, or after two such chunks in a row,
      // training ends.
      const bool failed = !(loss_after < loss_before);
      if (failed) {
        torch::NoGradGuard no_grad;
        for (std::size_t k = 0; k < params.size(); ++k) params[k].copy_(chunk_start[k]);
        if (opt.resample_every <= 0 || ++failures >= 2) break;
      } else {
        failures = 0;
      }
      if (failed || (opt.resample_every > 0 && since_resample >= opt.resample_every)) {
        tr.resample();
        ++summary.resamples;
        since_resample = 0;
        lbfgs = std::make_unique<torch::optim::LBFGS>(params, lbfgs_options);
      }
    }
  }

  // Keep the best network seen.
  if (!tr.best.empty()) {
    torch::NoGradGuard no_grad;
    for (std::size_t k = 0; k < params.size(); ++k) params[k].copy_(tr.best[k]);
  }
  // Data-parallel ranks must end with the same network: the mean of the weights is each one's.
  if (opt.average) {
    std::vector<double> mine;
    for (const auto& p : params) {
      const Tensor c = p.detach().to(torch::TensorOptions().device(torch::kCPU).dtype(torch::kFloat64)).contiguous();
      mine.insert(mine.end(), c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    }
    std::vector<double> mean = mine;
    opt.average(mean.data(), mean.size());
    double worst = 0.0;
    for (std::size_t k = 0; k < mine.size(); ++k)
      worst = std::max(worst, std::abs(mine[k] - mean[k]) / std::max(std::abs(mean[k]), 1e-300));
    if (worst > 1e-12)
      throw std::runtime_error("data-parallel training: the ranks' networks differ (relative " + std::to_string(worst) +
                               "); the ranks did not take the same steps");
  }
  summary.final_loss = last.total.defined() ? last.total.item<double>() : 0.0;
  summary.final_residual_loss = last.residual.defined() ? last.residual.item<double>() : 0.0;
  summary.final_data_loss = last.data.defined() ? last.data.item<double>() : 0.0;
  summary.validation = tr.best_error;
  summary.stopped = tr.target_reached ? "target reached" : (tr.out_of_time() ? "time limit" : "steps done");
  const auto test_start = Clock::now();
  if (opt.test_samples > 0)
    summary.test = result.error_against_solver(static_cast<std::size_t>(opt.test_samples), opt.seed ^ 0x7e57ULL,
                                               problem.solver, problem.times);
  summary.reference_seconds += seconds_since(test_start);
  summary.seconds = seconds_since(tr.start);
  set_meta(summary);
  if (!opt.checkpoint.empty()) result.save(opt.checkpoint);
  return result;
}

}  // namespace physynth::pinn
