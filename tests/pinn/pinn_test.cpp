// The parametric PINN (pinn/pinn.h): derivatives, training, files, refusals.
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>

#include "../../pinn/src/dense_layers.h"
#include "../../pinn/src/manifold_rows.h"
#include "physynth/pinn/pinn.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {

const char* kMichaelisMenten = R"(
species: [{name: E, initial: E0}, {name: S, initial: S0}, {name: ES, initial: 0}, {name: P, initial: 0}]
reactions:
  - {equation: "E + S <-> ES", kf: kon, kr: koff}
  - {equation: "ES -> E + P", k: kcat}
)";

std::vector<double> grid(double t0, double t1, int points) {
  std::vector<double> t;
  for (int k = 0; k < points; ++k) t.push_back(t0 + (t1 - t0) * k / (points - 1));
  return t;
}

// E0 fixed; S0, kon, koff, kcat over ranges; log time for the fast binding.
pinn::Problem michaelis_menten_problem() {
  pinn::Problem pb;
  const auto built = testing::network(kMichaelisMenten);
  pb.model = built.model;
  const std::map<std::string, std::pair<double, double>> box = {
      {"E0", {0.05, 0.05}}, {"S0", {10, 30}}, {"kon", {1, 3}}, {"koff", {0.5, 1.5}}, {"kcat", {0.5, 1.5}}};
  for (std::size_t k = 0; k < pb.model->num_parameters(); ++k) {
    const std::string& name = pb.model->parameters()[k].name;
    const auto it = box.find(name);
    const double v = built.parameters[k].literal.value_or(0.0);
    pb.parameters.push_back(it != box.end() ? pinn::make_range(name, it->second.first, it->second.second)
                                            : pinn::make_range(name, v, v));
  }
  pb.times = grid(0, 3600, 31);
  pb.time.log = true;
  pb.time.scale = 0.01;
  pb.solver.rtol = 1e-8;
  pb.solver.atol = 1e-12;
  return pb;
}

// A -> nothing, A0 = 1 fixed, k in [0.5, 2]: A(t) = exp(-k t) on [0, 3].
pinn::Problem decay_problem() {
  pinn::Problem pb;
  pb.model = testing::network(testing::kDecay).model;
  for (const auto& v : pb.model->parameters())
    pb.parameters.push_back(v.name == "k" ? pinn::make_range("k", 0.5, 2.0) : pinn::make_range(v.name, 1.0, 1.0));
  pb.times = grid(0, 3, 31);
  return pb;
}

pinn::TrainOptions quick(int adam_steps, const std::string& dtype = "float64") {
  pinn::TrainOptions o;
  o.seed = 3;
  o.dtype = dtype;
  o.threads = 1;
  o.collocation = 256;
  o.adam_steps = adam_steps;
  o.lbfgs_iterations = 0;
  o.resample_every = 0;
  o.validation_samples = 4;
  o.validation_every = 1000000;
  o.test_samples = 0;
  return o;
}

pinn::NetworkOptions small() {
  pinn::NetworkOptions n;
  n.width = 16;
  n.depth = 2;
  return n;
}

// Largest |A_pinn - exp(-k t)| over the grid, for k across its range.
double decay_error(const pinn::Pinn& net, const pinn::Problem& pb) {
  double worst = 0.0;
  for (double k : {0.5, 0.8, 1.2, 1.6, 2.0}) {
    std::vector<double> p(pb.parameters.size());
    for (std::size_t j = 0; j < p.size(); ++j) p[j] = pb.parameters[j].name == "k" ? k : 1.0;
    std::vector<double> a(pb.times.size());
    net.predict(p.data(), 1, pb.times, a.data());
    for (std::size_t i = 0; i < a.size(); ++i)
      worst = std::max(worst, std::abs(a[i] - testing::decay(pb.times[i], 1, k)));
  }
  return worst;
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// One value per model parameter: the box's value where it is fixed, else `values`.
std::vector<double> parameters_at(const pinn::Problem& pb, const std::map<std::string, double>& values) {
  std::vector<double> p;
  for (const auto& r : pb.parameters) p.push_back(r.fixed() ? r.low : values.at(r.name));
  return p;
}

// Copies network `from` (dir/from.pt and its sidecar) to `to` with one string of the sidecar
// replaced; returns the copy's path.
std::string with_edited_sidecar(const std::string& dir, const std::string& from, const std::string& to,
                                const std::string& find, const std::string& replace) {
  std::filesystem::copy_file(dir + "/" + from + ".pt", dir + "/" + to + ".pt",
                             std::filesystem::copy_options::overwrite_existing);
  std::string side = bytes_of(dir + "/" + from + ".json");
  const auto at = side.find(find);
  REQUIRE(at != std::string::npos);
  side.replace(at, find.size(), replace);
  std::ofstream(dir + "/" + to + ".json", std::ios::binary) << side;
  return dir + "/" + to + ".pt";
}

}  // namespace

TEST_CASE("pinn: du/dt by forward-mode tangents equals one reverse pass per output") {
  const auto pb = michaelis_menten_problem();
  pinn::NetworkOptions network;
  SECTION("one output scale for the box") {}
  SECTION("each draw's own output scale") { network.sample_scale = true; }
  SECTION("a positive substrate beside a quasi-steady complex, each draw's own scale") {
    network.positive = {"S"};
    network.quasi_steady = {"ES"};
    network.sample_scale = true;
  }
  const auto net = pinn::Pinn::train(pb, network, quick(0));
  const std::size_t count = 64, m = pb.parameters.size(), n = pb.model->num_states();
  std::vector<double> p(count * m), t(count);
  for (std::size_t s = 0; s < count; ++s) {
    for (std::size_t k = 0; k < m; ++k) {
      const auto& r = pb.parameters[k];
      p[s * m + k] = r.low + (r.high - r.low) * static_cast<double>((s * 7 + k * 3) % 11) / 10.0;
    }
    t[s] = 3600.0 * std::pow(static_cast<double>(s) / (count - 1), 3);
  }
  std::vector<double> forward(count * n), reverse(count * n);
  net.time_derivatives(p.data(), count, t.data(), true, forward.data());
  net.time_derivatives(p.data(), count, t.data(), false, reverse.data());
  double largest = 0.0;
  for (double v : reverse) largest = std::max(largest, std::abs(v));
  REQUIRE(largest > 0.0);
  for (std::size_t i = 0; i < forward.size(); ++i)
    CHECK(forward[i] == Approx(reverse[i]).epsilon(1e-10).margin(1e-12 * largest));
}

