// What eP-ALM training keeps and computes: frozen weights get no gradient,
// backward stops at the first injection layer when nothing trainable sits
// below it, and bf16 frozen weights train fp32 trainables (mixed precision).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <iostream>
#include <set>

#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/packed_training.h"
#include "epalm/core/train/trainer.h"
#include "../parity/forward_depth.h"
#include "tolerance.h"

namespace epalm {
namespace {

constexpr int kLayers = 6;

models::OptModel tiny_opt(c10::ScalarType dtype = c10::kFloat, int layers = kLayers) {
  models::OptConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.num_layers = layers;
  c.ffn_dim = 64;
  c.num_heads = 4;
  c.max_positions = 32;
  c.word_embed_proj_dim = 32;
  return models::OptModel::random(c, dtype, c10::kCPU, 11);
}

struct Inputs {
  at::Tensor features, ids, mask;
};

Inputs inputs() {
  torch::manual_seed(5);
  Inputs in{torch::randn({3, 2, 24}), torch::randint(3, 50, {3, 7}), torch::ones({3, 7}, torch::kLong)};
  in.ids.select(1, 0).fill_(2);
  in.mask[2].slice(0, 5).zero_();
  return in;
}

// The names of every autograd node the loss's backward visits.
std::multiset<std::string> backward_nodes(const at::Tensor& loss) {
  std::multiset<std::string> names;
  std::set<const torch::autograd::Node*> seen;
  std::function<void(const std::shared_ptr<torch::autograd::Node>&)> visit = [&](const auto& node) {
    if (!node || !seen.insert(node.get()).second) return;
    names.insert(node->name());
    for (const auto& edge : node->next_edges()) visit(edge.function);
  };
  visit(loss.grad_fn());
  return names;
}

models::EpalmConfig config(int start, int prompt_length) {
  models::EpalmConfig c;
  c.levels = 2;
  c.start_layer = start;
  c.end_layer = kLayers;
  c.prompt_length = prompt_length;
  return c;
}

TEST(EpalmTrainingMemory, FrozenWeightsNeverRequireGradients) {
  auto decoder = tiny_opt();
  models::EpalmModel model(config(2, 3), decoder, 24, 4, 1);
  const auto in = inputs();
  model.forward(in.features, in.ids, in.mask, in.ids).loss.backward();
  for (const auto& [name, w] : decoder.weights()) {
    EXPECT_FALSE(w.requires_grad()) << name;
    EXPECT_FALSE(w.grad().defined()) << name;
  }
  for (const auto& [name, p] : model.named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
}

TEST(EpalmTrainingMemory, BackwardStopsAtTheFirstInjectionLayerWithoutSoftPrompts) {
  auto decoder = tiny_opt();
  const auto in = inputs();
  auto layer_norms = [&](int start, int prompt_length) {
    models::EpalmModel model(config(start, prompt_length), decoder, 24, 4, 1);
    return backward_nodes(model.forward(in.features, in.ids, in.mask, in.ids).loss)
        .count("NativeLayerNormBackward0");
  };
  // Pre-LN OPT: two LayerNorms per layer the backward enters, plus the final one.
  EXPECT_EQ(layer_norms(2, 0), 2 * (kLayers - 2) + 1);
  EXPECT_EQ(layer_norms(4, 0), 2 * (kLayers - 4) + 1);
  // A soft prompt enters at the embeddings: every layer is crossed.
  EXPECT_EQ(layer_norms(4, 3), 2 * kLayers + 1);
}

// What backward keeps of the MLP: its ReLU keeps a 1-byte mask, not its
// float output (no autograd ReluBackward0 node, which saves it), in the
// padded and the packed pass. The values are proven elsewhere: the parity
// tests compare both passes' losses and gradients with PyTorch's.
TEST(EpalmTrainingMemory, TheMlpKeepsAMaskForBackward) {
  auto decoder = tiny_opt();
  const auto in = inputs();
  models::EpalmModel model(config(2, 3), decoder, 24, 4, 1);
  const auto labels = in.ids.masked_fill(in.mask == 0, -100);
  auto count = [](const std::multiset<std::string>& names, const std::string& part) {
    std::size_t n = 0;
    for (const auto& name : names) n += name.find(part) != std::string::npos ? 1 : 0;
    return n;
  };
  const auto padded = backward_nodes(model.loss_terms(in.features, in.ids, in.mask, labels, {}).total);
  EXPECT_EQ(padded.count("ReluBackward0"), 0u);
  EXPECT_EQ(count(padded, "ReluSavingMask"), static_cast<std::size_t>(kLayers));

  const auto packed = models::packed_loss_terms({{&model, in.features, {}}}, in.ids, in.mask, labels).front().total;
  const auto packed_nodes = backward_nodes(packed);
  EXPECT_EQ(packed_nodes.count("ReluBackward0"), 0u);
  EXPECT_EQ(count(packed_nodes, "ReluSavingMask"), static_cast<std::size_t>(kLayers));
  // Without gradient (evaluation) the same values: the head's loss takes
  // another branch there (no buffer kept), the ReLU autograd's own.
  torch::NoGradGuard no_grad;
  const auto values = models::packed_loss_terms({{&model, in.features, {}}}, in.ids, in.mask, labels).front();
  EXPECT_EQ(values.total.item<double>(), packed.item<double>());
}

// Mixed precision against fp32, within what the roundings derive
// (tolerance.h: mixed_gamma; forward_depth.h: opt_depth, opt_bf16_roundings).
// A 2-layer decoder: bf16 rounds each op's output to 2^-8, and through six
// layers the logits' chain (137 roundings) already gets a bound of 1.15
// times their scale, the gradients' more than 3 times theirs: no bound left.
TEST(EpalmTrainingMemory, Bf16FrozenWeightsTrainFp32Trainables) {
  constexpr int kShallow = 2;
  auto fp32 = tiny_opt(c10::kFloat, kShallow);
  auto bf16 = tiny_opt(c10::kBFloat16, kShallow);  // the same draws, rounded
  ASSERT_EQ(bf16.dtype(), c10::kBFloat16);
  models::EpalmConfig layout;
  layout.levels = 2;
  layout.start_layer = 0;
  layout.end_layer = kShallow;
  layout.prompt_length = 3;
  models::EpalmModel exact(layout, fp32, 24, 4, 7);
  models::EpalmModel mixed(layout, bf16, 24, 4, 7);
  const auto in = inputs();
  const auto a = exact.forward(in.features, in.ids, in.mask, in.ids);
  const auto b = mixed.forward(in.features, in.ids, in.mask, in.ids);
  EXPECT_EQ(b.loss.scalar_type(), c10::kFloat);
  // The logits: the fp32 side within gamma(depth, u_fp32) of the exact
  // values on the fp32 weights, the bf16 side within mixed_gamma (its
  // weights and its fp32 inputs rounded on top), each times their scale.
  const auto& c = fp32.config();
  const auto keys = 1 + layout.prompt_length + in.ids.size(1);  // token, prompt, text
  const double depth = testing::opt_depth(c, keys, -1);
  const double roundings = testing::opt_bf16_roundings(c, -1, /*rounded_weights=*/true);
  const double relative = testing::mixed_gamma(depth, roundings) + testing::gamma_n(depth);
  const double logit_bound = relative * a.logits.abs().max().item<double>();
  EXPECT_TRUE(testing::within(b.logits, a.logits, torch::tensor(logit_bound, torch::kDouble), "bf16 logits"));
  // The loss, weight / B * the sum of each row's token cross-entropies:
  // logsumexp(z) - z_target moves by at most twice the logits' bound, so
  // the loss by weight * (the most targets in a row) * 2 * logit_bound; plus
  // both sides' fp32 rounding of the loss itself (a logsumexp over the
  // vocabulary, the sum over every target, exp, log and the difference) on
  // terms that are all >= 0, whose sum is the loss.
  const double targets = static_cast<double>(in.ids.size(1) - 1);
  const double ce_sums = static_cast<double>(c.vocab_size) + static_cast<double>(in.ids.size(0)) * targets + 3;
  const double loss_bound = models::LossSettings{}.weight * targets * 2 * logit_bound +
                            testing::two_orders(ce_sums) * std::abs(a.loss.item<double>());
  EXPECT_TRUE(testing::within(b.loss.item<double>(), a.loss.item<double>(), loss_bound, "bf16 loss"));
  std::cout << "bf16 loss " << b.loss.item<double>() << " vs fp32 " << a.loss.item<double>() << ", bound "
            << loss_bound << "; logits within " << (b.logits.to(torch::kDouble) - a.logits).abs().max().item<double>()
            << " of bound " << logit_bound << " (" << roundings << " bf16 roundings)\n";
  a.loss.backward();
  b.loss.backward();
  // The gradients. At the logits, weight / B * (softmax(z) - onehot): the
  // two sides' logits differ by at most logit_bound, so each softmax value
  // by at most expm1(2 logit_bound) of itself. Back from there, each
  // product reads the forward's activations (within `relative`) and rounds
  // at most as often as its forward op (one rounding per input gradient;
  // the residual's and q/k/v's branch sums count as the forward's sums):
  // the forward's roundings again, the logits' gradient's cast to bf16, and
  // in fp32 the softmax's sum over the vocabulary, the prompt MLP's two sums
  // over the width both ways and the sum over the batch.
  const double back_depth = depth + static_cast<double>(c.vocab_size) + 4 * static_cast<double>(c.hidden_size) +
                            static_cast<double>(in.ids.size(0));
  const double back_relative = (1 + std::expm1(2 * logit_bound)) * (1 + relative) *
                                   (1 + testing::mixed_gamma(back_depth, roundings + 1)) -
                               1 + testing::gamma_n(back_depth);
  const auto pa = exact.named_parameters();
  const auto pb = mixed.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    const auto& ga = pa[i].second.grad();
    const auto& gb = pb[i].second.grad();
    ASSERT_EQ(pb[i].second.scalar_type(), c10::kFloat) << pb[i].first;
    ASSERT_EQ(gb.scalar_type(), c10::kFloat) << pb[i].first;
    const double bound = back_relative * ga.abs().max().item<double>();
    EXPECT_TRUE(testing::within(gb, ga, torch::tensor(bound, torch::kDouble), "gradient of " + pb[i].first));
    std::cout << pb[i].first << ": gradient within " << (gb - ga).abs().max().item<double>() << " of bound "
              << bound << "\n";
  }
  // A training step keeps the trainables and the optimizer in fp32.
  struct Source : train::BatchSource {
    Inputs in = inputs();
    train::Batch batch_at(std::int64_t) override { return {in.features, in.ids, in.mask, in.ids}; }
  } source;
  train::ScheduleSettings schedule;
  schedule.total_steps = 3;
  schedule.warmup_steps = 0;
  train::Trainer trainer(mixed, train::OptimizerSettings{}, schedule, train::TrainSettings{});
  const auto first = trainer.step(source);
  EXPECT_TRUE(std::isfinite(first.loss));
  for (const auto& [name, p] : mixed.named_parameters()) EXPECT_EQ(p.scalar_type(), c10::kFloat) << name;
}

TEST(EpalmTrainingMemory, ReferenceDropoutOnlyInTrainingLosses) {
  auto decoder = tiny_opt();
  auto with = config(2, 3);
  with.reference_dropout = 0.1;
  with.adapters.on_ffn = true;
  auto without = with;
  without.reference_dropout = 0.0;
  models::EpalmModel dropping(with, decoder, 24, 4, 9);
  models::EpalmModel plain(without, decoder, 24, 4, 9);
  const auto in = inputs();
  auto loss = [&](const models::EpalmModel& m, std::uint64_t seed) {
    torch::manual_seed(seed);
    const auto t = m.loss_terms(in.features, in.ids, in.mask, in.ids);
    return (t.total / t.normalizer).item<double>();
  };
  // forward() (evaluation) never drops: both models give the same loss.
  EXPECT_EQ(dropping.forward(in.features, in.ids, in.mask, in.ids).loss.item<double>(),
            plain.forward(in.features, in.ids, in.mask, in.ids).loss.item<double>());
  // Training losses do: reproducible from the seed, different across seeds
  // and from the plain model's.
  EXPECT_EQ(loss(dropping, 1), loss(dropping, 1));
  EXPECT_NE(loss(dropping, 1), loss(dropping, 2));
  EXPECT_NE(loss(dropping, 1), loss(plain, 1));
  EXPECT_EQ(loss(plain, 1), loss(plain, 2));
  EXPECT_NEAR(loss(dropping, 3), loss(plain, 3), 0.5 * loss(plain, 3));
  auto bad = with;
  bad.reference_dropout = 1.0;
  EXPECT_THROW(models::EpalmModel(bad, decoder, 24, 4, 9), UsageError);
}

}  // namespace
}  // namespace epalm
