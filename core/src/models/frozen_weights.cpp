#include "models/frozen_weights.h"

#include <torch/torch.h>

namespace epalm::models {

at::Tensor FrozenWeights::get(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end()) return at::Tensor();
  // A tensor that requires gradient is a parameter being trained (pretraining): held as given.
  return it->second.requires_grad() ? it->second : it->second.detach().set_requires_grad(false);
}

layers::PreLnBlock FrozenWeights::vit_layer(const std::string& p, std::int64_t num_heads, double eps,
                                            const std::string& activation) const {
  layers::PreLnBlock block;
  block.norm_before = norm(p + "layernorm_before", eps);
  block.attention.query = linear(p + "attention.attention.query");
  block.attention.key = linear(p + "attention.attention.key");
  block.attention.value = linear(p + "attention.attention.value");
  block.attention.output = linear(p + "attention.output.dense");
  block.attention.num_heads = num_heads;
  block.attention.softmax = layers::SoftmaxPrecision::kFloat32;
  block.norm_after = norm(p + "layernorm_after", eps);
  block.intermediate = linear(p + "intermediate.dense");
  block.output = linear(p + "output.dense");
  block.activation = activation;
  return block;
}

}  // namespace epalm::models
