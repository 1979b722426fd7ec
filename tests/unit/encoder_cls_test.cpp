// The [CLS] tokens eP-ALM reads (Encoder::last_blocks_cls): ViT and AST
// compute only the [CLS] row in their last block; the result must equal
// token 0 of every hidden state of a full forward pass.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>

#include "epalm/core/error.h"
#include "epalm/core/models/ast.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"
#include "../parity/forward_depth.h"

namespace epalm::models {
namespace {

// The encoders here run the auto kernel: fused attention (attention_kernel.h).
constexpr bool kFused = unmasked_attention_is_fused(AttentionKernel::kAuto);

// Within the rounding bound of the outputs' depth (tests/parity/forward_depth.h):
// the [CLS] row alone runs the same operations over other shapes.
void expect_cls_of_full_forward(const Encoder& encoder, const at::Tensor& inputs,
                                const std::function<double(std::int64_t tokens)>& depth) {
  const auto full = encoder.forward(inputs, /*output_hidden_states=*/true);
  for (int levels : {1, 2, static_cast<int>(encoder.num_layers())}) {
    const auto expected = cls_of_hidden_states(full, levels, encoder.num_layers());
    const auto cls = encoder.last_blocks_cls(inputs, levels);
    ASSERT_EQ(cls.sizes(), (std::vector<std::int64_t>{inputs.size(0), levels, encoder.hidden_size()}));
    const auto tokens = full.last_hidden_state.size(1);
    const auto bound = torch::tensor(epalm::testing::forward_bound(expected, depth(tokens)), torch::kDouble);
    EXPECT_TRUE(epalm::testing::within(cls, expected, bound, std::to_string(levels) + " levels"));
  }
  EXPECT_THROW(encoder.last_blocks_cls(inputs, 0), UsageError);
  EXPECT_THROW(encoder.last_blocks_cls(inputs, static_cast<int>(encoder.num_layers()) + 1), UsageError);
}

TEST(EncoderCls, VitLastBlockComputesTheClsRowAlone) {
  VitConfig c;
  c.hidden_size = 32;
  c.num_layers = 3;
  c.num_heads = 4;
  c.intermediate_size = 48;
  c.image_size = 32;
  c.patch_size = 8;
  const auto model = VitModel::random(c, c10::kFloat, c10::kCPU, 3);
  torch::manual_seed(0);
  expect_cls_of_full_forward(model, torch::randn({2, 3, 32, 32}),
                             [&](std::int64_t t) { return epalm::testing::vit_depth(c, t, -1, kFused); });
}

TEST(EncoderCls, AstLastBlockComputesTheClsRowAlone) {
  AstConfig c;
  c.hidden_size = 32;
  c.num_layers = 3;
  c.num_heads = 4;
  c.intermediate_size = 48;
  c.max_length = 40;
  c.num_mel_bins = 24;
  const auto model = AstModel::random(c, c10::kFloat, c10::kCPU, 4);
  torch::manual_seed(1);
  expect_cls_of_full_forward(model, torch::randn({2, 40, 24}),
                             [&](std::int64_t t) { return epalm::testing::ast_depth(c, t, -1, kFused); });
}

TEST(EncoderCls, TimesformerUsesTheFullForward) {
  TimesformerConfig c;
  c.image_size = 32;
  c.patch_size = 8;
  c.num_frames = 2;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 4;
  c.intermediate_size = 48;
  const auto model = TimesformerModel::random(c, c10::kFloat, c10::kCPU, 5);
  torch::manual_seed(2);
  expect_cls_of_full_forward(model, torch::randn({2, 2, 3, 32, 32}),
                             [&](std::int64_t t) { return epalm::testing::timesformer_depth(c, t, -1, kFused); });
}

TEST(EncoderFingerprint, FollowsTheWeights) {
  VitConfig c;
  c.hidden_size = 16;
  c.num_layers = 1;
  c.num_heads = 2;
  c.intermediate_size = 16;
  c.image_size = 16;
  c.patch_size = 8;
  const auto a = VitModel::random(c, c10::kFloat, c10::kCPU, 1);
  EXPECT_EQ(a.fingerprint(), VitModel::random(c, c10::kFloat, c10::kCPU, 1).fingerprint());
  EXPECT_NE(a.fingerprint(), VitModel::random(c, c10::kFloat, c10::kCPU, 2).fingerprint());
  EXPECT_EQ(a.fingerprint().size(), 16u);
}

}  // namespace
}  // namespace epalm::models
