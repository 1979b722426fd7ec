// Training's packed pass (models/packed_training.h) for several variants at
// once against each variant's padded pass alone (EpalmModel::loss_terms, the
// pass the transformers parity tests pin): the same normalizer exactly, the
// loss and every trainable's gradient within the rounding bound. What the
// packed pass cannot take falls back to the padded pass, bit for bit.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "epalm/core/cpu_matmul.h"
#include "epalm/core/error.h"
#include "epalm/core/models/epalm_model.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/packed_training.h"
#include "epalm/core/models/rounding_bounds.h"
#include "tolerance.h"

namespace epalm {

namespace {

constexpr std::int64_t kEncoderHidden = 24;
constexpr std::int64_t kEncoderBlocks = 12;

models::OptModel small_opt() {
  models::OptConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.num_layers = 6;
  c.ffn_dim = 48;
  c.num_heads = 4;
  c.max_positions = 64;
  c.word_embed_proj_dim = 32;
  return models::OptModel::random(c, c10::kFloat, c10::kCPU, 3);
}

// Variants of a sweep: levels, sharing, prompt with and without its MLP,
// injection from layer 0, adapters, the no-perception baseline, three
// without a prompt from three first injection layers.
std::vector<models::EpalmConfig> variant_configs() {
  std::vector<models::EpalmConfig> out;
  auto add = [&](int levels, bool shared, int start, int end, int prompt, bool mlp, const std::string& adapters,
                 bool perception = true) {
    models::EpalmConfig c;
    c.levels = levels;
    c.shared_connector = shared;
    c.start_layer = start;
    c.end_layer = end;
    c.prompt_length = prompt;
    c.prompt_mlp = mlp;
    c.adapters = models::adapter_settings(adapters);
    c.perception = perception;
    out.push_back(c);
  };
  add(3, false, 1, 5, 3, true, "none");
  add(1, true, 2, 6, 0, false, "none");
  add(2, false, 0, 4, 2, false, "both");
  add(1, true, 2, 6, 4, true, "none", /*perception=*/false);
  add(2, true, 3, 6, 5, true, "ffn");
  // Without a prompt or adapters the text below the first injection is
  // computed once for all of these (the frozen-text block), up to the
  // deepest first injection among them.
  add(2, false, 3, 6, 0, false, "none");
  add(1, true, 0, 3, 0, false, "none");
  return out;
}

// A right-padded batch as training batches it: the first two tokens of each
// row a question without loss, padding without loss.
struct Batch {
  at::Tensor ids, mask, labels;
};

Batch training_batch(std::int64_t tokens = 10) {
  torch::manual_seed(17);
  Batch b;
  b.ids = torch::randint(3, 64, {3, tokens}, torch::kLong);
  b.mask = torch::ones({3, tokens}, torch::kLong);
  b.mask[1].slice(0, tokens - 3).zero_();
  b.mask[2].slice(0, tokens - 6).zero_();
  b.ids.masked_fill_(b.mask == 0, 1);
  b.labels = b.ids.masked_fill(b.mask == 0, -100);
  b.labels.slice(1, 0, 2).fill_(-100);
  return b;
}

std::vector<at::Tensor> gradients(const models::EpalmModel& model) {
  std::vector<at::Tensor> out;
  for (const auto& [name, p] : model.named_parameters()) out.push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
  return out;
}

void zero_gradients(const models::EpalmModel& model) {
  for (auto& [name, p] : model.named_parameters()) {
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
  }
}

}  // namespace

TEST(PackedTraining, VariantsInOnePassEqualEachAloneToRounding) {
  const auto decoder = small_opt();
  const auto configs = variant_configs();
  const auto batch = training_batch();
  std::vector<std::unique_ptr<models::EpalmModel>> models_;
  std::vector<models::PackedVariant> variants;
  for (std::size_t k = 0; k < configs.size(); ++k) {
    models_.push_back(std::make_unique<models::EpalmModel>(configs[k], decoder, kEncoderHidden, kEncoderBlocks, 100 + k));
    variants.push_back({models_.back().get(), torch::randn({3, configs[k].levels, kEncoderHidden}), {}});
  }
  // Every variant alone, in the padded pass.
  std::vector<models::LossTerms> alone;
  std::vector<std::vector<at::Tensor>> alone_gradients;
  for (const auto& v : variants) {
    alone.push_back(v.model->loss_terms(v.features, batch.ids, batch.mask, batch.labels, v.loss));
    alone.back().total.backward();
    alone_gradients.push_back(gradients(*v.model));
    zero_gradients(*v.model);
  }
  // All of them in one packed pass and one backward.
  const auto joint = models::packed_loss_terms(variants, batch.ids, batch.mask, batch.labels);
  ASSERT_EQ(joint.size(), variants.size());
  at::Tensor summed;
  for (const auto& t : joint) summed = summed.defined() ? summed + t.total : t.total;
  summed.backward();

  const auto& oc = decoder.config();
  for (std::size_t k = 0; k < variants.size(); ++k) {
    const auto& c = configs[k];
    SCOPED_TRACE("variant " + std::to_string(k));
    EXPECT_EQ(joint[k].normalizer, alone[k].normalizer);
    // The loss's rounding chain (rounding_bounds.h) over the padded sequence's
    // length, attention by the packed pass's fused kernel; the gradients run
    // it back and sum over every row into a trainable.
    const auto tokens = batch.ids.size(1) + c.prompt_length + 1;
    const double depth = models::epalm_loss_depth(oc, batch.ids.size(0) * tokens, tokens, kEncoderHidden,
                                                  oc.hidden_size / c.adapters.reduction, /*fused=*/true);
    const double loss = alone[k].total.item<double>();
    EXPECT_LE(std::abs(joint[k].total.item<double>() - loss), testing::two_orders(depth) * std::abs(loss));
    const auto got = gradients(*variants[k].model);
    double scale = 0;
    for (const auto& g : alone_gradients[k]) scale = std::max(scale, g.defined() ? g.abs().max().item<double>() : 0.0);
    ASSERT_GT(scale, 0);
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].defined(), alone_gradients[k][i].defined()) << i;
      if (!got[i].defined()) continue;
      EXPECT_LE((got[i] - alone_gradients[k][i]).abs().max().item<double>(), testing::two_orders(2 * depth) * scale)
          << variants[k].model->named_parameters()[i].first;
    }
  }
}

