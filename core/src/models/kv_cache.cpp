#include "epalm/core/models/kv_cache.h"

#include <torch/torch.h>

#include <limits>

#include "epalm/core/models/layer_hooks.h"

namespace epalm::models {

std::int64_t KvCache::length(int layer) const {
  if (layer >= static_cast<int>(keys.size()) || !keys[layer].defined()) return 0;
  return keys[layer].size(2);
}

void KvCache::reorder(const at::Tensor& indices) {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].defined()) continue;
    const auto on_device = indices.to(keys[i].device());
    keys[i] = keys[i].index_select(0, on_device);
    values[i] = values[i].index_select(0, on_device);
  }
}

std::pair<at::Tensor, at::Tensor> KvCache::append(int layer, const at::Tensor& k, const at::Tensor& v) {
  if (static_cast<int>(keys.size()) <= layer) {
    keys.resize(layer + 1);
    values.resize(layer + 1);
  }
  if (keys[layer].defined()) {
    keys[layer] = torch::cat({keys[layer], k}, 2);
    values[layer] = torch::cat({values[layer], v}, 2);
  } else {
    keys[layer] = k;
    values[layer] = v;
  }
  return {keys[layer], values[layer]};
}

double masked_bias_value(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kHalf:
      return -65504.0;
    case c10::kBFloat16:
      return -3.3895313892515355e38;
    case c10::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return std::numeric_limits<float>::lowest();
  }
}

}  // namespace epalm::models
