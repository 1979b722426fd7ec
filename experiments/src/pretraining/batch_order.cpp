#include "pretraining/batch_order.h"

#include <numeric>
#include <utility>

namespace epalm::experiments::pretraining {

BatchOrder::BatchOrder(std::size_t examples, std::uint64_t seed) : random_(seed), order_(examples) {
  std::iota(order_.begin(), order_.end(), std::size_t{0});
  shuffle();
}

void BatchOrder::shuffle() {
  // Fisher-Yates on the project's generator (std::shuffle's algorithm is the library's own).
  for (std::size_t i = order_.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(random_.integer(0, static_cast<std::int64_t>(i) - 1));
    std::swap(order_[i - 1], order_[j]);
  }
  position_ = 0;
}

std::vector<std::size_t> BatchOrder::next(std::int64_t batch_size) {
  std::vector<std::size_t> batch;
  if (order_.empty()) return batch;
  while (static_cast<std::int64_t>(batch.size()) < batch_size) {
    if (position_ == order_.size()) shuffle();
    batch.push_back(order_[position_++]);
  }
  return batch;
}

}  // namespace epalm::experiments::pretraining