TEST_CASE("pinn: the output holds the initial state and the conservation laws exactly") {
  const auto pb = michaelis_menten_problem();
  const auto net = pinn::Pinn::train(pb, pinn::NetworkOptions{}, quick(0));
  const std::vector<double> p =
      parameters_at(pb, {{"E0", 0.05}, {"S0", 17.0}, {"kon", 2.0}, {"koff", 1.0}, {"kcat", 0.7}});
  std::vector<double> u(pb.times.size() * 4);
  net.predict(p.data(), 1, pb.times, u.data());
  CHECK(u[0] == 0.05);
  CHECK(u[1] == 17.0);
  CHECK(u[2] == 0.0);
  CHECK(u[3] == 0.0);
  for (std::size_t r = 0; r < pb.times.size(); ++r) {
    CHECK(u[r * 4 + 0] + u[r * 4 + 2] == Approx(0.05).margin(1e-12));                 // E + ES
    CHECK(u[r * 4 + 1] + u[r * 4 + 2] + u[r * 4 + 3] == Approx(17.0).margin(1e-11));  // S + ES + P
  }
}

TEST_CASE("pinn: a positive state starts at y0, stays above zero, and leaves the conservation laws to the others") {
  const auto pb = michaelis_menten_problem();
  pinn::NetworkOptions net_options = small();
  net_options.positive = {"S"};
  SECTION("plain") {}
  SECTION("beside a quasi-steady complex") { net_options.quasi_steady = {"ES"}; }
  // Adam from a large learning rate drives the untrained network hard: an additive S would
  // cross zero.
  pinn::TrainOptions o = quick(30);
  o.learning_rate = 0.05;
  const auto net = pinn::Pinn::train(pb, net_options, o);
  CHECK(net.metadata().at("network").at("positive") == std::vector<std::string>{"S"});
  std::vector<double> times;
  for (int k = 0; k <= 200; ++k) times.push_back(3600.0 * std::pow(k / 200.0, 3));
  for (double S0 : {10.0, 30.0}) {
    const std::vector<double> p =
        parameters_at(pb, {{"E0", 0.05}, {"S0", S0}, {"kon", 3.0}, {"koff", 0.5}, {"kcat", 1.5}});
    std::vector<double> u(times.size() * 4);
    net.predict(p.data(), 1, times, u.data());
    CHECK(u[1] == Approx(S0).epsilon(1e-13));
    for (std::size_t r = 0; r < times.size(); ++r) {
      INFO("S0 = " << S0 << ", t = " << times[r]);
      CHECK(u[r * 4 + 1] > 0.0);
      CHECK(u[r * 4 + 0] + u[r * 4 + 2] == Approx(0.05).margin(1e-12));
      CHECK(u[r * 4 + 1] + u[r * 4 + 2] + u[r * 4 + 3] == Approx(S0).margin(1e-10));
    }
  }
  // Refused: a state that starts at zero, and a quasi-steady one.
  net_options.quasi_steady = {};
  net_options.positive = {"P"};
  CHECK_THROWS_WITH(pinn::Pinn::train(pb, net_options, quick(0)),
                    Catch::Contains("'P' starts at 0") && Catch::Contains("must start above zero"));
  net_options.positive = {"ES"};
  net_options.quasi_steady = {"ES"};
  CHECK_THROWS_WITH(pinn::Pinn::train(pb, net_options, quick(0)), Catch::Contains("'ES' is quasi-steady"));
}

