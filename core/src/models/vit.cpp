#include "epalm/core/models/vit.h"

#include <torch/torch.h>

#include <filesystem>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "layers/pre_ln_block.h"
#include "models/frozen_weights.h"
#include "models/random_weights.h"
#include "models/layer_holder.h"
#include "models/sharded_layers.h"
#include "models/weights_fingerprint.h"

namespace epalm::models {

namespace {

// Where an HF-named tensor lives in a timm checkpoint: a tensor, or rows
// [begin, end) of the fused qkv.
struct TimmSource {
  std::string name;
  std::int64_t begin = -1, end = -1;
};

std::map<std::string, TimmSource> timm_sources(const VitConfig& c) {
  std::map<std::string, TimmSource> m;
  auto both = [&](const std::string& hf, const std::string& timm) {
    m[hf + ".weight"] = {timm + ".weight"};
    m[hf + ".bias"] = {timm + ".bias"};
  };
  m["embeddings.cls_token"] = {"cls_token"};
  m["embeddings.position_embeddings"] = {"pos_embed"};
  both("embeddings.patch_embeddings.projection", "patch_embed.proj");
  both("layernorm", "norm");
  const auto h = c.hidden_size;
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string hf = "encoder.layer." + std::to_string(i) + ".";
    const std::string timm = "blocks." + std::to_string(i) + ".";
    std::int64_t row = 0;
    for (const char* proj : {"query", "key", "value"}) {
      m[hf + "attention.attention." + proj + ".weight"] = {timm + "attn.qkv.weight", row, row + h};
      if (c.qkv_bias) m[hf + "attention.attention." + proj + ".bias"] = {timm + "attn.qkv.bias", row, row + h};
      row += h;
    }
    both(hf + "attention.output.dense", timm + "attn.proj");
    both(hf + "intermediate.dense", timm + "mlp.fc1");
    both(hf + "output.dense", timm + "mlp.fc2");
    both(hf + "layernorm_before", timm + "norm1");
    both(hf + "layernorm_after", timm + "norm2");
  }
  return m;
}

const std::string kBlockPrefix = "encoder.layer.";

// The block index of "encoder.layer.<i>.*", else -1.
std::int64_t block_of(const std::string& name) {
  if (name.rfind(kBlockPrefix, 0) != 0) return -1;
  return std::stoll(name.substr(kBlockPrefix.size(), name.find('.', kBlockPrefix.size()) - kBlockPrefix.size()));
}

bool has_timm_names(const TensorShapes& shapes) {
  return shapes.count("cls_token") || shapes.count("pos_embed") || shapes.count("blocks.0.attn.qkv.weight");
}

}  // namespace

struct VitModel::Weights {
  at::Tensor cls_token, position_embeddings;
  layers::Linear patch;  // convolution weight [H, C, p, p] and bias
  layers::LayerNorm final_norm;
  std::unique_ptr<ShardedLayers> sharded;  // null: every block whole
  std::vector<std::unique_ptr<const LayerHolder<layers::PreLnBlock>>> blocks;  // how each block runs: whole or sharded
  // Per sharded block: its whole (small) tensors, joined by the gathered ones to run.
  std::map<std::int64_t, std::map<std::string, at::Tensor>> block_small;
  std::map<std::string, at::Tensor> resident;  // every whole tensor (footprint)
};

VitModel::VitModel(VitConfig config, const std::map<std::string, at::Tensor>& weights)
    : VitModel(std::move(config), weights, nullptr) {}

VitModel::VitModel(VitConfig config, const std::map<std::string, at::Tensor>& weights,
                   std::unique_ptr<ShardedLayers> sharded)
    : config_(std::move(config)), weights_(std::make_unique<Weights>()) {
  config_.validate("ViT config");
  TensorShapes given, expected;
  for (const auto& [name, t] : weights) given[name] = t.sizes().vec();
  for (const auto& [name, shape] : vit_tensor_shapes(config_)) {
    if (!sharded || !sharded->is_sharded(name)) expected[name] = shape;
  }
  match_state_dict(expected, given, {}).require("ViT weights", /*allow_unexpected=*/false);

  fingerprint_ = sharded && sharded->any() ? sharded->fingerprint(weights) : weights_fingerprint(weights);
  const FrozenWeights frozen(weights);
  auto get = [&](const std::string& name) { return frozen.get(name); };
  auto linear = [&](const std::string& name) { return frozen.linear(name); };
  auto norm = [&](const std::string& name) { return frozen.norm(name, config_.layer_norm_eps); };
  auto& w = *weights_;
  w.cls_token = get("embeddings.cls_token");
  w.position_embeddings = get("embeddings.position_embeddings");
  w.patch = linear("embeddings.patch_embeddings.projection");
  w.final_norm = norm("layernorm");
  for (const auto& [name, t] : weights) {
    w.resident[name] = get(name);
    if (sharded && sharded->unit(block_of(name)) != nullptr) w.block_small[block_of(name)][name] = get(name);
  }
  w.sharded = std::move(sharded);
  const Weights* held = weights_.get();  // stable across moves of the model
  const auto block = [c = config_](std::int64_t i, const std::map<std::string, at::Tensor>& tensors) {
    return FrozenWeights(tensors).vit_layer(kBlockPrefix + std::to_string(i) + ".", c.num_heads, c.layer_norm_eps,
                                            c.hidden_act);
  };
  w.blocks = hold_layers<layers::PreLnBlock>(
      config_.num_layers, w.sharded.get(), [&](std::int64_t i) { return block(i, weights); },
      [held, block](std::int64_t i, const std::map<std::string, at::Tensor>& gathered) {
        auto tensors = held->block_small.at(i);
        for (const auto& [name, t] : gathered) tensors[name] = t;
        return block(i, tensors);
      });
}

