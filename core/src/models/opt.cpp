#include "epalm/core/models/opt.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <limits>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "layers/attention.h"
#include "epalm/core/layers/frozen_linear.h"
#include "layers/relu_saving_mask.h"
#include "layers/vocabulary_logits.h"
#include "models/layer_holder.h"
#include "models/random_weights.h"
#include "models/sharded_layers.h"
#include "models/weights_fingerprint.h"

namespace epalm::models {

namespace {

struct Linear {
  at::Tensor weight, bias;  // bias undefined without enable_bias
  at::Tensor operator()(const at::Tensor& x) const { return layers::frozen_linear(x, weight, bias); }
};

struct LayerNorm {
  at::Tensor weight, bias;  // undefined when not elementwise-affine
  std::int64_t size = 0;
  at::Tensor operator()(const at::Tensor& x) const { return torch::layer_norm(x, {size}, weight, bias, 1e-5); }
};

struct Layer {
  Linear q, k, v, out, fc1, fc2;
  LayerNorm attention_norm, ffn_norm;
};

// Where a layer's tensor lives in Layer, by its name after "decoder.layers.<i>.".
at::Tensor* field_of(Layer& l, const std::string& suffix) {
  static const std::map<std::string, at::Tensor* (*)(Layer&)> fields = {
      {"self_attn.q_proj.weight", [](Layer& x) { return &x.q.weight; }},
      {"self_attn.q_proj.bias", [](Layer& x) { return &x.q.bias; }},
      {"self_attn.k_proj.weight", [](Layer& x) { return &x.k.weight; }},
      {"self_attn.k_proj.bias", [](Layer& x) { return &x.k.bias; }},
      {"self_attn.v_proj.weight", [](Layer& x) { return &x.v.weight; }},
      {"self_attn.v_proj.bias", [](Layer& x) { return &x.v.bias; }},
      {"self_attn.out_proj.weight", [](Layer& x) { return &x.out.weight; }},
      {"self_attn.out_proj.bias", [](Layer& x) { return &x.out.bias; }},
      {"fc1.weight", [](Layer& x) { return &x.fc1.weight; }},
      {"fc1.bias", [](Layer& x) { return &x.fc1.bias; }},
      {"fc2.weight", [](Layer& x) { return &x.fc2.weight; }},
      {"fc2.bias", [](Layer& x) { return &x.fc2.bias; }},
      {"self_attn_layer_norm.weight", [](Layer& x) { return &x.attention_norm.weight; }},
      {"self_attn_layer_norm.bias", [](Layer& x) { return &x.attention_norm.bias; }},
      {"final_layer_norm.weight", [](Layer& x) { return &x.ffn_norm.weight; }},
      {"final_layer_norm.bias", [](Layer& x) { return &x.ffn_norm.bias; }},
  };
  const auto it = fields.find(suffix);
  if (it == fields.end()) throw Error("OPT layer", "has no tensor '" + suffix + "'");
  return it->second(l);
}

const std::string kLayerPrefix = "decoder.layers.";

// The layer index of "decoder.layers.<i>.*", else -1.
std::int64_t layer_of(const std::string& name) {
  if (name.rfind(kLayerPrefix, 0) != 0) return -1;
  return std::stoll(name.substr(kLayerPrefix.size(), name.find('.', kLayerPrefix.size()) - kLayerPrefix.size()));
}

// `base` (the layer's whole tensors) with its sharded ones from `gathered`.
Layer with_gathered(const Layer& base, const std::map<std::string, at::Tensor>& gathered) {
  Layer l = base;
  for (const auto& [name, t] : gathered) {
    const auto suffix = name.substr(name.find('.', kLayerPrefix.size()) + 1);
    *field_of(l, suffix) = t;
  }
  return l;
}

at::Tensor activate(const std::string& name, const at::Tensor& x) {
  if (name == "relu") return layers::relu_saving_mask(x);  // the MLP's largest saved activation, as a mask
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new") return torch::gelu(x, "tanh");
  return torch::silu(x);  // silu / swish; validate() rejected the rest
}

// One layer of the residual stream. `attend(q, k, v)` is its attention over
// the projections, shaped as the input: padded sequences or packed rows.
template <class Attend>
at::Tensor run_layer(const OptConfig& c, const SublayerOutputHook& attention_output_hook,
                     const SublayerOutputHook& ffn_output_hook, const Layer& layer, int index, const at::Tensor& input,
                     const Attend& attend) {
  auto h = input;
  auto residual = h;
  if (c.layer_norm_before) h = layer.attention_norm(h);
  // q, k, v in this order: MKL's rounding can follow where buffers land, and
  // tests compare runs of one pass bit for bit.
  const auto q = layer.q(h);
  const auto k = layer.k(h);
  const auto v = layer.v(h);
  auto attention_out = layer.out(attend(q, k, v));
  if (attention_output_hook) attention_out = attention_output_hook(index, attention_out);
  h = residual + attention_out;
  if (!c.layer_norm_before) h = layer.attention_norm(h);

  residual = h;
  if (c.layer_norm_before) h = layer.ffn_norm(h);
  auto ffn_out = layer.fc2(activate(c.activation, layer.fc1(h)));
  if (ffn_output_hook) ffn_out = ffn_output_hook(index, ffn_out);
  h = residual + ffn_out;
  if (!c.layer_norm_before) h = layer.ffn_norm(h);
  return h;
}

double attention_scale(const OptConfig& c) { return 1.0 / std::sqrt(static_cast<double>(c.head_dim())); }

// A layer over padded sequences [B, T, H] (`in` says which layer, its bias and cache).
at::Tensor run_sequence_layer(const OptConfig& c, const OptForwardOptions& o, const Layer& layer, const LayerInput& in,
                              const at::Tensor& input) {
  const auto b = input.size(0);
  const auto t = input.size(1);
  auto heads = [&](const at::Tensor& x) { return x.view({b, t, c.num_heads, c.head_dim()}).transpose(1, 2); };
  return run_layer(c, o.attention_output_hook, o.ffn_output_hook, layer, in.layer, input,
                   [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
                     auto keys = heads(k), values = heads(v);
                     if (o.cache) std::tie(keys, values) = o.cache->append(in.layer, keys, values);
                     auto out = layers::attention(heads(q), keys, values, in.attention_bias, attention_scale(c),
                                                  o.attention_kernel);
                     return out.transpose(1, 2).reshape({b, t, c.hidden_size});
                   });
}

// A layer over packed rows [N, H]: each group's queries and keys gathered
// into [S, heads, Q or K, head_dim], attended, and their outputs put back in row order.
at::Tensor run_rows_layer(const OptConfig& c, const RowsForwardOptions& o, const Layer& layer, int index,
                          const RowAttention& a, const at::Tensor& input) {
  const auto groups = a.query_rows.size(0);
  auto gather = [&](const at::Tensor& x, const at::Tensor& rows) {
    return x.index_select(0, rows.flatten()).view({groups, rows.size(1), c.num_heads, c.head_dim()}).transpose(1, 2);
  };
  return run_layer(c, o.attention_output_hook, o.ffn_output_hook, layer, index, input,
                   [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
                     auto out = layers::attention(gather(q, a.query_rows), gather(k, a.key_rows), gather(v, a.key_rows),
                                                  a.bias, attention_scale(c), o.attention_kernel);
                     return out.transpose(1, 2).reshape({-1, c.hidden_size}).index_select(0, a.output_index);
                   });
}

}  // namespace

struct OptModel::Weights {
  at::Tensor embed_tokens, embed_positions;
  Linear project_in, project_out;  // undefined without projections
  LayerNorm final_norm;            // undefined weight and size 0 when absent
  std::vector<Layer> layers;       // the whole tensors (a sharded layer's large ones undefined)
  std::unique_ptr<ShardedLayers> sharded;  // null: every layer whole
  std::vector<std::unique_ptr<const LayerHolder<Layer>>> holders;  // how each layer runs: whole or sharded
  std::string fingerprint;                 // computed at load when sharded
};

OptModel::OptModel(OptConfig config, const std::map<std::string, at::Tensor>& weights)
    : OptModel(std::move(config), weights, nullptr) {}

OptModel::OptModel(OptConfig config, const std::map<std::string, at::Tensor>& weights,
                   std::unique_ptr<ShardedLayers> sharded)
    : config_(std::move(config)), weights_(std::make_unique<Weights>()) {
  config_.validate("OPT config");
  // Check every name and shape before taking anything (sharded tensors are
  // the ShardedLayers' own).
  TensorShapes given, expected;
  for (const auto& [name, t] : weights) given[name] = t.sizes().vec();
  for (const auto& [name, shape] : opt_tensor_shapes(config_)) {
    if (!sharded || !sharded->is_sharded(name)) expected[name] = shape;
  }
  match_state_dict(expected, given, {}).require("OPT weights", /*allow_unexpected=*/false);

  auto get = [&](const std::string& name) -> at::Tensor {
    auto it = weights.find(name);
    if (it == weights.end()) return at::Tensor();
    // A tensor that requires gradient is a parameter being trained (pretraining): held as given.
    return it->second.requires_grad() ? it->second : it->second.detach().set_requires_grad(false);
  };
  auto linear = [&](const std::string& name) { return Linear{get(name + ".weight"), get(name + ".bias")}; };
  auto norm = [&](const std::string& name) {
    return LayerNorm{get(name + ".weight"), get(name + ".bias"), config_.hidden_size};
  };
  auto& w = *weights_;
  w.embed_tokens = get("decoder.embed_tokens.weight");
  w.embed_positions = get("decoder.embed_positions.weight");
  if (config_.has_projections()) {
    w.project_in = {get("decoder.project_in.weight"), {}};
    w.project_out = {get("decoder.project_out.weight"), {}};
  }
  if (config_.has_final_layer_norm()) w.final_norm = norm("decoder.final_layer_norm");
  for (std::int64_t i = 0; i < config_.num_layers; ++i) {
    const std::string p = "decoder.layers." + std::to_string(i) + ".";
    w.layers.push_back({linear(p + "self_attn.q_proj"), linear(p + "self_attn.k_proj"),
                        linear(p + "self_attn.v_proj"), linear(p + "self_attn.out_proj"), linear(p + "fc1"),
                        linear(p + "fc2"), norm(p + "self_attn_layer_norm"), norm(p + "final_layer_norm")});
  }
  w.sharded = std::move(sharded);
  if (w.sharded && w.sharded->any()) w.fingerprint = w.sharded->fingerprint(this->weights());
  const Weights* held = weights_.get();  // stable across moves of the model
  w.holders = hold_layers<Layer>(
      config_.num_layers, w.sharded.get(), [held](std::int64_t i) { return held->layers[i]; },
      [held](std::int64_t i, const std::map<std::string, at::Tensor>& gathered) {
        return with_gathered(held->layers[i], gathered);
      });
}

OptModel::~OptModel() = default;
OptModel::OptModel(OptModel&&) noexcept = default;
OptModel& OptModel::operator=(OptModel&&) noexcept = default;

const OptConfig& OptModel::config() const { return config_; }
c10::ScalarType OptModel::dtype() const { return weights_->embed_tokens.scalar_type(); }
c10::Device OptModel::device() const { return weights_->embed_tokens.device(); }

OptModel OptModel::from_pretrained(const std::string& directory, c10::ScalarType dtype, c10::Device device) {
  return from_pretrained(directory, dtype, device, LayerSharding{});
}

OptModel OptModel::from_pretrained(const std::string& directory, c10::ScalarType dtype, c10::Device device,
                                   const LayerSharding& sharding) {
  const auto config = OptConfig::from_json_file((std::filesystem::path(directory) / "config.json").string());
  safetensors::Checkpoint checkpoint(directory);
  KeyMapping mapping;
  // OPTForCausalLM saves "model.decoder.*", OPTModel "decoder.*"; safetensors
  // keeps one name of the tied embedding / LM head pair.
  mapping.prefixes = {"model."};
  mapping.aliases = {{"decoder.embed_tokens.weight", "lm_head.weight"}};
  const auto match = match_state_dict(opt_tensor_shapes(config), checkpoint.shapes(), mapping);
  match.require(checkpoint.path());
  std::unique_ptr<ShardedLayers> sharded;
  if (sharding.communicator != nullptr) {
    sharded = std::make_unique<ShardedLayers>(checkpoint, opt_tensor_shapes(config), match.source, layer_of, sharding,
                                              config.num_layers, dtype, device);
  }
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, source] : match.source) {
    if (!sharded || !sharded->is_sharded(name)) weights[name] = checkpoint.load(source, dtype, device);
  }
  return OptModel(config, weights, std::move(sharded));
}