TEST_CASE("pinn: a quasi-steady state sits on its manifold, and du/dt is the derivative of the output") {
  const auto pb = michaelis_menten_problem();
  pinn::NetworkOptions net_options = small();
  net_options.quasi_steady = {"ES"};
  const auto net = pinn::Pinn::train(pb, net_options, quick(0));
  const double E0 = 0.05, S0 = 17.0, kon = 2.0, koff = 1.0, kcat = 0.7;
  const std::vector<double> p =
      parameters_at(pb, {{"E0", E0}, {"S0", S0}, {"kon", kon}, {"koff", koff}, {"kcat", kcat}});
  const std::vector<double> times = {0.0, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 3000.0};
  std::vector<double> u(times.size() * 4);
  net.predict(p.data(), 1, times, u.data());
  // The initial state holds (Newton lands back on it), and so do the conservation laws.
  CHECK(u[0] == Approx(E0).margin(1e-14));
  CHECK(u[1] == Approx(S0).margin(1e-12));
  CHECK(u[2] == Approx(0.0).margin(1e-14));
  CHECK(u[3] == Approx(0.0).margin(1e-12));
  // f_ES relaxes from f_ES(y0) = kon E0 S0 at the fast rate: by 1 s it is zero to rounding.
  for (std::size_t r = 0; r < times.size(); ++r) {
    const double* y = &u[r * 4];
    CHECK(y[0] + y[2] == Approx(E0).margin(1e-12));
    CHECK(y[1] + y[2] + y[3] == Approx(S0).margin(1e-10));
    const double f_es = kon * y[0] * y[1] - (koff + kcat) * y[2];
    if (times[r] >= 1.0) CHECK(std::abs(f_es) < 1e-9);
    if (times[r] == 0.0) CHECK(f_es == Approx(kon * E0 * S0));
  }
  // Forward-mode du/dt^ against a central difference of the output itself (dt/dt^ = L (tc + t)).
  const double L = std::log1p(3600.0 / 0.01);
  for (double t : {0.003, 0.05, 2.0, 500.0}) {
    const double h = 1e-6 * t;
    std::vector<double> up(4), um(4), du(4);
    std::vector<double> tp{t + h}, tm{t - h}, tt{t};
    net.predict(p.data(), 1, tp, up.data());
    net.predict(p.data(), 1, tm, um.data());
    net.time_derivatives(p.data(), 1, tt.data(), true, du.data());
    std::vector<double> reverse(4);
    net.time_derivatives(p.data(), 1, tt.data(), false, reverse.data());
    for (int i = 0; i < 4; ++i) {
      const double fd = (up[static_cast<std::size_t>(i)] - um[static_cast<std::size_t>(i)]) / (2 * h) * L * (0.01 + t);
      INFO("t = " << t << ", state " << i);
      CHECK(du[static_cast<std::size_t>(i)] == Approx(fd).epsilon(1e-5).margin(1e-9));
      CHECK(du[static_cast<std::size_t>(i)] ==
            Approx(reverse[static_cast<std::size_t>(i)]).epsilon(1e-10).margin(1e-14));
    }
  }
  // The sidecar carries the quasi-steady states: a loaded network predicts the same values.
  const std::string dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/pinn";
  std::filesystem::create_directories(dir);
  net.save(dir + "/mm_qss.pt");
  const auto loaded = pinn::Pinn::load(dir + "/mm_qss.pt", pb.model);
  CHECK(loaded.metadata().at("network").at("quasi_steady") == std::vector<std::string>{"ES"});
  std::vector<double> again(u.size());
  loaded.predict(p.data(), 1, times, again.data());
  CHECK(again == u);
  // With float32 layers (inference) the outputs move by float32's rounding, and their manifold
  // point is solved to 1e-10 instead of 1e-12 (Impl::output_tolerance): still on it, and the
  // laws hold.
  auto f32 = pinn::Pinn::load(dir + "/mm_qss.pt", pb.model);
  f32.set_float32_layers(true);
  std::vector<double> u32(u.size());
  f32.predict(p.data(), 1, times, u32.data());
  double moved = 0.0;
  for (std::size_t k = 0; k < u.size(); ++k) moved = std::max(moved, std::abs(u32[k] - u[k]) / S0);
  CHECK(moved > 0.0);
  CHECK(moved < 1e-5);
  for (std::size_t r = 0; r < times.size(); ++r) {
    const double* y = &u32[r * 4];
    CHECK(y[0] + y[2] == Approx(E0).margin(1e-12));
    CHECK(y[1] + y[2] + y[3] == Approx(S0).margin(1e-10));
    const double f_es = kon * y[0] * y[1] - (koff + kcat) * y[2];
    INFO("t = " << times[r] << ": f_ES " << f_es);
    if (times[r] >= 1.0) CHECK(std::abs(f_es) < 1e-9);
  }
  // A network of the first sidecar format placed its quasi-steady states along other
  // directions: it is refused, not read as something else. (Without quasi-steady states the
  // first format still loads: the decay network in the refusal test below.)
  CHECK_THROWS_WITH(
      pinn::Pinn::load(with_edited_sidecar(dir, "mm_qss", "mm_qss_v1", "physynth-pinn-2", "physynth-pinn-1"), pb.model),
      Catch::Contains("mm_qss_v1.json: format 'physynth-pinn-1' is not physynth-pinn-2") &&
          Catch::Contains("train the network again"));
  // Names are checked.
  net_options.quasi_steady = {"X"};
  CHECK_THROWS_WITH(pinn::Pinn::train(pb, net_options, quick(0)), Catch::Contains("no state 'X'"));
}

TEST_CASE("pinn: the float32 layers row by row are the network and its tangent, each row's bits its own") {
  if (!pinn::DenseLayers::runs_here()) {
    WARN("this CPU has no AVX2 with FMA: the float32 layers stay LibTorch's, nothing to compare");
    return;
  }
  // Shapes that fill a vector of 8 outputs, miss it, and span several: a hidden layer of 13 (two
  // vectors, the second part zero), 40 (five: a group of four and one) and 32; 1 to 6 inputs.
  const std::vector<std::vector<int>> shapes = {{6, 32, 32, 32, 32, 4}, {1, 13, 5}, {3, 40, 13, 2}, {2, 9}};
  std::mt19937 rng(11);
  std::normal_distribution<double> normal;
  for (const auto& sizes : shapes) {
    INFO("sizes " << sizes.size() << " layers from " << sizes.front() << " inputs to " << sizes.back());
    const std::size_t L = sizes.size() - 1, n_in = static_cast<std::size_t>(sizes.front()),
                      n_out = static_cast<std::size_t>(sizes.back());
    std::vector<std::vector<float>> W(L), b(L);
    std::vector<const float*> wp, bp;
    for (std::size_t l = 0; l < L; ++l) {
      for (int k = 0; k < sizes[l + 1] * sizes[l]; ++k)
        W[l].push_back(static_cast<float>(normal(rng) / std::sqrt(sizes[l])));
      for (int k = 0; k < sizes[l + 1]; ++k) b[l].push_back(static_cast<float>(0.5 * normal(rng)));
      wp.push_back(W[l].data());
      bp.push_back(b[l].data());
    }
    const pinn::DenseLayers dense(sizes, wp, bp);
    // 100 rows (not a multiple of the 3-row or 48-row blocks), inputs large enough to saturate
    // tanh in places.
    const std::size_t rows = 100;
    std::vector<double> x(rows * n_in), dx(rows * n_in);
    for (double& v : x) v = 3.0 * normal(rng);
    for (double& v : dx) v = normal(rng);
    // The reference in double from the same float32 weights: z' = W h', h' = (1 - tanh^2 z) z'.
    std::vector<double> ref(rows * n_out), dref(rows * n_out);
    for (std::size_t r = 0; r < rows; ++r) {
      std::vector<double> z(x.begin() + static_cast<std::ptrdiff_t>(r * n_in),
                            x.begin() + static_cast<std::ptrdiff_t>((r + 1) * n_in));
      std::vector<double> dz(dx.begin() + static_cast<std::ptrdiff_t>(r * n_in),
                             dx.begin() + static_cast<std::ptrdiff_t>((r + 1) * n_in));
      for (std::size_t l = 0; l < L; ++l) {
        if (l > 0)
          for (std::size_t i = 0; i < z.size(); ++i) {
            const double h = std::tanh(z[i]);
            dz[i] *= 1.0 - h * h;
            z[i] = h;
          }
        const auto in = static_cast<std::size_t>(sizes[l]), out = static_cast<std::size_t>(sizes[l + 1]);
        std::vector<double> next(out), dnext(out);
        for (std::size_t j = 0; j < out; ++j) {
          double sum = b[l][j], dsum = 0.0;
          for (std::size_t i = 0; i < in; ++i) {
            sum += static_cast<double>(W[l][j * in + i]) * z[i];
            dsum += static_cast<double>(W[l][j * in + i]) * dz[i];
          }
          next[j] = sum, dnext[j] = dsum;
        }
        z = next, dz = dnext;
      }
      std::copy(z.begin(), z.end(), ref.begin() + static_cast<std::ptrdiff_t>(r * n_out));
      std::copy(dz.begin(), dz.end(), dref.begin() + static_cast<std::ptrdiff_t>(r * n_out));
    }
    std::vector<double> out(rows * n_out), out2(rows * n_out), dout(rows * n_out);
    dense.forward(x.data(), rows, out.data());
    dense.forward_tangent(x.data(), dx.data(), rows, out2.data(), dout.data());
    CHECK(out == out2);  // the tangent does not change the value
    double scale = 0.0, dscale = 0.0, err = 0.0, derr = 0.0;
    for (std::size_t k = 0; k < out.size(); ++k) {
      scale = std::max(scale, std::abs(ref[k]));
      dscale = std::max(dscale, std::abs(dref[k]));
      err = std::max(err, std::abs(out[k] - ref[k]));
      derr = std::max(derr, std::abs(dout[k] - dref[k]));
    }
    INFO("largest error " << err << " of " << scale << ", tangent " << derr << " of " << dscale);
    // Float32's rounding through a few layers: a few units of 6e-8 of the scale, not more.
    CHECK(err > 0.0);
    CHECK(err < 2e-6 * scale);
    CHECK(derr < 4e-6 * dscale);
    // Each row's bits do not depend on the rows around it: every row alone, and the rows from
    // an odd start.
    for (std::size_t r = 0; r < rows; ++r) {
      std::vector<double> one(n_out), done(n_out);
      dense.forward_tangent(x.data() + r * n_in, dx.data() + r * n_in, 1, one.data(), done.data());
      REQUIRE(std::equal(one.begin(), one.end(), out.begin() + static_cast<std::ptrdiff_t>(r * n_out)));
      REQUIRE(std::equal(done.begin(), done.end(), dout.begin() + static_cast<std::ptrdiff_t>(r * n_out)));
    }
    std::vector<double> tail((rows - 7) * n_out);
    dense.forward(x.data() + 7 * n_in, rows - 7, tail.data());
    CHECK(std::equal(tail.begin(), tail.end(), out.begin() + static_cast<std::ptrdiff_t>(7 * n_out)));
  }
}

