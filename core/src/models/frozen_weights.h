// Internal: a model's frozen tensors handed out by name (detached, without
// gradient; undefined when absent, e.g. a missing bias; a tensor that
// requires gradient is handed out as given, so a model built from such
// tensors trains them), and the layer layout
// transformers uses across its ViT family, which ViT and AST share.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "layers/pre_ln_block.h"

namespace epalm::models {

class FrozenWeights {
 public:
  explicit FrozenWeights(const std::map<std::string, at::Tensor>& weights) : weights_(weights) {}

  at::Tensor get(const std::string& name) const;
  layers::Linear linear(const std::string& name) const { return {get(name + ".weight"), get(name + ".bias")}; }
  layers::LayerNorm norm(const std::string& name, double eps) const {
    return {get(name + ".weight"), get(name + ".bias"), eps};
  }
  // "<prefix>layernorm_before", "attention.attention.{query,key,value}",
  // "attention.output.dense", "layernorm_after", "intermediate.dense",
  // "output.dense": one ViTLayer / ASTLayer.
  layers::PreLnBlock vit_layer(const std::string& prefix, std::int64_t num_heads, double eps,
                               const std::string& activation) const;

 private:
  const std::map<std::string, at::Tensor>& weights_;
};

}  // namespace epalm::models