std::string OptModel::fingerprint() const {
  return weights_->fingerprint.empty() ? weights_fingerprint(weights()) : weights_->fingerprint;
}

const parallel::ShardedUnit* OptModel::sharded_layer(std::int64_t layer) const {
  return weights_->sharded ? weights_->sharded->unit(layer) : nullptr;
}

FrozenFootprint OptModel::frozen_footprint() const {
  if (weights_->sharded) return weights_->sharded->footprint(weights());
  FrozenFootprint f;
  for (const auto& [name, t] : weights()) f.replicated_bytes += t.numel() * static_cast<std::int64_t>(t.element_size());
  return f;
}

OptModel OptModel::random(const OptConfig& config, c10::ScalarType dtype, c10::Device device, std::uint64_t seed) {
  config.validate("OPT config");
  auto weights = random_weights(opt_tensor_shapes(config), dtype, device, seed);
  if (config.pad_token_id >= 0 && config.pad_token_id < config.vocab_size) {
    torch::NoGradGuard no_grad;
    weights.at("decoder.embed_tokens.weight")[config.pad_token_id].zero_();  // nn.Embedding(padding_idx=pad_token_id)
  }
  return OptModel(config, weights);
}

std::map<std::string, at::Tensor> OptModel::weights() const {
  const auto& w = *weights_;
  std::map<std::string, at::Tensor> out;
  auto put = [&](const std::string& name, const at::Tensor& t) {
    if (t.defined()) out[name] = t;
  };
  auto linear = [&](const std::string& name, const Linear& l) {
    put(name + ".weight", l.weight);
    put(name + ".bias", l.bias);
  };
  auto norm = [&](const std::string& name, const LayerNorm& n) {
    put(name + ".weight", n.weight);
    put(name + ".bias", n.bias);
  };
  put("decoder.embed_tokens.weight", w.embed_tokens);
  put("decoder.embed_positions.weight", w.embed_positions);
  put("decoder.project_in.weight", w.project_in.weight);
  put("decoder.project_out.weight", w.project_out.weight);
  norm("decoder.final_layer_norm", w.final_norm);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const std::string p = "decoder.layers." + std::to_string(i) + ".";
    const auto& l = w.layers[i];
    linear(p + "self_attn.q_proj", l.q);
    linear(p + "self_attn.k_proj", l.k);
    linear(p + "self_attn.v_proj", l.v);
    linear(p + "self_attn.out_proj", l.out);
    norm(p + "self_attn_layer_norm", l.attention_norm);
    linear(p + "fc1", l.fc1);
    linear(p + "fc2", l.fc2);
    norm(p + "final_layer_norm", l.ffn_norm);
  }
  return out;
}

