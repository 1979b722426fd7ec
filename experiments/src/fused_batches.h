// Internal: how the variants of a fused job share their micro-batches (a
// fused training job, and the sweep-fused benchmark that times it). The
// shared source reads each position once (features for the deepest levels
// any variant injects, computed or fetched once); each variant reads its own
// last blocks of them, what its run alone would compute.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>

#include "epalm/core/train/trainer.h"

namespace epalm::experiments {

class SharedBatches {
 public:
  explicit SharedBatches(train::BatchSource& source) : source_(source) {}
  const train::Batch& at(std::int64_t position) {
    auto it = held_.find(position);
    if (it == held_.end()) it = held_.emplace(position, source_.batch_at(position)).first;
    return it->second;
  }
  // Positions before this one no variant needs again.
  void forget_before(std::int64_t position) { held_.erase(held_.begin(), held_.lower_bound(position)); }

 private:
  train::BatchSource& source_;
  std::map<std::int64_t, train::Batch> held_;
};

// One variant's view: the last `levels` of the shared features (the deepest blocks).
class VariantBatches : public train::BatchSource {
 public:
  VariantBatches(SharedBatches& shared, std::int64_t shared_levels, int levels)
      : shared_(shared), shared_levels_(shared_levels), levels_(levels) {}
  train::Batch batch_at(std::int64_t position) override {
    auto b = shared_.at(position);
    b.features = b.features.narrow(1, shared_levels_ - levels_, levels_);
    return b;
  }

 private:
  SharedBatches& shared_;
  std::int64_t shared_levels_;
  int levels_;
};

}  // namespace epalm::experiments