TEST_CASE("pinn: the output and residual by rows are the tensor operations' values") {
  // Michaelis-Menten around ES's manifold, S positive, each draw its own scale, and in one of
  // them the characteristic-time input (whose tau weighs the sign penalty); both residual forms
  // the rows compute, float64 and float32 layers. An untrained network: outputs far from the
  // solution, S below zero in places (the penalty), the manifold's Newton iterations at work.
  auto pb = michaelis_menten_problem();
  pb.time.log = false;
  for (const bool characteristic : {false, true}) {
    for (const auto form : {pinn::TrainOptions::Residual::kPlain, pinn::TrainOptions::Residual::kRelative}) {
      pinn::NetworkOptions net_options = small();
      net_options.quasi_steady = {"ES"};
      net_options.positive = {"S"};
      net_options.sample_scale = true;
      pb.time.characteristic = characteristic;
      auto options = quick(0);
      options.residual = form;
      auto net = pinn::Pinn::train(pb, net_options, options);
      std::vector<double> p, S0s;
      for (double S0 : {10.0, 17.0, 30.0})
        for (double kon : {1.0, 2.9}) {
          const auto row = parameters_at(pb, {{"E0", 0.05}, {"S0", S0}, {"kon", kon}, {"koff", 0.7}, {"kcat", 1.3}});
          p.insert(p.end(), row.begin(), row.end());
          S0s.push_back(S0);
        }
      const std::size_t count = 6, T = 25;
      const std::vector<double> times = grid(0, 3600, static_cast<int>(T));
      for (const bool float32 : {false, true}) {
        INFO("characteristic " << characteristic << ", relative " << (form == pinn::TrainOptions::Residual::kRelative)
                               << ", float32 layers " << float32);
        net.set_float32_layers(float32);
        std::vector<double> u(count * T * 4), u_ref(u.size()), rms(count), rms_ref(count);
        net.set_output_by_rows(true);
        net.predict_and_residual(p.data(), count, times, 16, u.data(), rms.data());
        net.set_output_by_rows(false);
        net.predict_and_residual(p.data(), count, times, 16, u_ref.data(), rms_ref.data());
        for (std::size_t k = 0; k < u.size(); ++k) {
          REQUIRE(std::abs(u[k] - u_ref[k]) <= 1e-13 * S0s[k / (T * 4)]);
        }
        for (std::size_t j = 0; j < count; ++j) {
          INFO("sample " << j << ": " << rms[j] << " against " << rms_ref[j]);
          CHECK(std::isfinite(rms[j]));
          CHECK(rms[j] > 0.0);
          CHECK(std::abs(rms[j] - rms_ref[j]) <= 1e-11 * rms_ref[j]);
        }
      }
    }
  }
}

