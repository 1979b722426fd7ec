// eP-ALM against an independent PyTorch implementation on transformers' OPT
// layers (tests/parity/make_epalm_fixtures.py): the same logits, loss and
// gradient of every trainable, for each variant of the paper's ablations.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

#include "epalm/core/models/epalm_model.h"
#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/packed_training.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "forward_depth.h"

namespace epalm {

namespace {

struct Fixture {
  std::string dir;
  models::EpalmConfig config;
  safetensors::SafetensorsFile inputs, trainables, expected;
  explicit Fixture(const std::string& variant)
      : dir(std::string(EPALM_EPALM_FIXTURES) + "/" + variant),
        inputs(dir + "/inputs.safetensors"),
        trainables(dir + "/trainables.safetensors"),
        expected(dir + "/expected.safetensors") {
    std::ifstream in(dir + "/variant.json");
    const auto v = nlohmann::json::parse(in);
    config.levels = v["levels"];
    config.shared_connector = v["shared"];
    config.start_layer = v["start"];
    config.end_layer = v["end"];
    config.prompt_length = v["prompt"];
    config.prompt_mlp = v["mlp"];
    config.adapters.on_attention = config.adapters.on_ffn = v.value("adapters", false);
    config.reference_noncausal_token = v.value("noncausal", false);
    config.perception = v.value("perception", true);
  }
  std::vector<std::pair<std::string, at::Tensor>> initial_trainables() const {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& name : trainables.names()) out.emplace_back(name, trainables.load(name));
    return out;
  }
};

double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  return ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-12)).item<double>();
}

// The longest chain of roundings to the logits and the loss
// (models/rounding_bounds.h); the gradients run the chain back (as long
// again) and sum over every row (batch * tokens) into a trainable.
double epalm_depth(const models::EpalmConfig& c, const models::OptConfig& o, std::int64_t tokens, std::int64_t encoder_hidden) {
  return models::epalm_logits_depth(o, tokens, encoder_hidden, o.hidden_size / c.adapters.reduction);
}
double loss_depth(const models::EpalmConfig& c, const models::OptConfig& o, std::int64_t rows, std::int64_t tokens,
                  std::int64_t encoder_hidden) {
  return models::epalm_loss_depth(o, rows, tokens, encoder_hidden, o.hidden_size / c.adapters.reduction);
}

// Every trainable's gradient against the peer's: the loss's chain run back
// (twice as long), summed over every row into the trainable, relative to the
// whole gradient's scale (every trainable's together).
void expect_gradients_match(const models::EpalmModel& model, const Fixture& f, double loss_depth) {
  double gradient_scale = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    gradient_scale = std::max(gradient_scale, f.expected.load("grad." + name).abs().max().item<double>());
  }
  int compared = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_LE((p.grad() - f.expected.load("grad." + name)).abs().max().item<double>(),
              testing::two_orders(2 * loss_depth) * gradient_scale)
        << name;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(f.trainables.names().size()));
}

class EpalmParity : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(EpalmParity, LogitsLossAndGradientsMatchPyTorch) {
  Fixture f(GetParam());
  const auto decoder = models::OptModel::from_pretrained(f.dir);
  const auto features = f.inputs.load("features");
  models::EpalmModel model(f.config, decoder, features.size(2), /*encoder_blocks=*/12, /*seed=*/0);
  model.load_parameters(f.initial_trainables(), f.dir + "/trainables.safetensors");
  ASSERT_EQ(model.trainable_parameter_count(),
            models::count_trainable(f.config, features.size(2), decoder.config().hidden_size,
                            decoder.config().word_embed_proj_dim, decoder.config().num_layers)
                .total());

  const auto out = model.forward(features, f.inputs.load("input_ids"), f.inputs.load("attention_mask"),
                                 f.inputs.load("labels"));
  // Every row, padded ones included: with the reference's mask composition a
  // row without an unmasked key has defined values (it attends to the padded
  // keys at or before itself), and the label after it is predicted from them.
  auto diff = (out.logits - f.expected.load("logits")).abs();
  EXPECT_LE(diff.max().item<double>(),
            testing::forward_bound(f.expected.load("logits"),
                                   epalm_depth(f.config, decoder.config(), out.logits.size(1), features.size(2))));
  const double loss_depth_here =
      loss_depth(f.config, decoder.config(), out.logits.size(0) * out.logits.size(1), out.logits.size(1),
                 features.size(2));
  EXPECT_LE(relative_error(out.loss, f.expected.load("loss").squeeze()), testing::two_orders(loss_depth_here))
      << out.loss.item<double>();