TEST(PackedTraining, WhatThePackedPassCannotTakeRunsPaddedBitForBit) {
  const auto decoder = small_opt();
  auto configs = variant_configs();
  configs[1].reference_dropout = 0.1;  // per-row dropout masks: refused
  models::EpalmModel plain(configs[0], decoder, kEncoderHidden, kEncoderBlocks, 1);
  models::EpalmModel dropout(configs[1], decoder, kEncoderHidden, kEncoderBlocks, 2);
  const auto batch = training_batch();
  const auto f0 = torch::randn({3, configs[0].levels, kEncoderHidden});
  const auto f1 = torch::randn({3, configs[1].levels, kEncoderHidden});
  EXPECT_NE(models::packed_pass_refusal(configs[1]).find("dropout"), std::string::npos);
  EXPECT_THROW(models::packed_loss_terms({{&dropout, f1, {}}}, batch.ids, batch.mask, batch.labels), Error);

  torch::manual_seed(5);
  const auto mixed = models::training_loss_terms({{&plain, f0, {}}, {&dropout, f1, {}}}, batch.ids, batch.mask, batch.labels);
  torch::manual_seed(5);
  const auto padded = dropout.loss_terms(f1, batch.ids, batch.mask, batch.labels);
  EXPECT_TRUE(torch::equal(mixed[1].total, padded.total));

  // A target predicted from a left pad: the whole batch runs padded.
  auto left = training_batch();
  left.mask[0].slice(0, 0, 3).zero_();
  left.labels[0][3] = left.ids[0][3];
  EXPECT_NE(models::packed_pass_refusal(left.mask, left.labels).find("padding position"), std::string::npos);
  const auto fallback = models::training_loss_terms({{&plain, f0, {}}}, left.ids, left.mask, left.labels);
  EXPECT_TRUE(torch::equal(fallback[0].total, plain.loss_terms(f0, left.ids, left.mask, left.labels).total));
}