TEST_CASE("pinn: the manifold's rows (kLanes at a time) give a row the same bits wherever its range starts") {
  // Michaelis-Menten's quasi-steady ES: the laws E + ES = E0 and S + ES + P = S0, held by E, S
  // and P; ES moves along the binding stoichiometry D = (-1, -1, 1, 0). Unit scales. With an
  // inert fifth species X (its own law X = 1) the rows take the dynamic-size path.
  const bool inert = GENERATE(false, true);
  std::string yaml = kMichaelisMenten;
  if (inert) yaml.replace(yaml.find("]"), 1, ", {name: X, initial: 1}]");
  const auto model = testing::network(yaml).model;
  const std::size_t n = inert ? 5 : 4, k = inert ? 3 : 2, q = 1, m = model->num_parameters(), B = 11;
  REQUIRE(model->num_states() == n);
  const auto index = [&](const std::string& name) {
    for (std::size_t j = 0; j < m; ++j)
      if (model->parameters()[j].name == name) return j;
    FAIL("no parameter " << name);
    return m;
  };
  const auto pad = [&](std::vector<double> row, double x) {  // row + X's entry
    if (inert) row.push_back(x);
    return row;
  };
  std::vector<double> v_net, C, c, s(B * n, 1.0), g0, rate, D, t, dt(B, 1.0), p(B * m, 0.0);
  const std::vector<double> times = {0.0, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 0.5, 2.0, 5.0};
  for (std::size_t r = 0; r < B; ++r) {
    const double E0 = 0.05 + 0.01 * static_cast<double>(r), S0 = 10.0 + static_cast<double>(r), kon = 1.0 + 0.1 * r,
                 koff = 0.7, kcat = 1.1;
    double* pr = &p[r * m];
    pr[index("E0")] = E0, pr[index("S0")] = S0, pr[index("kon")] = kon, pr[index("koff")] = koff;
    pr[index("kcat")] = kcat;
    // Rows of several distances from their manifold point (Newton takes 1 to 4 steps).
    const double off = r % 3 == 0 ? 1e-6 : (r % 3 == 1 ? 0.05 : 0.3);
    for (double x : pad({(1.0 - off) * E0, (1.0 - off) * S0, 0.0, off * S0}, 1.0 - off)) v_net.push_back(x);
    for (const auto& law : {pad({1, 0, 1, 0}, 0), pad({0, 1, 1, 1}, 0)}) C.insert(C.end(), law.begin(), law.end());
    if (inert) C.insert(C.end(), {0, 0, 0, 0, 1});
    for (double x : pad({E0, S0}, 1.0)) c.push_back(x);
    g0.push_back(kon * E0 * S0);
    rate.push_back(kon * (E0 + S0) + koff + kcat);
    for (double x : pad({-1, -1, 1, 0}, 0.0)) D.push_back(x);
    t.push_back(times[r]);
  }
  pinn::ManifoldRows R;
  R.n = n, R.k = k, R.q = q, R.m = m;
  R.qss = {2};
  for (double x : pad({1, 1, 0, 1}, 1)) R.clamp.push_back(static_cast<char>(x));
  R.t0 = 0.0, R.tol = 1e-12, R.max_iterations = 30;
  R.law_weight = pad({1, 1, 0, 1}, 1);  // E, S, P (and X) hold the laws
  R.v_net = v_net.data(), R.C = C.data(), R.c = c.data(), R.s = s.data(), R.g0 = g0.data();
  R.rate = rate.data(), R.D = D.data(), R.t = t.data(), R.dt_dth = dt.data();
  std::vector<std::vector<double>> columns(m, std::vector<double>(B));
  for (std::size_t j = 0; j < m; ++j) {
    for (std::size_t r = 0; r < B; ++r) columns[j][r] = p[r * m + j];
    R.p.push_back(columns[j].data());
  }
  struct Out {
    std::vector<double> v, P, drift, MAq;
  };
  const auto solve = [&](const std::vector<std::size_t>& cuts, bool matrices) {
    Out o{std::vector<double>(B * n, -1.0), std::vector<double>(B * n * n, -1.0), std::vector<double>(B * n, -1.0),
          std::vector<double>(B * n * q, -1.0)};
    pinn::ManifoldRows S = R;
    S.v = o.v.data();
    if (matrices) S.P = o.P.data(), S.drift = o.drift.data(), S.MAq = o.MAq.data();
    for (std::size_t j = 0; j + 1 < cuts.size(); ++j) pinn::solve_manifold_rows(*model, S, cuts[j], cuts[j + 1]);
    return o;
  };
  const Out whole = solve({0, B}, true);
  for (std::size_t r = 0; r < B; ++r) {
    const double* v = &whole.v[r * n];
    const double E0 = c[r * k], S0 = c[r * k + 1];
    const double* pr = &p[r * m];
    INFO("row " << r << ", t = " << t[r]);
    CHECK(v[2] != 0.0);  // moved onto the manifold (the network's ES is zero)
    CHECK(v[0] + v[2] == Approx(E0).margin(1e-14));
    CHECK(v[1] + v[2] + v[3] == Approx(S0).margin(1e-12));
    if (inert) CHECK(v[4] == Approx(1.0).margin(1e-14));
    const double f_es = pr[index("kon")] * v[0] * v[1] - (pr[index("koff")] + pr[index("kcat")]) * v[2];
    CHECK(std::abs(f_es - g0[r] * std::exp(-rate[r] * t[r])) <= 1e-11 * rate[r]);
    // P keeps the laws: C P = 0.
    for (std::size_t j = 0; j < n; ++j) {
      const double* P = &whole.P[r * n * n];
      CHECK(std::abs(P[0 * n + j] + P[2 * n + j]) < 1e-14);
      CHECK(std::abs(P[1 * n + j] + P[2 * n + j] + P[3 * n + j]) < 1e-14);
    }
  }
  // Every split, each row alone, and v alone (no matrices): the same bits.
  for (std::size_t cut = 1; cut < B; ++cut) {
    const Out split = solve({0, cut, B}, true);
    INFO("split at " << cut);
    CHECK(split.v == whole.v);
    CHECK(split.P == whole.P);
    CHECK(split.drift == whole.drift);
    CHECK(split.MAq == whole.MAq);
  }
  std::vector<std::size_t> each(B + 1);
  for (std::size_t r = 0; r <= B; ++r) each[r] = r;
  CHECK(solve(each, true).v == whole.v);
  CHECK(solve({0, B}, false).v == whole.v);
}

