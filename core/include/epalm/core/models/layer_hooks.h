// The extension point of every transformer here (OPT, ViT, TimeSformer, AST):
// what a hook sees before each layer, and may change. eP-ALM prepends its
// perceptual token before OPT's first injection layer and replaces it before
// the later ones; anything that adds, reads or rewrites tokens at chosen
// layers is written the same way.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

namespace epalm::models {

struct LayerInput {
  int layer = 0;
  // [B, T, H]: the residual stream entering the layer. A hook may replace it
  // with one of another length (prepending tokens) if it keeps attention_bias
  // consistent; later layers see the changed tensors.
  at::Tensor hidden;
  // [B, 1, T, K] additive attention bias (0 attends, the dtype's lowest value
  // masks), K = past_length + T keys. Undefined for encoders, whose tokens
  // all attend to each other.
  at::Tensor attention_bias;
  // Keys this layer already holds in its cache (0 without a cache).
  std::int64_t past_length = 0;
};

using LayerHook = std::function<void(LayerInput&)>;

// Rewrites a sub-block's output before it joins the residual stream (the
// attention block after its output projection, the MLP after its second
// linear): where bottleneck adapters go. Gets the layer index.
using SublayerOutputHook = std::function<at::Tensor(int layer, const at::Tensor& output)>;

// The additive bias value that masks a key in `dtype` (HF uses finfo.min, not -inf,
// so fully masked rows stay finite).
double masked_bias_value(c10::ScalarType dtype);

}  // namespace epalm::models
