#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "physynth/pinn/feed_dataset.h"
#include "support/test_problems.h"

using namespace physynth;

namespace {
engine::Scenario fleet() {
  core::Diagnostics d;
  auto s = engine::load_scenario(testing::repository_path("scenarios/manufacturing/bearing_fleet.yaml"),
                                 {"sampling.samples=60", "output.shard_size=30", "sampling.design=random"}, d);
  REQUIRE(s);
  return std::move(*s);
}
}  // namespace

TEST_CASE("FeedDataset: the torch::data batches are the feed's windows, through a DataLoader") {
  const auto scenario = fleet();
  // The reference: the feed itself.
  engine::FeedStream stream(scenario, engine::Split::kTrain, false, 1);
  engine::WindowBatch all, chunk;
  while (stream.next(&chunk)) all.take_front(chunk, chunk.size);
  REQUIRE(all.size > 100);

  auto loader = torch::data::make_data_loader(pinn::FeedDataset(scenario, engine::Split::kTrain),
                                              torch::data::samplers::StreamSampler(all.size),
                                              torch::data::DataLoaderOptions().batch_size(50));
  std::size_t seen = 0;
  for (auto& batch : *loader) {
    REQUIRE(batch.data.dim() == 3);
    REQUIRE(batch.data.size(1) == 12);
    REQUIRE(batch.data.size(2) == 1);
    const auto n = static_cast<std::size_t>(batch.target.size(0));
    auto x = batch.data.contiguous();
    for (std::size_t k = 0; k < n; ++k) {
      REQUIRE(batch.target[static_cast<int64_t>(k)].item<float>() == all.targets[seen + k]);
      REQUIRE(x[static_cast<int64_t>(k)][11][0].item<float>() == all.features[(seen + k) * 12 + 11]);
    }
    seen += n;
  }
  CHECK(seen == all.size);
}

TEST_CASE("FeedDataset: a LibTorch model trains on an endless synthetic stream") {
  torch::manual_seed(0);
  pinn::FeedDataset data(fleet(), engine::Split::kTrain, /*endless=*/true);
  // RUL from the last temperature reading and its rise over the window: a linear model, standardised inputs.
  torch::nn::Linear model(2, 1);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(0.05));
  auto features = [](const torch::Tensor& x) {
    auto last = x.select(1, x.size(1) - 1).squeeze(1);
    auto rise = last - x.select(1, 0).squeeze(1);
    return torch::stack({(last - 40.0) / 10.0, rise}, 1);
  };
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 150; ++step) {
    auto batch = data.get_batch(128);
    REQUIRE(batch.target.size(0) == 128);  // endless: always full
    auto x = features(torch::nan_to_num(batch.data, 25.0));
    auto loss = torch::mse_loss(model->forward(x).squeeze(1), batch.target / 125.0);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step < 10) first += loss.item<double>() / 10;
    if (step >= 140) last += loss.item<double>() / 10;
  }
  CHECK(last < 0.5 * first);
}
