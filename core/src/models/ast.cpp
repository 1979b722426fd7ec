#include "epalm/core/models/ast.h"

#include <torch/torch.h>

#include <filesystem>

#include "epalm/core/error.h"
#include "layers/pre_ln_block.h"
#include "models/frozen_weights.h"
#include "models/random_weights.h"
#include "models/weights_fingerprint.h"

namespace epalm::models {

struct AstModel::Weights {
  at::Tensor cls_token, distillation_token, position_embeddings, patch_weight, patch_bias;
  layers::LayerNorm final_norm;
  std::vector<layers::PreLnBlock> layers;
};

AstModel::AstModel(AstConfig config, const std::map<std::string, at::Tensor>& weights)
    : config_(std::move(config)), weights_(std::make_unique<Weights>()) {
  config_.validate("AST config");
  TensorShapes given;
  for (const auto& [name, t] : weights) given[name] = t.sizes().vec();
  match_state_dict(ast_tensor_shapes(config_), given, {}).require("AST weights", /*allow_unexpected=*/false);
  fingerprint_ = weights_fingerprint(weights);
  const FrozenWeights frozen(weights);
  auto get = [&](const std::string& name) { return frozen.get(name); };
  auto norm = [&](const std::string& name) { return frozen.norm(name, config_.layer_norm_eps); };
  auto& w = *weights_;
  w.cls_token = get("embeddings.cls_token");
  w.distillation_token = get("embeddings.distillation_token");
  w.position_embeddings = get("embeddings.position_embeddings");
  w.patch_weight = get("embeddings.patch_embeddings.projection.weight");
  w.patch_bias = get("embeddings.patch_embeddings.projection.bias");
  w.final_norm = norm("layernorm");
  for (std::int64_t i = 0; i < config_.num_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    w.layers.push_back(frozen.vit_layer(p, config_.num_heads, config_.layer_norm_eps, config_.activation));
  }
}

AstModel::~AstModel() = default;
AstModel::AstModel(AstModel&&) noexcept = default;
AstModel& AstModel::operator=(AstModel&&) noexcept = default;

AstModel AstModel::from_pretrained(const std::string& directory, c10::ScalarType dtype, c10::Device device) {
  const auto config = AstConfig::from_json_file((std::filesystem::path(directory) / "config.json").string());
  return AstModel(config, load_checkpoint_weights(directory, ast_tensor_shapes(config),
                                                  "audio_spectrogram_transformer.", "classifier.", dtype, device));
}

AstModel AstModel::random(const AstConfig& config, c10::ScalarType dtype, c10::Device device, std::uint64_t seed) {
  config.validate("AST config");
  return AstModel(config, random_weights(ast_tensor_shapes(config), dtype, device, seed));
}

const AstConfig& AstModel::config() const { return config_; }
std::int64_t AstModel::hidden_size() const { return config_.hidden_size; }
std::int64_t AstModel::num_layers() const { return config_.num_layers; }
c10::ScalarType AstModel::dtype() const { return weights_->cls_token.scalar_type(); }
c10::Device AstModel::device() const { return weights_->cls_token.device(); }
void AstModel::set_attention_kernel(AttentionKernel kernel) { kernel_ = kernel; }
AttentionKernel AstModel::attention_kernel() const { return kernel_; }

at::Tensor AstModel::final_norm(const at::Tensor& hidden) const { return weights_->final_norm(hidden); }

at::Tensor AstModel::pool(const at::Tensor& last_hidden_state) {
  return (last_hidden_state.select(1, 0) + last_hidden_state.select(1, 1)) / 2;
}

EncoderOutput AstModel::forward(const at::Tensor& input_values, bool output_hidden_states,
                                const LayerHook& hook) const {
  return run(input_values, output_hidden_states, hook, /*last_block_cls_only=*/false);
}

at::Tensor AstModel::last_blocks_cls(const at::Tensor& input_values, int levels) const {
  return cls_of_hidden_states(run(input_values, true, {}, /*last_block_cls_only=*/true), levels, config_.num_layers);
}

EncoderOutput AstModel::run(const at::Tensor& input_values_in, bool output_hidden_states, const LayerHook& hook,
                            bool last_block_cls_only) const {
  const auto& c = config_;
  const auto& w = *weights_;
  if (input_values_in.dim() != 3 || input_values_in.size(1) != c.max_length ||
      input_values_in.size(2) != c.num_mel_bins) {
    throw Error("AST forward", "input_values must be [batch, max_length " + std::to_string(c.max_length) +
                                   ", num_mel_bins " + std::to_string(c.num_mel_bins) + "] (pad or truncate with " +
                                   "audio_features.h), got " + c10::str(input_values_in.sizes()));
  }
  const auto input_values = input_values_in.to(device(), dtype());
  const auto batch = input_values.size(0);
  // [B, T, mel] -> [B, 1, mel, T]; patches frequency-major.
  auto x = torch::conv2d(input_values.unsqueeze(1).transpose(2, 3), w.patch_weight, w.patch_bias,
                         {c.frequency_stride, c.time_stride});
  x = x.flatten(2).transpose(1, 2);
  x = torch::cat({w.cls_token.expand({batch, -1, -1}), w.distillation_token.expand({batch, -1, -1}), x}, 1);
  x = x + w.position_embeddings;

  EncoderOutput out;
  LayerInput state;
  state.hidden = x;
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    state.layer = static_cast<int>(i);
    if (hook) hook(state);
    if (output_hidden_states) out.hidden_states.push_back(state.hidden);
    const bool cls_only = last_block_cls_only && i == c.num_layers - 1;
    state.hidden = w.layers[i](state.hidden, kernel_, cls_only ? 1 : 0);
  }
  if (output_hidden_states) out.hidden_states.push_back(state.hidden);
  out.last_hidden_state = w.final_norm(state.hidden);
  return out;
}

}  // namespace epalm::models