TEST_CASE("pinn: the fast directions and rates row by row are the binding mode and its rate, held on the laws") {
  // Michaelis-Menten at its quasi-steady point: subspace iteration from e_ES moved along the laws
  // ends at the binding stoichiometry (-1, -1, 1, 0) plus kcat / lambda of catalysis, an
  // eigenvector of the scaled Jacobian held on the laws. Unit scales; Q = C^T (C C^T)^-1 moves
  // E, S and P.
  const auto model = testing::network(kMichaelisMenten).model;
  const std::size_t n = 4, k = 2, q = 1, m = model->num_parameters();
  std::vector<double> p(m, 0.0);
  for (std::size_t j = 0; j < m; ++j) {
    const std::string& name = model->parameters()[j].name;
    p[j] = name == "E0" ? 0.05 : name == "S0" ? 20.0 : name == "kon" ? 2.0 : name == "koff" ? 1.0 : 0.7;
  }
  const double kon = 2.0, koff = 1.0, kcat = 0.7, E0 = 0.05, S0 = 20.0;
  const double ES = E0 * S0 / ((koff + kcat) / kon + S0);  // f_ES = 0 at S = S0 (P = 0)
  const std::vector<double> u = {E0 - ES, S0 - ES, ES, 0.0}, s(n, 1.0), C = {1, 0, 1, 0, 0, 1, 1, 1};
  // Q = W C^T (C W C^T)^-1 with W = diag(1, 1, 0, 1): C W C^T = [[1, 0], [0, 2]].
  const std::vector<double> Q = {1, 0, 0, 0.5, 0, 0, 0, 0.5};
  std::vector<double> D = {0, 0, 1, 0};
  // e_ES moved along the laws: D - Q C D.
  for (std::size_t i = 0; i < n; ++i) D[i] -= Q[i * k] * C[2] + Q[i * k + 1] * C[n + 2];
  pinn::SubspaceRows R;
  R.n = n, R.k = k, R.q = q, R.m = m;
  R.qss = {2};
  R.clamp = {1, 1, 1, 1};
  R.u = u.data(), R.s = s.data(), R.C = C.data(), R.Q = Q.data(), R.D = D.data();
  for (std::size_t j = 0; j < m; ++j) R.p.push_back(&p[j]);
  pinn::fast_subspace_rows(*model, R, 0, 1);
  CHECK(D[2] == 1.0);
  CHECK(D[0] + D[2] == Approx(0.0).margin(1e-14));         // E + ES held
  CHECK(D[1] + D[2] + D[3] == Approx(0.0).margin(1e-14));  // S + ES + P held
  const double lambda = kon * (E0 - ES + S0 - ES) + koff + kcat;
  CHECK(D[1] == Approx(-1.0).margin(3.0 * kcat / lambda));
  CHECK(D[3] == Approx(0.0).margin(3.0 * kcat / lambda));
  CHECK(D[3] != 0.0);
  // An eigenvector of the Jacobian held on the laws: (I - Q C) J D is a multiple of D.
  std::vector<double> J(n * n), JD(n, 0.0);
  model->jacobian(0.0, u.data(), p.data(), J.data());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) JD[i] += J[i + n * j] * D[j];
  std::vector<double> held = JD;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < k; ++a) {
      double cjd = 0.0;
      for (std::size_t j = 0; j < n; ++j) cjd += C[a * n + j] * JD[j];
      held[i] -= Q[i * k + a] * cjd;
    }
  for (std::size_t i = 0; i < n; ++i) CHECK(held[i] == Approx(held[2] * D[i]).epsilon(1e-6).margin(1e-9 * lambda));
  // The relaxation rate along D: the binding rate lambda, to within catalysis' share.
  double rate = -1.0;
  R.rate = &rate, R.rate_floor = 1.0 / 3600.0;
  R.clamp = {1, 1, 0, 1};  // on the manifold the quasi-steady state is not clamped
  pinn::relaxation_rates_rows(*model, R, 0, 1);
  CHECK(rate == Approx(-held[2]).epsilon(1e-12));
  CHECK(rate == Approx(lambda).epsilon(3.0 * kcat / lambda));
  // Where the slope is zero (no binding), the floor.
  std::vector<double> p_off = p;
  for (std::size_t j = 0; j < m; ++j)
    if (model->parameters()[j].name == "kon" || model->parameters()[j].name == "koff" ||
        model->parameters()[j].name == "kcat")
      p_off[j] = 0.0;
  R.p.clear();
  for (std::size_t j = 0; j < m; ++j) R.p.push_back(&p_off[j]);
  pinn::relaxation_rates_rows(*model, R, 0, 1);
  CHECK(rate == 1.0 / 3600.0);
}

TEST_CASE("pinn: the quasi-steady state relaxes along its fast mode: E and S fall as ES forms, P does not move") {
  // Binding E + S -> ES settles within ~0.1 s; an untrained network changes by O(s / 3600)
  // per second in linear time. The fast mode is the binding stoichiometry (-1, -1, 1, 0):
  // e_ES moved along the conservation laws instead would take half of ES from P. (The fast
  // eigenvector also carries catalysis, a share kcat / lambda = 2 % here.)
  auto pb = michaelis_menten_problem();
  pb.time.log = false;
  pinn::NetworkOptions net_options = small();
  net_options.quasi_steady = {"ES"};
  const auto net = pinn::Pinn::train(pb, net_options, quick(0));
  const std::vector<double> p =
      parameters_at(pb, {{"E0", 0.05}, {"S0", 17.0}, {"kon", 2.0}, {"koff", 1.0}, {"kcat", 0.7}});
  for (double t : {0.001, 0.01, 0.03}) {
    std::vector<double> du(4), tt{t};
    net.time_derivatives(p.data(), 1, tt.data(), true, du.data());
    const double des = du[2] / 3600.0;  // du/dt^ -> per second
    INFO("t = " << t << ": du/dt^ = " << du[0] << ", " << du[1] << ", " << du[2] << ", " << du[3]);
    CHECK(des > 0.5);  // kon E0 S0 = 1.7 uM/s at t = 0, relaxing at ~35 /s
    CHECK(std::abs(du[3]) < 0.05 * du[2]);
    CHECK(du[1] == Approx(-du[2]).margin(0.05 * du[2]));
    CHECK(du[0] == Approx(-du[2]).margin(1e-9 * du[2]));  // E + ES = E0 exactly
  }
}