at::Tensor OptModel::embed_tokens(const at::Tensor& input_ids) const {
  return torch::embedding(weights_->embed_tokens, input_ids.to(device()));
}

OptOutput OptModel::forward(const at::Tensor& input_ids_in, const OptForwardOptions& o) const {
  const auto& c = config_;
  const auto& w = *weights_;
  const auto input_ids = input_ids_in.to(device());
  TORCH_CHECK(input_ids.dim() == 2, "OPT input_ids must be [batch, tokens], got ", input_ids.sizes());
  const std::int64_t batch = input_ids.size(0);
  const std::int64_t tokens = input_ids.size(1);
  const bool cached = o.cache != nullptr && !o.cache->empty();
  const std::int64_t past_text = cached ? o.cache->text_length : 0;

  auto mask = o.attention_mask.defined() ? o.attention_mask.to(device())
                                         : torch::ones({batch, past_text + tokens}, input_ids.options());
  if (mask.size(0) != batch || mask.size(1) != past_text + tokens) {
    throw Error("OPT forward", "attention_mask has shape " + c10::str(mask.sizes()) + " but the cache and input need [" +
                                   std::to_string(batch) + ", " + std::to_string(past_text + tokens) + "]");
  }
  mask = mask.to(torch::kLong);

  // Positions from the text mask (HF: cumsum(mask) * mask - 1, row + 2).
  auto positions = (torch::cumsum(mask, 1) * mask - 1).slice(1, past_text) + 2;
  if (positions.max().item<std::int64_t>() >= c.max_positions + 2) {
    throw Error("OPT forward", "sequence longer than max_position_embeddings " + std::to_string(c.max_positions));
  }
  auto hidden = embed_tokens(input_ids);
  std::int64_t prefix = cached ? o.cache->prefix_length : 0;
  if (o.prefix_embeds.defined()) {
    if (cached) throw Error("OPT forward", "prefix_embeds are only accepted on a first step (empty cache)");
    prefix = o.prefix_embeds.size(1);
    hidden = torch::cat({o.prefix_embeds.to(hidden.device(), hidden.scalar_type()), hidden}, 1);
    if (o.cache) o.cache->prefix_length = prefix;
  }
  if (c.has_projections()) hidden = w.project_in(hidden);
  auto position_embeds = torch::embedding(w.embed_positions, positions);
  if (prefix > 0 && !cached) {
    // Prefix tokens get no position embedding.
    position_embeds = torch::cat({torch::zeros({batch, prefix, c.hidden_size}, position_embeds.options()),
                                  position_embeds}, 1);
  }
  hidden = hidden + position_embeds;

  // Additive bias [B, 1, Q, K], composed as the reference composes it: future
  // keys -inf, padded keys at or before the query the dtype's lowest finite
  // value. The two differ only on a query row with no unmasked key (a left
  // pad without a soft prompt): there the lowest values win the softmax, so
  // the row attends uniformly to the padded keys at or before itself, never
  // to future tokens (docs/epalm.md, "Masks of fully padded rows").
  const std::int64_t queries = hidden.size(1);
  // Layer 0's keys as the text sees them (a hook adds its own columns).
  const std::int64_t keys = (cached ? prefix + past_text : 0) + queries;
  auto key_mask = torch::cat({torch::ones({batch, prefix}, mask.options()), mask}, 1).to(torch::kBool);
  auto query_index = torch::arange(keys - queries, keys, mask.options()).unsqueeze(1);
  auto causal = torch::arange(keys, mask.options()).unsqueeze(0) <= query_index;  // [Q, K]
  auto bias = torch::zeros({batch, 1, queries, keys}, hidden.options())
                  .masked_fill(key_mask.logical_not().view({batch, 1, 1, keys}), masked_bias_value(hidden.scalar_type()))
                  .masked_fill(causal.logical_not().view({1, 1, queries, keys}), -std::numeric_limits<double>::infinity());

  OptOutput out;
  LayerInput state;
  state.hidden = hidden;
  state.attention_bias = bias;
  // A sharded layer runs again in backward, after this returns: the layer's
  // run keeps its own copies of the options and of its input state.
  LayerPass pass(w.sharded.get(), o.cache != nullptr, "OPT forward");
  const auto options = std::make_shared<const OptForwardOptions>(o);
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    state.layer = static_cast<int>(i);
    state.past_length = o.cache ? o.cache->length(state.layer) : 0;
    if (o.hook) o.hook(state);
    if (o.output_hidden_states) out.hidden_states.push_back(state.hidden);
    LayerInput in = state;
    in.hidden = at::Tensor();
    const auto trainables = o.sublayer_hook_parameters ? o.sublayer_hook_parameters(state.layer) : std::vector<at::Tensor>{};
    state.hidden = w.holders[static_cast<size_t>(i)]->run(
        pass,
        [&c, options, in](const Layer& layer, const at::Tensor& x) {
          return run_sequence_layer(c, *options, layer, in, x);
        },
        state.hidden, trainables);
  }
  auto h = state.hidden;
  if (c.has_final_layer_norm()) h = w.final_norm(h);
  if (c.has_projections()) h = w.project_out(h);
  if (o.output_hidden_states) out.hidden_states.push_back(h);
  out.last_hidden_state = h;
  if (o.compute_logits) {
    auto positions_for_logits = o.last_position_logits_only ? h.slice(1, h.size(1) - 1) : h;
    out.logits = lm_head(positions_for_logits);
  }
  if (o.cache) o.cache->text_length = past_text + tokens;
  return out;
}

