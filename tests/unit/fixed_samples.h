// Four fixed eP-ALM samples (BOS + a short answer, as in VQA, and random
// encoder features), visited in order; a position maps to a sample. Drawn on
// the CPU from `seed`, so every device trains on the same values.
#pragma once

#include <torch/torch.h>

#include "epalm/core/train/trainer.h"

namespace epalm::testing {

class FixedSamples : public train::BatchSource {
 public:
  FixedSamples(int batch, int tokens, std::int64_t vocab, std::int64_t encoder_hidden,
               c10::Device device = c10::kCPU, std::uint64_t seed = 123)
      : batch_(batch) {
    torch::manual_seed(seed);
    features_ = torch::randn({4, 2, encoder_hidden}).to(device);
    auto ids = torch::randint(3, vocab, {4, tokens});
    ids.select(1, 0).fill_(2);
    ids_ = ids.to(device);
  }
  train::Batch batch_at(std::int64_t position) override {
    auto rows = torch::arange(position * batch_, (position + 1) * batch_, ids_.device()).remainder(4);
    train::Batch b;
    b.features = features_.index_select(0, rows);
    b.input_ids = ids_.index_select(0, rows);
    b.attention_mask = torch::ones_like(b.input_ids);
    b.labels = b.input_ids;
    return b;
  }

 private:
  int batch_;
  at::Tensor features_, ids_;
};

}  // namespace epalm::testing
