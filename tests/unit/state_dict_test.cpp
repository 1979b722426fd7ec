#include "epalm/core/models/state_dict.h"

#include <gtest/gtest.h>

#include "epalm/core/error.h"

namespace epalm {

namespace {

// The OPT case of docs/models.md: "model." on some checkpoints, and
// the tied head stored under either name.
models::KeyMapping opt_mapping() {
  return {{"model."}, {{"decoder.embed_tokens.weight", "lm_head.weight"}}, {}};
}

const models::TensorShapes kOptModel = {
    {"decoder.embed_tokens.weight", {50, 8}},
    {"decoder.layers.0.fc1.weight", {16, 8}},
};

TEST(StateDict, StripsAPrefixTheCheckpointAdds) {
  const auto match = models::match_state_dict(
      kOptModel, {{"model.decoder.embed_tokens.weight", {50, 8}}, {"model.decoder.layers.0.fc1.weight", {16, 8}}},
      opt_mapping());
  EXPECT_TRUE(match.complete()) << match.describe();
  EXPECT_TRUE(match.unexpected.empty());
  EXPECT_EQ(match.source.at("decoder.layers.0.fc1.weight"), "model.decoder.layers.0.fc1.weight");
  EXPECT_NO_THROW(match.require("ckpt", /*allow_unexpected=*/false));
}

TEST(StateDict, FindsATiedWeightUnderItsOtherName) {
  const auto match =
      models::match_state_dict(kOptModel, {{"lm_head.weight", {50, 8}}, {"decoder.layers.0.fc1.weight", {16, 8}}}, opt_mapping());
  EXPECT_TRUE(match.complete()) << match.describe();
  EXPECT_EQ(match.source.at("decoder.embed_tokens.weight"), "lm_head.weight");
}

TEST(StateDict, PrefersTheModelsOwnNameAndCountsTiedCopiesAsUsed) {
  auto model = kOptModel;
  model["lm_head.weight"] = {50, 8};
  const auto match = models::match_state_dict(model,
                                      {{"model.decoder.embed_tokens.weight", {50, 8}},
                                       {"lm_head.weight", {50, 8}},
                                       {"model.decoder.layers.0.fc1.weight", {16, 8}}},
                                      opt_mapping());
  EXPECT_TRUE(match.complete()) << match.describe();
  EXPECT_TRUE(match.unexpected.empty());
  EXPECT_EQ(match.source.at("decoder.embed_tokens.weight"), "model.decoder.embed_tokens.weight");
  EXPECT_EQ(match.source.at("lm_head.weight"), "lm_head.weight");
}

TEST(StateDict, ReportsMissingUnexpectedAndMismatchedTensors) {
  const auto match = models::match_state_dict(
      kOptModel, {{"model.decoder.layers.0.fc1.weight", {8, 16}}, {"model.decoder.layers.0.fc9.weight", {1}}},
      opt_mapping());
  EXPECT_FALSE(match.complete());
  EXPECT_EQ(match.missing, std::vector<std::string>{"decoder.embed_tokens.weight"});
  EXPECT_EQ(match.unexpected, std::vector<std::string>{"model.decoder.layers.0.fc9.weight"});
  ASSERT_EQ(match.mismatched.size(), 1u);
  EXPECT_EQ(match.mismatched[0].expected, (std::vector<std::int64_t>{16, 8}));
  EXPECT_EQ(match.mismatched[0].found, (std::vector<std::int64_t>{8, 16}));
  try {
    match.require("opt.safetensors");
    FAIL() << "accepted an incomplete checkpoint";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "opt.safetensors");
    EXPECT_EQ(e.reason(),
              "missing 1 tensor: decoder.embed_tokens.weight; "
              "shape mismatch: decoder.layers.0.fc1.weight (stored as model.decoder.layers.0.fc1.weight) expects "
              "[16, 8], the checkpoint has [8, 16]; "
              "unexpected 1 tensor: model.decoder.layers.0.fc9.weight");
  }
}

TEST(StateDict, UnexpectedTensorsAreAnErrorOnlyWhenAskedAndIgnoredPrefixesAreNone) {
  const models::TensorShapes vit_model = {{"embeddings.cls_token", {1, 1, 8}}};
  const models::TensorShapes vit_checkpoint = {
      {"vit.embeddings.cls_token", {1, 1, 8}}, {"classifier.weight", {10, 8}}, {"pooler.dense.weight", {8, 8}}};
  const auto match = models::match_state_dict(vit_model, vit_checkpoint, {{"vit."}, {}, {"classifier."}});
  EXPECT_TRUE(match.complete());
  EXPECT_EQ(match.unexpected, std::vector<std::string>{"pooler.dense.weight"});
  EXPECT_NO_THROW(match.require("vit"));
  try {
    match.require("vit", /*allow_unexpected=*/false);
    FAIL() << "accepted an unexpected tensor";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason(), "unexpected 1 tensor: pooler.dense.weight");
  }
}

TEST(StateDict, ATensorStoredUnderTwoPrefixesIsAmbiguous) {
  const auto match = models::match_state_dict(
      {{"decoder.x", {2}}}, {{"decoder.x", {2}}, {"model.decoder.x", {2}}}, opt_mapping());
  EXPECT_FALSE(match.complete());
  EXPECT_EQ(match.describe(), "decoder.x is stored more than once: decoder.x, model.decoder.x");
}

TEST(StateDict, LongListsAreCut) {
  models::TensorShapes model;
  for (int i = 0; i < 25; ++i) model["w" + std::to_string(100 + i)] = {1};
  const auto match = models::match_state_dict(model, {}, {});
  EXPECT_EQ(match.missing.size(), 25u);
  const auto text = match.describe();
  EXPECT_NE(text.find("missing 25 tensors: w100, w101,"), std::string::npos) << text;
  EXPECT_NE(text.find("w119, ... (5 more)"), std::string::npos) << text;
  EXPECT_EQ(text.find("w120"), std::string::npos) << text;
}

}  // namespace

}  // namespace epalm
