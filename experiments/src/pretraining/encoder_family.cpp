#include "pretraining/encoder_family.h"

#include <torch/torch.h>

#include "epalm/core/error.h"
#include "epalm/core/models/ast.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"

namespace epalm::experiments {

std::string encoder_family_name(const EncoderConfig& config) {
  switch (config.index()) {
    case 0: return "vit";
    case 1: return "timesformer";
    default: return "ast";
  }
}

namespace pretraining {

namespace {

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

EncoderFamily::EncoderFamily(EncoderConfig config) : config_(std::move(config)) {
  const std::string where = name() + " pretraining";
  std::visit(Overloaded{[&](const models::VitConfig& c) {
                          c.validate(where);
                          if (c.num_channels != 3) throw UsageError(where, "images give 3 channels, not " + std::to_string(c.num_channels));
                        },
                        [&](const models::TimesformerConfig& c) {
                          c.validate(where);
                          if (c.num_channels != 3) throw UsageError(where, "videos give 3 channels, not " + std::to_string(c.num_channels));
                        },
                        [&](const models::AstConfig& c) { c.validate(where); }},
             config_);
}

models::TensorShapes EncoderFamily::encoder_shapes() const {
  return std::visit(Overloaded{[](const models::VitConfig& c) { return models::vit_tensor_shapes(c); },
                               [](const models::TimesformerConfig& c) { return models::timesformer_tensor_shapes(c); },
                               [](const models::AstConfig& c) { return models::ast_tensor_shapes(c); }},
                    config_);
}

std::map<std::string, PositionLayout> EncoderFamily::position_layouts() const {
  using Layouts = std::map<std::string, PositionLayout>;
  // The tables at 8 times MAE's amplitude for images and spectrograms: their
  // CLIP- or AST-normalised inputs give patch embeddings that drown a unit
  // table. Measured with transformers' ViT on the toy world's pretraining
  // pictures, held out after 1000 steps: quadrant colours 0.50-0.58 from
  // noise of std 0.02, 0.96-1.00 from a unit table on pixels normalised to
  // [-1, 1] but 0.50-0.73 on CLIP-normalised ones, 1.00 from the table at 3
  // or 8 times (8 reaching it by step 500). The toy TimeSformer learnt less
  // at 8 than at 1 (held out 0.62 against 0.70, 600 steps), so it keeps 1.
  constexpr double kScaled = 8;
  return std::visit(
      Overloaded{[&](const models::VitConfig& c) {
                   return Layouts{{"embeddings.position_embeddings", {1, {c.grid_size(), c.grid_size()}, kScaled}}};
                 },
                 [](const models::TimesformerConfig& c) {
                   Layouts layouts{
                       {"embeddings.position_embeddings", {1, {c.patches_per_side(), c.patches_per_side()}, 1}}};
                   if (c.has_time_embeddings()) layouts["embeddings.time_embeddings"] = {0, {c.num_frames}, 1};
                   return layouts;
                 },
                 [&](const models::AstConfig& c) {
                   // [CLS] and distillation first, then frequency-major patches.
                   return Layouts{
                       {"embeddings.position_embeddings", {2, {c.frequency_patches(), c.time_patches()}, kScaled}}};
                 }},
      config_);
}

std::int64_t EncoderFamily::hidden_size() const {
  return std::visit([](const auto& c) { return c.hidden_size; }, config_);
}

media::MediaSettings EncoderFamily::media_settings() const {
  media::MediaSettings m;
  m.train_augment = false;
  std::visit(Overloaded{[&](const models::VitConfig& c) {
                          m.modality = data::Modality::kImage;
                          m.image_size = c.image_size;
                        },
                        [&](const models::TimesformerConfig& c) {
                          m.modality = data::Modality::kVideo;
                          m.image_size = c.image_size;
                          m.num_frames = c.num_frames;
                          m.frame_sampling = media::FrameSampling::kMiddle;
                        },
                        [&](const models::AstConfig& c) {
                          m.modality = data::Modality::kAudio;
                          m.mel_bins = c.num_mel_bins;
                          m.target_length = c.max_length;
                        }},
             config_);
  m.validate();
  return m;
}

std::unique_ptr<models::Encoder> EncoderFamily::build(const std::map<std::string, at::Tensor>& weights) const {
  return std::visit(
      Overloaded{[&](const models::VitConfig& c) -> std::unique_ptr<models::Encoder> {
                   return std::make_unique<models::VitModel>(c, weights);
                 },
                 [&](const models::TimesformerConfig& c) -> std::unique_ptr<models::Encoder> {
                   return std::make_unique<models::TimesformerModel>(c, weights);
                 },
                 [&](const models::AstConfig& c) -> std::unique_ptr<models::Encoder> {
                   return std::make_unique<models::AstModel>(c, weights);
                 }},
      config_);
}

models::TensorShapes EncoderFamily::head_shapes(std::int64_t classes) const {
  const auto h = hidden_size();
  if (std::holds_alternative<models::AstConfig>(config_)) {
    // ASTMLPHead: LayerNorm then a linear layer.
    return {{"classifier.layernorm.weight", {h}},
            {"classifier.layernorm.bias", {h}},
            {"classifier.dense.weight", {classes, h}},
            {"classifier.dense.bias", {classes}}};
  }
  return {{"classifier.weight", {classes, h}}, {"classifier.bias", {classes}}};
}

at::Tensor EncoderFamily::logits(const models::EncoderOutput& output,
                                 const std::map<std::string, at::Tensor>& head) const {
  const auto& last = output.last_hidden_state;  // after the final LayerNorm
  if (const auto* ast = std::get_if<models::AstConfig>(&config_)) {
    // ASTModel's pooler output: the mean of the [CLS] and distillation tokens.
    const auto pooled = (last.select(1, 0) + last.select(1, 1)) / 2;
    const auto normed = torch::layer_norm(pooled, {ast->hidden_size}, head.at("classifier.layernorm.weight"),
                                          head.at("classifier.layernorm.bias"), ast->layer_norm_eps);
    return torch::linear(normed, head.at("classifier.dense.weight"), head.at("classifier.dense.bias"));
  }
  return torch::linear(last.select(1, 0), head.at("classifier.weight"), head.at("classifier.bias"));
}

std::string EncoderFamily::checkpoint_prefix() const {
  switch (config_.index()) {
    case 0: return "vit.";
    case 1: return "timesformer.";
    default: return "audio_spectrogram_transformer.";
  }
}

nlohmann::json EncoderFamily::config_json(std::int64_t classes, const std::vector<std::string>& names) const {
  auto j = nlohmann::json::parse(std::visit([](const auto& c) { return c.to_json(); }, config_));
  static const char* const kArchitectures[] = {"ViTForImageClassification", "TimesformerForVideoClassification",
                                               "ASTForAudioClassification"};
  j["architectures"] = {kArchitectures[config_.index()]};
  nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
  for (std::int64_t i = 0; i < classes; ++i) {
    const auto label = names.empty() ? "LABEL_" + std::to_string(i) : names[static_cast<std::size_t>(i)];
    id2label[std::to_string(i)] = label;
    label2id[label] = i;
  }
  j["id2label"] = id2label;
  j["label2id"] = label2id;
  return j;
}

}  // namespace pretraining
}  // namespace epalm::experiments