  // Training's loss (the LM head on the target positions only) is the same
  // number with the same gradients.
  const auto loss = model.loss(features, f.inputs.load("input_ids"), f.inputs.load("attention_mask"),
                               f.inputs.load("labels"));
  EXPECT_LE(relative_error(loss, f.expected.load("loss").squeeze()), testing::two_orders(loss_depth_here))
      << loss.item<double>();
  loss.backward();
  expect_gradients_match(model, f, loss_depth_here);
}

// Training's packed pass (packed_training.h: real tokens only, the prompt
// once below the first injection) gives the same loss and gradients, within
// the same bounds; a batch or variant it cannot take is refused, saying why.
TEST_P(EpalmParity, ThePackedPassMatchesPyTorchOrIsRefused) {
  Fixture f(GetParam());
  const auto decoder = models::OptModel::from_pretrained(f.dir);
  const auto features = f.inputs.load("features");
  const auto ids = f.inputs.load("input_ids"), mask = f.inputs.load("attention_mask"), labels = f.inputs.load("labels");
  models::EpalmModel model(f.config, decoder, features.size(2), /*encoder_blocks=*/12, /*seed=*/0);
  model.load_parameters(f.initial_trainables(), f.dir + "/trainables.safetensors");
  const auto refused = models::packed_pass_refusal(f.config) + models::packed_pass_refusal(mask, labels);
  if (f.config.reference_noncausal_token) {
    EXPECT_NE(refused.find("non-causal token"), std::string::npos) << refused;
  }
  if (GetParam().rfind("left_padding", 0) == 0) {
    EXPECT_NE(refused.find("padding position"), std::string::npos) << refused;
  }
  if (GetParam().rfind("right_padded", 0) == 0) {
    EXPECT_EQ(refused, "");
  }
  if (!refused.empty()) {
    EXPECT_THROW(models::packed_loss_terms({{&model, features, {}}}, ids, mask, labels), Error);
    return;
  }
  const auto terms = models::packed_loss_terms({{&model, features, {}}}, ids, mask, labels);
  const auto loss = terms[0].total / terms[0].normalizer;
  const auto tokens = ids.size(1) + f.config.prompt_length + 1;
  // The packed pass's attention is a fused kernel (SDPA): its online softmax rescales per key.
  const double loss_depth_here =
      models::epalm_loss_depth(decoder.config(), ids.size(0) * tokens, tokens, features.size(2),
                               decoder.config().hidden_size / f.config.adapters.reduction, /*fused=*/true);
  EXPECT_LE(relative_error(loss, f.expected.load("loss").squeeze()), testing::two_orders(loss_depth_here))
      << loss.item<double>();
  loss.backward();
  expect_gradients_match(model, f, loss_depth_here);
}

INSTANTIATE_TEST_SUITE_P(Variants, EpalmParity,
                         ::testing::Values("per_level_6_prompt_mlp", "shared_prompt_no_mlp", "single_level_no_prompt",
                                           "adapters", "reference_noncausal", "left_padding_no_prompt",
                                           "left_padding_no_prompt_noncausal", "no_perception",
                                           "right_padded_per_level_prompt_mlp", "right_padded_adapters",
                                           "right_padded_single_level_no_prompt", "right_padded_no_perception",
                                           "right_padded_from_layer_0"));

// The reference's configurations have the trainable counts its authors
// report (docs/epalm.md, Architecture and counts), from the real architectures' dimensions.
TEST(EpalmCounts, ReproduceTheReferenceConfigurations) {
  const auto opt27 = models::OptConfig::preset("opt-2.7b");
  models::EpalmConfig epalm_vqa;  // ePALM_*: 6 per-level connectors, 10 prompt tokens with MLP
  EXPECT_EQ(models::count_trainable(epalm_vqa, 768, opt27.hidden_size, opt27.word_embed_proj_dim, opt27.num_layers).total(),
            24949760);
  const auto opt67 = models::OptConfig::preset("opt-6.7b");
  models::EpalmConfig pt_l;  // ePALM_pt_L: shared connector, prompt without MLP, ViT-L
  pt_l.shared_connector = true;
  pt_l.prompt_mlp = false;
  EXPECT_EQ(models::count_trainable(pt_l, 1024, opt67.hidden_size, opt67.word_embed_proj_dim, opt67.num_layers).total(),
            4239360);
  models::EpalmConfig single;  // eP-ALM: one linear, one token
  single.shared_connector = true;
  single.prompt_length = 0;
  EXPECT_EQ(models::count_trainable(single, 768, 2560, 2560, 32).total(), 1968640);
  models::EpalmConfig with_adapters;  // adapters r=4 on fc2 of OPT-2.7B: 3,280,000 per layer
  with_adapters.prompt_length = 0;
  with_adapters.adapters.on_ffn = true;
  EXPECT_EQ(models::count_trainable(with_adapters, 768, 2560, 2560, 32).adapters, 104960000);
}

