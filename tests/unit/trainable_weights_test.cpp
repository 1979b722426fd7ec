// Models built from weights that require gradient train them (pretraining):
// a backward pass reaches every weight, through our own forward; weights
// that do not require gradient stay frozen. And the encoder configs' to_json
// reads back as the same config (transformers reads it in the pretraining
// parity tests).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "epalm/core/models/ast.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"

namespace epalm::models {
namespace {

// Random weights by `shapes`, requiring gradient when `trainable`.
std::map<std::string, at::Tensor> weights_for(const models::TensorShapes& shapes, bool trainable) {
  torch::manual_seed(0);
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : shapes) w[name] = (torch::randn(shape) * 0.1).set_requires_grad(trainable);
  return w;
}

// Every weight got a gradient of its shape, and some of it is not zero
// (except a key bias: it shifts every score of a query alike, which softmax
// ignores, so its gradient is zero up to rounding).
void expect_every_weight_has_a_gradient(const std::map<std::string, at::Tensor>& weights) {
  for (const auto& [name, t] : weights) {
    ASSERT_TRUE(t.grad().defined()) << name;
    EXPECT_EQ(t.grad().sizes(), t.sizes()) << name;
    const bool key_bias = name.find("k_proj.bias") != std::string::npos || name.find("key.bias") != std::string::npos;
    if (!key_bias) {
      EXPECT_GT(t.grad().abs().sum().item<double>(), 0.0) << name;
    }
  }
}

TEST(TrainableWeights, OptTrainsEveryWeightGivenWithGradientAndFreezesTheOthers) {
  OptConfig c;
  c.vocab_size = 24;
  c.hidden_size = 16;
  c.num_layers = 2;
  c.ffn_dim = 32;
  c.num_heads = 2;
  c.max_positions = 16;
  c.word_embed_proj_dim = 16;
  const auto ids = torch::tensor({{2, 5, 7, 9}, {2, 11, 3, 4}});
  auto weights = weights_for(opt_tensor_shapes(c), /*trainable=*/true);
  const OptModel model(c, weights);
  model.forward(ids).logits.square().sum().backward();
  expect_every_weight_has_a_gradient(weights);
  // The model holds the very tensors: an in-place update shows in its output.
  const auto before = model.forward(ids).logits.detach();
  {
    torch::NoGradGuard no_grad;
    weights.at("decoder.layers.1.fc2.bias").add_(1.0);
  }
  EXPECT_FALSE(torch::allclose(model.forward(ids).logits, before));

  const auto frozen_weights = weights_for(opt_tensor_shapes(c), /*trainable=*/false);
  const OptModel frozen(c, frozen_weights);
  EXPECT_FALSE(frozen.forward(ids).logits.requires_grad());
  for (const auto& [name, t] : frozen.weights()) EXPECT_FALSE(t.requires_grad()) << name;
}

TEST(TrainableWeights, EncodersTrainEveryWeightGivenWithGradient) {
  VitConfig v;
  v.hidden_size = 16;
  v.num_layers = 2;
  v.num_heads = 2;
  v.intermediate_size = 32;
  v.image_size = 16;
  v.patch_size = 8;
  auto vit_weights = weights_for(vit_tensor_shapes(v), true);
  VitModel(v, vit_weights).forward(torch::randn({2, 3, 16, 16})).last_hidden_state.square().sum().backward();
  expect_every_weight_has_a_gradient(vit_weights);

  TimesformerConfig t;
  t.hidden_size = 16;
  t.num_layers = 2;
  t.num_heads = 2;
  t.intermediate_size = 32;
  t.image_size = 16;
  t.patch_size = 8;
  t.num_frames = 2;
  auto timesformer_weights = weights_for(timesformer_tensor_shapes(t), true);
  TimesformerModel(t, timesformer_weights)
      .forward(torch::randn({2, 2, 3, 16, 16}))
      .last_hidden_state.square()
      .sum()
      .backward();
  expect_every_weight_has_a_gradient(timesformer_weights);

  AstConfig a;
  a.hidden_size = 16;
  a.num_layers = 2;
  a.num_heads = 2;
  a.intermediate_size = 32;
  a.max_length = 32;
  a.num_mel_bins = 16;
  a.frequency_stride = 8;
  a.time_stride = 8;
  a.patch_size = 8;
  auto ast_weights = weights_for(ast_tensor_shapes(a), true);
  AstModel(a, ast_weights).forward(torch::randn({2, 32, 16})).last_hidden_state.square().sum().backward();
  expect_every_weight_has_a_gradient(ast_weights);

  const VitModel frozen(v, weights_for(vit_tensor_shapes(v), false));
  EXPECT_FALSE(frozen.forward(torch::randn({1, 3, 16, 16})).last_hidden_state.requires_grad());
}

std::string write_config(const std::string& json) {
  const auto path =
      (std::filesystem::temp_directory_path() / ("epalm-config-" + std::to_string(::getpid()) + ".json")).string();
  std::ofstream(path) << json;
  return path;
}

TEST(EncoderConfigJson, ToJsonReadsBackAsTheSameConfig) {
  VitConfig v;
  v.hidden_size = 48;
  v.num_layers = 3;
  v.num_heads = 6;
  v.intermediate_size = 96;
  v.image_size = 64;
  v.patch_size = 8;
  v.layer_norm_eps = 1e-6;
  v.qkv_bias = false;
  auto path = write_config(v.to_json());
  const auto vr = VitConfig::from_json_file(path);
  EXPECT_EQ(vr.hidden_size, 48);
  EXPECT_EQ(vr.num_layers, 3);
  EXPECT_EQ(vr.num_heads, 6);
  EXPECT_EQ(vr.intermediate_size, 96);
  EXPECT_EQ(vr.image_size, 64);
  EXPECT_EQ(vr.patch_size, 8);
  EXPECT_EQ(vr.layer_norm_eps, 1e-6);
  EXPECT_FALSE(vr.qkv_bias);

  TimesformerConfig t;
  t.hidden_size = 32;
  t.num_layers = 2;
  t.num_heads = 4;
  t.intermediate_size = 64;
  t.image_size = 32;
  t.patch_size = 16;
  t.num_frames = 4;
  t.attention_type = "joint_space_time";
  std::ofstream(path) << t.to_json();
  const auto tr = TimesformerConfig::from_json_file(path);
  EXPECT_EQ(tr.hidden_size, 32);
  EXPECT_EQ(tr.num_layers, 2);
  EXPECT_EQ(tr.num_heads, 4);
  EXPECT_EQ(tr.intermediate_size, 64);
  EXPECT_EQ(tr.image_size, 32);
  EXPECT_EQ(tr.patch_size, 16);
  EXPECT_EQ(tr.num_frames, 4);
  EXPECT_EQ(tr.attention_type, "joint_space_time");

  AstConfig a;
  a.hidden_size = 32;
  a.num_layers = 2;
  a.num_heads = 4;
  a.intermediate_size = 64;
  a.max_length = 128;
  a.num_mel_bins = 32;
  a.frequency_stride = 16;
  a.time_stride = 12;
  std::ofstream(path) << a.to_json();
  const auto ar = AstConfig::from_json_file(path);
  std::filesystem::remove(path);
  EXPECT_EQ(ar.hidden_size, 32);
  EXPECT_EQ(ar.num_layers, 2);
  EXPECT_EQ(ar.num_heads, 4);
  EXPECT_EQ(ar.intermediate_size, 64);
  EXPECT_EQ(ar.max_length, 128);
  EXPECT_EQ(ar.num_mel_bins, 32);
  EXPECT_EQ(ar.frequency_stride, 16);
  EXPECT_EQ(ar.time_stride, 12);
}

}  // namespace
}  // namespace epalm::models