const parallel::ShardedUnit* VitModel::sharded_layer(std::int64_t layer) const {
  return weights_->sharded ? weights_->sharded->unit(layer) : nullptr;
}

FrozenFootprint VitModel::frozen_footprint() const {
  if (weights_->sharded) return weights_->sharded->footprint(weights_->resident);
  FrozenFootprint f;
  for (const auto& [name, t] : weights_->resident) f.replicated_bytes += t.numel() * static_cast<std::int64_t>(t.element_size());
  return f;
}

VitModel::~VitModel() = default;
VitModel::VitModel(VitModel&&) noexcept = default;
VitModel& VitModel::operator=(VitModel&&) noexcept = default;

const VitConfig& VitModel::config() const { return config_; }
c10::ScalarType VitModel::dtype() const { return weights_->cls_token.scalar_type(); }
c10::Device VitModel::device() const { return weights_->cls_token.device(); }

VitModel VitModel::from_pretrained(const std::string& directory, c10::ScalarType dtype, c10::Device device) {
  return from_pretrained(directory, dtype, device, LayerSharding{});
}

VitModel VitModel::from_pretrained(const std::string& directory, c10::ScalarType dtype, c10::Device device,
                                   const LayerSharding& sharding) {
  const auto config = VitConfig::from_json_file((std::filesystem::path(directory) / "config.json").string());
  safetensors::Checkpoint checkpoint(directory);
  const auto stored = checkpoint.shapes();
  std::map<std::string, at::Tensor> weights;
  const bool shards = sharding.communicator != nullptr &&
                      std::find(sharding.layers.begin(), sharding.layers.end(), true) != sharding.layers.end();
  if (has_timm_names(stored)) {
    if (shards) {
      throw UsageError(checkpoint.path(), "timm checkpoints (fused qkv) cannot be sharded; convert it to Hugging Face "
                                          "names or replicate the encoder");
    }
    KeyMapping mapping;
    mapping.ignore = {"head.", "head_drop.", "pre_logits.", "fc_norm."};
    match_state_dict(vit_timm_tensor_shapes(config), stored, mapping).require(checkpoint.path());
    for (const auto& [name, source] : timm_sources(config)) {
      weights[name] = source.begin < 0 ? checkpoint.load(source.name, dtype, device)
                                       : checkpoint.load_rows(source.name, source.begin, source.end, dtype, device);
    }
    return VitModel(config, weights);
  }
  KeyMapping mapping;
  // ViTForImageClassification saves "vit.*" (and a classifier), ViTModel
  // saves bare names (and a pooler, random when it was never trained).
  mapping.prefixes = {"vit."};
  mapping.ignore = {"classifier.", "pooler.", "vit.pooler."};
  const auto match = match_state_dict(vit_tensor_shapes(config), stored, mapping);
  match.require(checkpoint.path());
  std::unique_ptr<ShardedLayers> sharded;
  if (shards) {
    sharded = std::make_unique<ShardedLayers>(checkpoint, vit_tensor_shapes(config), match.source, block_of, sharding,
                                              config.num_layers, dtype, device);
  }
  for (const auto& [name, source] : match.source) {
    if (!sharded || !sharded->is_sharded(name)) weights[name] = checkpoint.load(source, dtype, device);
  }
  return VitModel(config, weights, std::move(sharded));
}

VitModel VitModel::random(const VitConfig& config, c10::ScalarType dtype, c10::Device device, std::uint64_t seed) {
  config.validate("ViT config");
  return VitModel(config, random_weights(vit_tensor_shapes(config), dtype, device, seed));
}

at::Tensor VitModel::final_norm(const at::Tensor& hidden) const { return weights_->final_norm(hidden); }

