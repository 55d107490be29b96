#include "physynth/pinn/feed_dataset.h"

#include <torch/torch.h>

namespace physynth::pinn {

FeedDataset::FeedDataset(engine::Scenario scenario, engine::Split split, bool endless, int threads,
                         torch::Device device)
    : scenario_(std::make_shared<const engine::Scenario>(std::move(scenario))),
      pending_(std::make_shared<engine::WindowBatch>()),
      device_(device) {
  stream_ = std::make_shared<engine::FeedStream>(*scenario_, split, endless, threads);
}

torch::data::Example<> FeedDataset::get_batch(size_t batch_size) {
  engine::WindowBatch chunk;
  while (pending_->size < batch_size && stream_->next(&chunk)) pending_->take_front(chunk, chunk.size);
  engine::WindowBatch batch;
  batch.take_front(*pending_, batch_size);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  if (batch.size == 0) return {torch::empty({0, 0, 0}, opts), torch::empty({0}, opts)};
  auto data = torch::from_blob(batch.features.data(),
                               {static_cast<int64_t>(batch.size), static_cast<int64_t>(batch.window),
                                static_cast<int64_t>(batch.channels)},
                               opts)
                  .clone();
  auto target = torch::from_blob(batch.targets.data(), {static_cast<int64_t>(batch.size)}, opts).clone();
  return {data.to(device_), target.to(device_)};
}

}  // namespace physynth::pinn
