// A torch::data stream dataset over a physynth training feed, so a LibTorch
// training loop consumes synthetic windows generated on the fly:
//
//   auto data = physynth::pinn::FeedDataset(scenario, engine::Split::kTrain, /*endless=*/true);
//   auto loader = torch::data::make_data_loader(std::move(data),
//                     torch::data::samplers::StreamSampler(/*epoch_size=*/100000),
//                     torch::data::DataLoaderOptions().batch_size(256));
//   for (auto& batch : *loader) { ... batch.data: [B, window, channels], batch.target: [B] ... }
//
// This header includes LibTorch (it is an adapter to LibTorch's types); the
// rest of physynth's public headers do not.
#pragma once

#include <torch/data/datasets/base.h>
#include <torch/data/example.h>
#include <torch/types.h>

#include <memory>

#include "physynth/engine/feed.h"

namespace physynth::pinn {

class FeedDataset : public torch::data::datasets::StreamDataset<FeedDataset, torch::data::Example<>> {
 public:
  FeedDataset(engine::Scenario scenario, engine::Split split, bool endless = false, int threads = 0,
              torch::Device device = torch::kCPU);

  // The next `batch_size` windows (fewer at the end of a finite feed; an
  // example with empty tensors once it is exhausted), as float32 tensors:
  // data [B, window, channels], target [B]. Missing readings are NaN.
  torch::data::Example<> get_batch(size_t batch_size) override;
  torch::optional<size_t> size() const override { return torch::nullopt; }

 private:
  std::shared_ptr<const engine::Scenario> scenario_;  // stable address for the stream
  std::shared_ptr<engine::FeedStream> stream_;
  std::shared_ptr<engine::WindowBatch> pending_;
  torch::Device device_;
};

}  // namespace physynth::pinn