at::Tensor VitModel::position_embeddings(std::int64_t height, std::int64_t width) const {
  const auto& c = config_;
  const auto& pos = weights_->position_embeddings;
  const auto rows = height / c.patch_size;
  const auto cols = width / c.patch_size;
  if (rows == c.grid_size() && cols == c.grid_size()) return pos;
  // HF ViTEmbeddings.interpolate_pos_encoding: bicubic on the patch grid.
  const auto grid = c.grid_size();
  auto patch = pos.slice(1, 1).reshape({1, grid, grid, c.hidden_size}).permute({0, 3, 1, 2});
  patch = torch::nn::functional::interpolate(
      patch, torch::nn::functional::InterpolateFuncOptions()
                 .size(std::vector<std::int64_t>{rows, cols})
                 .mode(torch::kBicubic)
                 .align_corners(false));
  patch = patch.permute({0, 2, 3, 1}).reshape({1, -1, c.hidden_size});
  return torch::cat({pos.slice(1, 0, 1), patch}, 1);
}

EncoderOutput VitModel::forward(const at::Tensor& pixel_values, bool output_hidden_states,
                                const LayerHook& hook) const {
  VitForwardOptions options;
  options.output_hidden_states = output_hidden_states;
  options.hook = hook;
  return forward(pixel_values, options);
}

EncoderOutput VitModel::forward(const at::Tensor& pixel_values_in, const VitForwardOptions& o) const {
  const auto& c = config_;
  const auto& w = *weights_;
  if (!pixel_values_in.defined() || pixel_values_in.dim() != 4) {
    throw Error("ViT forward", "pixel_values must be [batch, channels, height, width], got " +
                                   (pixel_values_in.defined() ? c10::str(pixel_values_in.sizes()) : "undefined"));
  }
  if (!at::isFloatingType(pixel_values_in.scalar_type())) {
    throw Error("ViT forward", std::string("pixel_values must be floating point, got ") +
                                   c10::toString(pixel_values_in.scalar_type()) +
                                   " (preprocess images with epalm/core/media/image_preprocessing.h)");
  }
  const auto height = pixel_values_in.size(2);
  const auto width = pixel_values_in.size(3);
  if (pixel_values_in.size(1) != c.num_channels) {
    throw Error("ViT forward", "pixel_values has " + std::to_string(pixel_values_in.size(1)) +
                                   " channels, the model expects " + std::to_string(c.num_channels));
  }
  if (height < c.patch_size || width < c.patch_size) {
    throw Error("ViT forward", "pixel_values " + std::to_string(height) + "x" + std::to_string(width) +
                                   " is smaller than one " + std::to_string(c.patch_size) + "-pixel patch");
  }
  if (!o.interpolate_pos_encoding && (height != c.image_size || width != c.image_size)) {
    throw Error("ViT forward", "input image size (" + std::to_string(height) + "*" + std::to_string(width) +
                                   ") doesn't match the model (" + std::to_string(c.image_size) + "*" +
                                   std::to_string(c.image_size) + "); set interpolate_pos_encoding");
  }
  const auto pixel_values = pixel_values_in.to(device(), dtype());
  const auto batch = pixel_values.size(0);

  auto hidden = torch::conv2d(pixel_values, w.patch.weight, w.patch.bias, {c.patch_size, c.patch_size})
                    .flatten(2)
                    .transpose(1, 2);
  hidden = torch::cat({w.cls_token.expand({batch, -1, -1}), hidden}, 1);
  hidden = hidden + (o.interpolate_pos_encoding ? position_embeddings(height, width) : w.position_embeddings);

  EncoderOutput out;
  LayerInput state;
  state.hidden = hidden;
  // The encoder is frozen and forward-only: a sharded block is gathered
  // (the next one in flight) and nothing is kept for a backward.
  LayerPass pass(w.sharded.get(), /*caching=*/false, "ViT forward");
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    state.layer = static_cast<int>(i);
    if (o.hook) o.hook(state);
    if (o.output_hidden_states) out.hidden_states.push_back(state.hidden);
    const int cls_only = o.last_block_cls_only && i == c.num_layers - 1 ? 1 : 0;
    state.hidden = w.blocks[static_cast<size_t>(i)]->run(
        pass,
        [kernel = o.attention_kernel, cls_only](const layers::PreLnBlock& block, const at::Tensor& x) {
          return block(x, kernel, cls_only);
        },
        state.hidden, {});
  }
  if (o.output_hidden_states) out.hidden_states.push_back(state.hidden);
  out.last_hidden_state = w.final_norm(state.hidden);
  return out;
}

at::Tensor VitModel::last_blocks_cls(const at::Tensor& pixel_values, int levels) const {
  VitForwardOptions options;
  options.output_hidden_states = true;
  options.last_block_cls_only = true;
  options.interpolate_pos_encoding =
      pixel_values.dim() == 4 && (pixel_values.size(2) != config_.image_size || pixel_values.size(3) != config_.image_size);
  return cls_of_hidden_states(forward(pixel_values, options), levels, config_.num_layers);
}

}  // namespace epalm::models
