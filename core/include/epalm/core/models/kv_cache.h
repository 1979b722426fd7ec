// Keys and values of earlier positions, per decoder layer, for incremental
// decoding and beam search.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace epalm::models {

struct KvCache {
  // Per layer: [B, heads, S, head_dim]; undefined until the layer first runs.
  std::vector<at::Tensor> keys;
  std::vector<at::Tensor> values;
  // Tokens placed before the text on the first step (soft prompts): they hold
  // cache entries but no attention-mask columns of the caller's.
  std::int64_t prefix_length = 0;
  // Text positions cached: the caller's attention-mask columns so far. Not
  // length(0) - prefix_length: a layer may hold extra columns (eP-ALM's
  // perceptual token, injected from the first layer on when start_layer is 0).
  std::int64_t text_length = 0;

  bool empty() const { return keys.empty() || !keys.front().defined(); }
  std::int64_t length(int layer) const;
  // Keeps batch rows `indices` (beam search reorders after every step).
  void reorder(const at::Tensor& indices);
  // Appends this step's keys/values to `layer` and returns the full ones.
  std::pair<at::Tensor, at::Tensor> append(int layer, const at::Tensor& keys, const at::Tensor& values);
};

}  // namespace epalm::models