at::Tensor OptModel::embed_rows(const at::Tensor& word_embeds, const at::Tensor& positions) const {
  const auto& w = *weights_;
  auto rows = config_.has_projections() ? w.project_in(word_embeds) : word_embeds;
  const auto p = positions.to(device());
  // A prompt row (-1) reads row 0, zeroed: no position embedding.
  const auto position_embeds =
      torch::embedding(w.embed_positions, p.clamp_min(0)) * (p >= 0).unsqueeze(1).to(rows.scalar_type());
  return rows + position_embeds;
}

at::Tensor OptModel::forward_rows(const at::Tensor& rows, const RowsForwardOptions& o) const {
  const auto& c = config_;
  const auto& w = *weights_;
  if (!o.before_layer) throw Error("OPT forward_rows", "needs before_layer to set each layer's attention");
  LayerPass pass(w.sharded.get(), /*caching=*/false, "OPT forward");
  const auto options = std::make_shared<const RowsForwardOptions>(o);
  auto h = rows;
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const int index = static_cast<int>(i);
    std::shared_ptr<const RowAttention> attention;
    o.before_layer(index, h, attention);
    if (!attention) throw Error("OPT forward_rows", "before_layer set no attention for layer " + std::to_string(i));
    const auto trainables = o.sublayer_hook_parameters ? o.sublayer_hook_parameters(index) : std::vector<at::Tensor>{};
    h = w.holders[static_cast<size_t>(i)]->run(
        pass,
        [&c, options, index, attention](const Layer& layer, const at::Tensor& x) {
          return run_rows_layer(c, *options, layer, index, *attention, x);
        },
        h, trainables);
  }
  if (c.has_final_layer_norm()) h = w.final_norm(h);
  if (c.has_projections()) h = w.project_out(h);
  return h;
}

at::Tensor OptModel::lm_head(const at::Tensor& hidden) const {
  return layers::vocabulary_logits(hidden, weights_->embed_tokens);  // tied to the token embeddings
}

}  // namespace epalm::models