TEST(PackedTraining, RefusesVariantsOfAnotherDecoderOrWrongFeatures) {
  const auto decoder = small_opt();
  const auto other = small_opt();
  const auto configs = variant_configs();
  models::EpalmModel a(configs[0], decoder, kEncoderHidden, kEncoderBlocks, 1);
  models::EpalmModel b(configs[0], other, kEncoderHidden, kEncoderBlocks, 1);
  const auto batch = training_batch();
  const auto f = torch::randn({3, configs[0].levels, kEncoderHidden});
  EXPECT_THROW(models::packed_loss_terms({{&a, f, {}}, {&b, f, {}}}, batch.ids, batch.mask, batch.labels), Error);
  try {
    models::packed_loss_terms({{&a, f.slice(1, 0, 1), {}}}, batch.ids, batch.mask, batch.labels);
    ADD_FAILURE() << "features of the wrong levels were taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("levels 3"), std::string::npos) << e.what();
  }
}

// The LM head of many rows over a large vocabulary runs in column blocks on
// the CPU (layers/vocabulary_logits.h): each logit is the same dot product as
// one product's, and the rows' gradient one product over the vocabulary.
// Two orders of a dot product of n terms differ by at most
// 2 gamma_n sum|terms| (tolerance.h): n = hidden for a logit, vocab for a
// gradient element.
TEST(PackedTraining, TheLmHeadInColumnBlocksEqualsOneProduct) {
  models::OptConfig c;
  c.vocab_size = 9000;  // > one 4096-column block, the last one partial
  c.hidden_size = 16;
  c.num_layers = 1;
  c.ffn_dim = 32;
  c.num_heads = 2;
  c.max_positions = 16;
  c.word_embed_proj_dim = 16;
  const auto decoder = models::OptModel::random(c, c10::kFloat, c10::kCPU, 4);
  const auto weight = decoder.weights().at("decoder.embed_tokens.weight");
  torch::manual_seed(8);
  for (const std::int64_t rows : {8, 130}) {
    const auto hidden = torch::randn({rows, c.hidden_size}).requires_grad_(true);
    const auto logits = decoder.lm_head(hidden);
    // LibTorch's path blocks many rows; oneDNN's (cpu_matmul.h) is one product.
    const bool blocked = std::string(logits.grad_fn()->name()).find("BlockedVocabularyProduct") != std::string::npos;
    EXPECT_EQ(blocked, rows >= 128 && cpu_matmul().library == CpuMatmulLibrary::kLibTorch)
        << rows << " rows: " << logits.grad_fn()->name();
    const auto expected = torch::linear(hidden.detach(), weight);
    const auto products = torch::mm(hidden.detach().abs(), weight.abs().t());
    EXPECT_TRUE((logits.detach() - expected).abs().le(testing::two_orders(c.hidden_size) * products).all().item<bool>())
        << rows << " rows";
    const auto g = torch::randn({rows, c.vocab_size});
    logits.backward(g);
    const auto expected_grad = g.mm(weight);
    const auto grad_products = g.abs().mm(weight.abs());
    EXPECT_TRUE((hidden.grad() - expected_grad).abs().le(testing::two_orders(c.vocab_size) * grad_products).all().item<bool>())
        << rows << " rows";
  }
}

}  // namespace epalm
