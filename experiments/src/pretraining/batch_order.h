// Internal: which examples each training step takes: reshuffled epochs of
// every example, drawn from the seed alone.
#pragma once

#include <cstdint>
#include <vector>

#include "epalm/core/augment/augmentations.h"

namespace epalm::experiments::pretraining {

class BatchOrder {
 public:
  BatchOrder(std::size_t examples, std::uint64_t seed);
  // The next `batch_size` examples (a batch may span two epochs).
  std::vector<std::size_t> next(std::int64_t batch_size);
  augment::Random& random() { return random_; }  // the same stream, for augmentations

 private:
  void shuffle();
  augment::Random random_;
  std::vector<std::size_t> order_;
  std::size_t position_ = 0;
};

}  // namespace epalm::experiments::pretraining