TEST_CASE("pinn: the characteristic-time input is the substrate's depletion time, and du/dt follows it") {
  auto pb = michaelis_menten_problem();
  pb.time.characteristic = true;
  pinn::NetworkOptions net_options = small();
  net_options.quasi_steady = {"ES"};
  const auto net = pinn::Pinn::train(pb, net_options, quick(0));
  // tau_c at the box's centre (linear ranges: S0 = 20, kon = 2, koff = kcat = 1): S0 / (kcat ES*),
  // ES* the quasi-steady complex, the smaller root of kon (E0 - x)(S0 - x) = (koff + kcat) x:
  // the manifold point of y0 along the binding mode, (E0 - ES*, S0 - ES*, ES*, 0), to the
  // share of catalysis in the fast mode (kcat / lambda = 2 %, on the 0.25 % ES* / S0).
  const double E0 = 0.05, S0 = 20.0, kon = 2.0, koff = 1.0, kcat = 1.0;
  const double b = E0 + S0 + (koff + kcat) / kon;
  const double es = (b - std::sqrt(b * b - 4 * E0 * S0)) / 2;
  const auto& time = net.metadata().at("normalisation").at("time");
  CHECK(time.at("characteristic") == true);
  CHECK(time.at("tau_ref").get<double>() == Approx(S0 / (kcat * es)).epsilon(1e-4));
  // du/dt^ by forward mode against reverse mode and a central difference of the output.
  const std::vector<double> p =
      parameters_at(pb, {{"E0", E0}, {"S0", 13.0}, {"kon", 2.5}, {"koff", 0.6}, {"kcat", 1.3}});
  const double L = std::log1p(3600.0 / 0.01);
  for (double t : {0.003, 0.05, 2.0, 500.0, 3000.0}) {
    const double h = 1e-6 * t;
    std::vector<double> up(4), um(4), du(4), reverse(4), tp{t + h}, tm{t - h}, tt{t};
    net.predict(p.data(), 1, tp, up.data());
    net.predict(p.data(), 1, tm, um.data());
    net.time_derivatives(p.data(), 1, tt.data(), true, du.data());
    net.time_derivatives(p.data(), 1, tt.data(), false, reverse.data());
    for (std::size_t i = 0; i < 4; ++i) {
      INFO("t = " << t << ", state " << i);
      CHECK(du[i] == Approx((up[i] - um[i]) / (2 * h) * L * (0.01 + t)).epsilon(1e-5).margin(1e-9));
      CHECK(du[i] == Approx(reverse[i]).epsilon(1e-10).margin(1e-14));
    }
  }
  // The sidecar carries tau_c: a loaded network predicts the same values.
  const std::string dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/pinn";
  std::filesystem::create_directories(dir);
  net.save(dir + "/mm_tau.pt");
  const auto loaded = pinn::Pinn::load(dir + "/mm_tau.pt", pb.model);
  std::vector<double> u(pb.times.size() * 4), again(u.size());
  net.predict(p.data(), 1, pb.times, u.data());
  loaded.predict(p.data(), 1, pb.times, again.data());
  CHECK(again == u);
}

TEST_CASE("pinn: brief training on exponential decay lowers the error against the closed form") {
  const auto pb = decay_problem();
  const double before = decay_error(pinn::Pinn::train(pb, small(), quick(0)), pb);
  auto opts = quick(300);
  opts.learning_rate = 0.01;
  opts.lbfgs_iterations = 200;
  const auto trained = pinn::Pinn::train(pb, small(), opts);
  const double after = decay_error(trained, pb);
  INFO("max error before " << before << ", after 300 Adam steps and 200 L-BFGS iterations " << after);
  CHECK(after < before / 20);
  CHECK(after < 0.02);
  // The residual falls with it.
  const std::vector<double> p = {1.0, 1.3};
  double r_before = 0, r_after = 0;
  pinn::Pinn::train(pb, small(), quick(0)).residual(p.data(), 1, 32, &r_before);
  trained.residual(p.data(), 1, 32, &r_after);
  CHECK(r_after < r_before / 5);
}

TEST_CASE("pinn: a per-sample output scale fits small draws as closely as large ones, and so does hybrid data") {
  // A0 over two decades. With one output scale for the box (that of A0 = 1), a draw with
  // A0 = 0.01 is a hundredth of the network's output and of the residual: its relative error is
  // a hundred times the large draws'. network.sample_scale measures each draw, its residual and
  // its data rows, in its own units.
  auto pb = decay_problem();
  for (auto& r : pb.parameters)
    if (r.name == "A0") r = pinn::make_range("A0", 0.01, 1.0);
  auto opts = quick(300);
  opts.learning_rate = 0.01;
  opts.lbfgs_iterations = 200;
  auto network = small();
  auto errors = [&](const pinn::Pinn& net) { return net.error_against_solver(100, 5, pb.solver, pb.times); };
  const auto one_scale = errors(pinn::Pinn::train(pb, network, opts));
  network.sample_scale = true;
  const auto own_scale_net = pinn::Pinn::train(pb, network, opts);
  const auto own_scale = errors(own_scale_net);
  CHECK(own_scale_net.metadata().at("network").at("sample_scale") == true);
  opts.data_samples = 64;
  opts.balance = false;
  opts.data_weight = 1.0;
  const auto hybrid_net = pinn::Pinn::train(pb, network, opts);
  const auto hybrid = errors(hybrid_net);
  INFO("relative L2 on 100 draws: one scale median "
       << one_scale.median << ", worst " << one_scale.worst << "; per-sample scale " << own_scale.median << ", "
       << own_scale.worst << "; with 64 trajectories as data " << hybrid.median << ", " << hybrid.worst);
  CHECK(own_scale.worst < one_scale.worst / 5);
  CHECK(hybrid_net.metadata().at("training").at("final_data_loss").get<double>() > 0.0);
  CHECK(hybrid.worst < 0.02);
}

TEST_CASE("pinn: over a long logarithmic horizon the relative residual stays bounded where the plain one explodes") {
  // exp(-k t) out to t = 1e6 in log time: dt/dt^ reaches 2e7, so where an untrained network
  // is off zero late, f dt/dt^ / s is ~1e7 and such points would be the whole plain loss.
  // The relative rows (du/dt^ - f h) / (s + |f h|) are at most 1 + |du/dt^| / s there.
  auto pb = decay_problem();
  pb.times = {0.0};
  for (int e = -2; e <= 6; ++e) pb.times.push_back(std::pow(10.0, e));
  pb.time.log = true;
  pb.time.scale = 0.01;
  auto rms_with = [&](pinn::TrainOptions::Residual form) {
    auto opts = quick(0);
    opts.residual = form;
    const auto net = pinn::Pinn::train(pb, small(), opts);
    CHECK(net.metadata().at("network").at("residual") ==
          (form == pinn::TrainOptions::Residual::kRelative ? "relative" : "plain"));
    const std::vector<double> p = {1.0, 1.3};
    double rms = 0;
    net.residual(p.data(), 1, 64, &rms);
    return rms;
  };
  const double plain = rms_with(pinn::TrainOptions::Residual::kPlain);
  const double relative = rms_with(pinn::TrainOptions::Residual::kRelative);
  INFO("RMS residual of the same untrained network: plain " << plain << ", relative " << relative);
  CHECK(plain > 1e4);
  CHECK(relative < 3.0);
  CHECK(relative > 0.01);
}