TEST(EpalmConfig, TheReferenceScheduleMapsLayersToLevels) {
  models::EpalmConfig c;  // layers 19..30, 6 levels: two layers per level
  const auto s = c.injection_schedule();
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(s.front(), std::make_pair(19, 0));
  EXPECT_EQ(s[1], std::make_pair(20, 0));
  EXPECT_EQ(s[2], std::make_pair(21, 1));
  EXPECT_EQ(s.back(), std::make_pair(30, 5));
  c.levels = 1;
  EXPECT_EQ(c.injection_schedule().back(), std::make_pair(30, 0));
  EXPECT_THROW(c.validate(12, 24), UsageError);  // end_layer 31 beyond 24 layers
  c.end_layer = 20;
  c.start_layer = 20;
  EXPECT_THROW(c.validate(12, 32), UsageError);
}

// Generation with the KV cache equals generation that reruns everything,
// also with the token injected from the first layer on (start_layer 0: then
// every layer's cache holds its column; the text's own count says where the
// mask stands).
TEST(EpalmGeneration, CachedDecodingEqualsRecomputing) {
  for (const bool from_layer_0 : {false, true}) {
  SCOPED_TRACE(from_layer_0 ? "start_layer 0" : "the fixture's layers");
  Fixture f("per_level_6_prompt_mlp");
  const auto decoder = models::OptModel::from_pretrained(f.dir);
  const auto features = f.inputs.load("features");
  auto config = f.config;
  if (from_layer_0) {
    config.end_layer -= config.start_layer;
    config.start_layer = 0;
  }
  models::EpalmModel model(config, decoder, features.size(2), 12, 0);
  model.load_parameters(f.initial_trainables(), f.dir);
  const auto ids = torch::tensor({{1, 1, 2, 17, 30}, {2, 40, 41, 9, 12}, {1, 2, 5, 6, 7}});
  const auto mask = (ids != 1).to(torch::kLong);
  models::GenerationSettings settings;
  settings.max_new_tokens = 6;
  settings.num_beams = 3;
  auto cached = model.step_decoder(features);
  const auto a = generate(*cached, ids, mask, settings);
  // A full forward per step: the perceptual token recomputed with everything
  // (each row keeps its sample: the first step has one row per sample).
  struct Recompute : models::StepDecoder {
    const models::EpalmModel& m;
    at::Tensor features, ids, samples;
    Recompute(const models::EpalmModel& model_, at::Tensor f_) : m(model_), features(std::move(f_)) {}
    at::Tensor step(const at::Tensor& t, const at::Tensor& mask_) override {
      if (!ids.defined()) samples = torch::arange(t.size(0));
      ids = ids.defined() ? torch::cat({ids, t}, 1) : t;
      torch::NoGradGuard no_grad;
      return m.forward(features.index_select(0, samples), ids, mask_).logits.select(1, -1);
    }
    void reorder(const at::Tensor& rows) override {
      ids = ids.index_select(0, rows);
      samples = samples.index_select(0, rows);
    }
  } recompute(model, features);
  const auto b = generate(recompute, ids, mask, settings);
  EXPECT_TRUE(torch::equal(a, b)) << a << "\n" << b;
  }
}

TEST(EpalmModel, RejectsMismatchedTrainables) {
  Fixture f("shared_prompt_no_mlp");
  const auto decoder = models::OptModel::from_pretrained(f.dir);
  models::EpalmModel model(f.config, decoder, 24, 12, 0);
  auto values = f.initial_trainables();
  values.pop_back();
  values.emplace_back("connector.9.weight", torch::zeros({2, 2}));
  try {
    model.load_parameters(values, "ckpt.safetensors");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "ckpt.safetensors");
    EXPECT_NE(std::string(e.what()).find("connector.9.weight"), std::string::npos) << e.what();
  }
}

}  // namespace epalm
