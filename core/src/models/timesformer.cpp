#include "epalm/core/models/timesformer.h"

#include <torch/torch.h>

#include <filesystem>

#include "epalm/core/error.h"
#include "layers/pre_ln_block.h"
#include "models/frozen_weights.h"
#include "models/random_weights.h"
#include "models/weights_fingerprint.h"

namespace epalm::models {

namespace {

namespace F = torch::nn::functional;

struct Layer {
  layers::PreLnBlock block;  // spatial attention (all tokens for joint/space_only) + MLP
  layers::LayerNorm temporal_norm;
  layers::SelfAttention temporal;
  layers::Linear temporal_dense;
};

at::Tensor nearest(const at::Tensor& x, std::vector<std::int64_t> size) {
  return F::interpolate(x, F::InterpolateFuncOptions().size(size).mode(torch::kNearest));
}

}  // namespace

struct TimesformerModel::Weights {
  at::Tensor cls_token, position_embeddings, time_embeddings, patch_weight, patch_bias;
  layers::LayerNorm final_norm;
  std::vector<Layer> layers;
};

TimesformerModel::TimesformerModel(TimesformerConfig config, const std::map<std::string, at::Tensor>& weights)
    : config_(std::move(config)), weights_(std::make_unique<Weights>()) {
  config_.validate("TimeSformer config");
  TensorShapes given;
  for (const auto& [name, t] : weights) given[name] = t.sizes().vec();
  match_state_dict(timesformer_tensor_shapes(config_), given, {})
      .require("TimeSformer weights", /*allow_unexpected=*/false);
  fingerprint_ = weights_fingerprint(weights);
  const FrozenWeights frozen(weights);
  auto get = [&](const std::string& name) { return frozen.get(name); };
  auto linear = [&](const std::string& name) { return frozen.linear(name); };
  auto norm = [&](const std::string& name) { return frozen.norm(name, config_.layer_norm_eps); };
  // TimesformerSelfAttention: softmax in the input dtype.
  auto attention = [&](const std::string& name) {
    layers::SelfAttention a;
    a.qkv = linear(name + ".attention.qkv");
    a.output = linear(name + ".output.dense");
    a.num_heads = config_.num_heads;
    a.softmax = layers::SoftmaxPrecision::kInputDtype;
    return a;
  };
  auto& w = *weights_;
  w.cls_token = get("embeddings.cls_token");
  w.position_embeddings = get("embeddings.position_embeddings");
  w.time_embeddings = get("embeddings.time_embeddings");
  w.patch_weight = get("embeddings.patch_embeddings.projection.weight");
  w.patch_bias = get("embeddings.patch_embeddings.projection.bias");
  w.final_norm = norm("layernorm");
  for (std::int64_t i = 0; i < config_.num_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Layer layer;
    layer.block.norm_before = norm(p + "layernorm_before");
    layer.block.attention = attention(p + "attention");
    layer.block.norm_after = norm(p + "layernorm_after");
    layer.block.intermediate = linear(p + "intermediate.dense");
    layer.block.output = linear(p + "output.dense");
    layer.block.activation = config_.activation;
    if (config_.divided()) {
      layer.temporal_norm = norm(p + "temporal_layernorm");
      layer.temporal = attention(p + "temporal_attention");
      layer.temporal_dense = linear(p + "temporal_dense");
    }
    w.layers.push_back(std::move(layer));
  }
}

TimesformerModel::~TimesformerModel() = default;
TimesformerModel::TimesformerModel(TimesformerModel&&) noexcept = default;
TimesformerModel& TimesformerModel::operator=(TimesformerModel&&) noexcept = default;

TimesformerModel TimesformerModel::from_pretrained(const std::string& directory, c10::ScalarType dtype,
                                                   c10::Device device, std::int64_t num_frames) {
  auto config = TimesformerConfig::from_json_file((std::filesystem::path(directory) / "config.json").string());
  auto weights =
      load_checkpoint_weights(directory, timesformer_tensor_shapes(config), "timesformer.", "classifier.", dtype, device);
  if (num_frames < 0) throw UsageError("TimeSformer", "num_frames must be positive");
  if (num_frames > 0 && num_frames != config.num_frames && config.has_time_embeddings()) {
    // The original TimeSformer's load-time resize (helpers.py: nearest over time).
    auto& time = weights["embeddings.time_embeddings"];
    time = nearest(time.transpose(1, 2), {num_frames}).transpose(1, 2).contiguous();
  }
  if (num_frames > 0) config.num_frames = num_frames;
  return TimesformerModel(config, weights);
}

TimesformerModel TimesformerModel::random(const TimesformerConfig& config, c10::ScalarType dtype,
                                          c10::Device device, std::uint64_t seed) {
  config.validate("TimeSformer config");
  return TimesformerModel(config, random_weights(timesformer_tensor_shapes(config), dtype, device, seed));
}

const TimesformerConfig& TimesformerModel::config() const { return config_; }
std::int64_t TimesformerModel::hidden_size() const { return config_.hidden_size; }
std::int64_t TimesformerModel::num_layers() const { return config_.num_layers; }
c10::ScalarType TimesformerModel::dtype() const { return weights_->cls_token.scalar_type(); }
c10::Device TimesformerModel::device() const { return weights_->cls_token.device(); }
void TimesformerModel::set_attention_kernel(AttentionKernel kernel) { kernel_ = kernel; }
AttentionKernel TimesformerModel::attention_kernel() const { return kernel_; }

at::Tensor TimesformerModel::final_norm(const at::Tensor& hidden) const { return weights_->final_norm(hidden); }

EncoderOutput TimesformerModel::forward(const at::Tensor& pixel_values_in, bool output_hidden_states,
                                        const LayerHook& hook) const {
  const auto& c = config_;
  const auto& w = *weights_;
  if (pixel_values_in.dim() != 5 || pixel_values_in.size(2) != c.num_channels ||
      pixel_values_in.size(3) < c.patch_size || pixel_values_in.size(4) < c.patch_size) {
    throw Error("TimeSformer forward", "pixel_values must be [batch, frames, " + std::to_string(c.num_channels) +
                                           ", height, width] with height and width >= " +
                                           std::to_string(c.patch_size) + ", got " +
                                           c10::str(pixel_values_in.sizes()));
  }
  const auto pixel_values = pixel_values_in.to(device(), dtype());
  const auto batch = pixel_values.size(0);
  const auto frames = pixel_values.size(1);
  const auto d = c.hidden_size;

  // TimesformerPatchEmbeddings: frame-major rows b*T + t.
  auto x = torch::conv2d(pixel_values.reshape({batch * frames, c.num_channels, pixel_values.size(3),
                                               pixel_values.size(4)}),
                         w.patch_weight, w.patch_bias, {c.patch_size, c.patch_size});
  const auto patch_width = x.size(-1);
  x = x.flatten(2).transpose(1, 2);
  x = torch::cat({w.cls_token.expand({x.size(0), -1, -1}), x}, 1);
  if (x.size(1) != w.position_embeddings.size(1)) {
    // Nearest interpolation of the patch grid; the CLS position is kept.
    auto cls_pos = w.position_embeddings.select(1, 0).unsqueeze(1);
    auto other = w.position_embeddings.slice(1, 1).transpose(1, 2);
    const auto patch_num = static_cast<std::int64_t>(std::sqrt(static_cast<double>(other.size(2))));
    const auto patch_height = x.size(1) / patch_width;  // HF divides the count including CLS
    other = nearest(other.reshape({1, d, patch_num, patch_num}), {patch_height, patch_width});
    x = x + torch::cat({cls_pos, other.flatten(2).transpose(1, 2)}, 1);
  } else {
    x = x + w.position_embeddings;
  }
  if (c.has_time_embeddings()) {
    auto cls_tokens = x.slice(0, 0, batch).select(1, 0).unsqueeze(1);
    x = x.slice(1, 1);
    const auto patches = x.size(1);
    x = x.reshape({batch, frames, patches, d}).permute({0, 2, 1, 3}).reshape({batch * patches, frames, d});
    auto time = w.time_embeddings;
    if (frames != time.size(1)) time = nearest(time.transpose(1, 2), {frames}).transpose(1, 2);
    x = (x + time).view({batch, patches, frames, d}).reshape({batch, patches * frames, d});
    x = torch::cat({cls_tokens, x}, 1);
  }

  // The blocks reshape with the config's frame count and patch width, as HF does.
  const auto cfg_frames = c.num_frames;
  const auto wp = c.patches_per_side();
  EncoderOutput out;
  LayerInput state;
  state.hidden = x;
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const auto& layer = w.layers[i];
    state.layer = static_cast<int>(i);
    const auto shape = state.hidden.sizes().vec();
    if (hook) {
      hook(state);
      if (state.hidden.sizes().vec() != shape) {
        throw Error("TimeSformer forward", "a layer hook changed the hidden state's shape from " + c10::str(shape) +
                                               " to " + c10::str(state.hidden.sizes()));
      }
    }
    if (output_hidden_states) out.hidden_states.push_back(state.hidden);
    const auto& h = state.hidden;
    if (!c.divided()) {
      state.hidden = layer.block(h, kernel_);
      continue;
    }
    const auto tokens = h.size(1) - 1;
    const auto hp = (tokens / cfg_frames) / wp;
    if (hp * wp * cfg_frames != tokens) {
      throw Error("TimeSformer forward",
                  std::to_string(tokens) + " patch tokens cannot be laid out as config.num_frames " +
                      std::to_string(cfg_frames) + " frames of rows of " + std::to_string(wp) +
                      " patches (Hugging Face fails here too); set num_frames to the input's frame count "
                      "(from_pretrained's num_frames) or use config.image_size inputs");
    }
    auto patches = h.slice(1, 1);
    // Temporal attention over each patch's frames; CLS takes no part.
    auto t = patches.reshape({batch, hp, wp, cfg_frames, d}).reshape({batch * hp * wp, cfg_frames, d});
    t = layer.temporal(layer.temporal_norm(t), kernel_);
    t = layer.temporal_dense(t.reshape({batch, hp, wp, cfg_frames, d}).reshape({batch, hp * wp * cfg_frames, d}));
    auto temporal_embedding = patches + t;
    // Spatial attention within each frame, with the CLS token repeated per frame.
    auto init_cls = h.select(1, 0).unsqueeze(1);
    auto cls = init_cls.repeat({1, cfg_frames, 1}).reshape({batch * cfg_frames, 1, d});
    auto s = temporal_embedding.reshape({batch, hp, wp, cfg_frames, d})
                 .permute({0, 3, 1, 2, 4})
                 .reshape({batch * cfg_frames, hp * wp, d});
    s = layer.block.attention(layer.block.norm_before(torch::cat({cls, s}, 1)), kernel_);
    auto cls_out = s.select(1, 0).reshape({batch, cfg_frames, d}).mean(1, true);  // averaged over frames
    s = s.slice(1, 1)
            .reshape({batch, cfg_frames, hp, wp, d})
            .permute({0, 2, 3, 1, 4})
            .reshape({batch, hp * wp * cfg_frames, d});
    auto merged = torch::cat({init_cls, temporal_embedding}, 1) + torch::cat({cls_out, s}, 1);
    state.hidden = layer.block.mlp(merged);
  }
  if (output_hidden_states) out.hidden_states.push_back(state.hidden);
  out.last_hidden_state = w.final_norm(state.hidden);
  return out;
}

}  // namespace epalm::models