TEST_CASE("pinn: training is reproducible for a seed on CPU") {
  const auto pb = decay_problem();
  const auto a = pinn::Pinn::train(pb, small(), quick(50, "float32"));
  const auto b = pinn::Pinn::train(pb, small(), quick(50, "float32"));
  const std::vector<double> p = {1.0, 0.9};
  std::vector<double> ua(pb.times.size()), ub(pb.times.size());
  a.predict(p.data(), 1, pb.times, ua.data());
  b.predict(p.data(), 1, pb.times, ub.data());
  CHECK(ua == ub);
}

// The process's threads by id (Linux), empty where /proc is not there.
std::set<std::string> thread_ids() {
  std::set<std::string> ids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) ids.insert(e.path().filename());
  return ids;
}

TEST_CASE("pinn: setting the thread count sets torch's, and starts or ends no thread when it is set again") {
  // at::set_num_threads re-created caffe2's thread pool at every call: 8-9 ms and a new thread
  // spinning on a core, before every shard (pinn/src/threads.h).
  pinn::Pinn::set_threads(2);
  CHECK(at::get_num_threads() == 2);
  const auto before = thread_ids();
  for (int k = 0; k < 3; ++k) pinn::Pinn::set_threads(2);
  CHECK(at::get_num_threads() == 2);
  if (!before.empty()) CHECK(thread_ids() == before);
  pinn::Pinn::set_threads(1);
  CHECK(at::get_num_threads() == 1);
  if (!before.empty()) CHECK(thread_ids() == before);
  pinn::Pinn::set_threads(2);
  CHECK(at::get_num_threads() == 2);
}

TEST_CASE("pinn: save and load round-trip bit for bit, with the sidecar") {
  const auto pb = decay_problem();
  auto opts = quick(30);
  const std::string dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/pinn";
  std::filesystem::create_directories(dir);
  auto network = small();
  network.sample_scale = true;  // restored from the sidecar, or the loaded network would differ
  const auto net = pinn::Pinn::train(pb, network, opts);
  net.save(dir + "/decay.pt");
  REQUIRE(std::filesystem::exists(dir + "/decay.json"));
  const auto loaded = pinn::Pinn::load(dir + "/decay.pt", pb.model);
  const std::vector<double> p = {1.0, 1.7};
  std::vector<double> u1(pb.times.size()), u2(pb.times.size());
  net.predict(p.data(), 1, pb.times, u1.data());
  loaded.predict(p.data(), 1, pb.times, u2.data());
  CHECK(u1 == u2);
  double r1 = 0, r2 = 0;
  net.residual(p.data(), 1, 16, &r1);
  loaded.residual(p.data(), 1, 16, &r2);
  CHECK(r1 == r2);
  // Saving the loaded network writes the same bytes (the archive holds its own file name).
  std::filesystem::create_directories(dir + "/again");
  loaded.save(dir + "/again/decay.pt");
  CHECK((bytes_of(dir + "/decay.pt") == bytes_of(dir + "/again/decay.pt")));
  CHECK((bytes_of(dir + "/decay.json") == bytes_of(dir + "/again/decay.json")));
  CHECK(loaded.metadata().at("model").at("name") == pb.model->name());
  CHECK(loaded.metadata().at("training").at("adam_steps") == 30);
}

TEST_CASE("pinn: a network is refused for another model, and draws outside its box are refused") {
  const auto pb = decay_problem();
  const std::string dir = std::string(PHYSYNTH_TEST_OUTPUT) + "/pinn";
  std::filesystem::create_directories(dir);
  pinn::Pinn::train(pb, small(), quick(1)).save(dir + "/decay_refused.pt");
  const auto other = testing::network(kMichaelisMenten).model;
  try {
    pinn::Pinn::load(dir + "/decay_refused.pt", other);
    FAIL("loaded for the wrong model");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("decay_refused.pt") != std::string::npos);
    CHECK(what.find("was trained for model") != std::string::npos);
  }
  CHECK_THROWS_WITH(pinn::Pinn::load(dir + "/missing.pt", pb.model), Catch::Contains("does not exist"));
  // A sidecar with a field no network has: the error names the sidecar and the value.
  CHECK_THROWS_WITH(
      pinn::Pinn::load(with_edited_sidecar(dir, "decay_refused", "decay_bad_dtype", "\"float64\"", "\"float16\""),
                       pb.model),
      Catch::Contains("decay_bad_dtype.json: dtype 'float16' is not one of float32, float64"));
  // The first sidecar format, without quasi-steady states, means the same and still loads.
  CHECK_NOTHROW(pinn::Pinn::load(
      with_edited_sidecar(dir, "decay_refused", "decay_v1", "physynth-pinn-2", "physynth-pinn-1"), pb.model));
  const auto net = pinn::Pinn::load(dir + "/decay_refused.pt", pb.model);
  const std::vector<double> inside = {1.0, 2.0}, outside = {1.0, 2.5}, other_a0 = {2.0, 1.0};
  CHECK(net.check_parameters(inside.data()).empty());
  CHECK_THAT(net.check_parameters(outside.data()),
             Catch::Contains("k = 2.5 is outside the range the network covers [0.5, 2]"));
  CHECK_THAT(net.check_parameters(other_a0.data()), Catch::Contains("was fixed at 1"));
}

TEST_CASE("pinn: models without a tensor right-hand side, or with jumps, are refused with the reason") {
  const auto pb = decay_problem();
  CHECK(pinn::tensor_support(*pb.model).empty());
  auto bad = pb;
  bad.parameters.pop_back();
  CHECK_THROWS_WITH(pinn::Pinn::train(bad, small(), quick(0)),
                    Catch::Contains("one parameter range per model parameter"));
  auto opts = quick(0);
  opts.device = "cuda:7";
  if (!pinn::cuda_available())
    CHECK_THROWS_WITH(pinn::Pinn::train(pb, small(), opts), Catch::Contains("use device: cpu"));
  opts.device = "tpu";
  CHECK_THROWS_WITH(pinn::Pinn::train(pb, small(), opts), Catch::Contains("not one of cpu, cuda, cuda:N"));
}
