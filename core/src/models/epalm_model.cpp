#include "epalm/core/models/epalm_model.h"

#include <torch/torch.h>

#include "epalm/core/error.h"
#include "epalm/core/models/encoder.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/state_dict.h"
#include "models/epalm_loss.h"

namespace epalm::models {

AdapterSettings adapter_settings(const std::string& where, int reduction) {
  AdapterSettings a;
  a.reduction = reduction;
  a.on_ffn = where == "ffn" || where == "both";
  a.on_attention = where == "attention" || where == "both";
  if (where != "none" && !a.on_ffn && !a.on_attention) {
    throw UsageError("--adapters", "must be none, ffn, attention or both, not '" + where + "'");
  }
  return a;
}

// ---------------------------------------------------------------- config

void EpalmConfig::validate(std::int64_t encoder_blocks, std::int64_t decoder_layers) const {
  auto fail = [](const std::string& what) { throw UsageError("eP-ALM config", what); };
  if (levels < 1) fail("levels must be >= 1");
  if (levels > encoder_blocks) {
    fail("levels " + std::to_string(levels) + " exceeds the encoder's " + std::to_string(encoder_blocks) + " blocks");
  }
  if (start_layer < 0 || end_layer <= start_layer || end_layer > decoder_layers) {
    fail("injection layers [" + std::to_string(start_layer) + ", " + std::to_string(end_layer) +
         ") must be a non-empty range inside the decoder's " + std::to_string(decoder_layers) + " layers");
  }
  if (text_step < 1) fail("text_step must be >= 1");
  if (prompt_length < 0) fail("prompt_length must be >= 0");
  if ((adapters.on_attention || adapters.on_ffn) && adapters.reduction < 1) fail("adapter reduction must be >= 1");
  if (injection_schedule().empty()) fail("no decoder layer in the range satisfies text_step");
  if (reference_dropout < 0 || reference_dropout >= 1) fail("reference_dropout must be in [0, 1)");
  if (!perception && prompt_length == 0 && !adapters.on_attention && !adapters.on_ffn) {
    fail("without perception there is nothing to train: give a soft prompt or adapters");
  }
}

std::vector<std::pair<int, int>> EpalmConfig::injection_schedule() const {
  const int span = end_layer - start_layer;
  const int step = levels == 1 ? 1 : (span > levels ? span / levels : 1);
  std::vector<std::pair<int, int>> schedule;
  for (int layer = start_layer; layer < end_layer; ++layer) {
    if (layer % text_step != 0) continue;
    schedule.emplace_back(layer, std::min((layer - start_layer) / step, levels - 1));
  }
  return schedule;
}

TrainableCount count_trainable(const EpalmConfig& c, std::int64_t encoder_hidden, std::int64_t decoder_hidden,
                               std::int64_t word_embed_dim, std::int64_t decoder_layers) {
  TrainableCount n;
  n.connector = c.perception ? (c.shared_connector ? 1 : c.levels) * (encoder_hidden * decoder_hidden + decoder_hidden) : 0;
  if (c.prompt_length > 0) {
    n.prompt = c.prompt_length * word_embed_dim;
    if (c.prompt_mlp) n.prompt += 2 * (word_embed_dim * word_embed_dim + word_embed_dim);
  }
  const std::int64_t bottleneck = decoder_hidden / std::max(1, c.adapters.reduction);
  const std::int64_t per_adapter = 2 * decoder_hidden * bottleneck + bottleneck + decoder_hidden +
                                   (c.adapters.layer_norm ? 2 * decoder_hidden : 0);
  const int kinds = (c.adapters.on_attention ? 1 : 0) + (c.adapters.on_ffn ? 1 : 0);
  n.adapters = kinds * decoder_layers * per_adapter;
  return n;
}

// ---------------------------------------------------------------- trainables

namespace {

void check_features(const at::Tensor& features, const at::Tensor& input_ids, int levels) {
  if (features.dim() != 3 || features.size(1) != levels || features.size(0) != input_ids.size(0)) {
    throw Error("eP-ALM forward", "features must be [batch " + std::to_string(input_ids.size(0)) + ", levels " +
                                      std::to_string(levels) + ", encoder_hidden], got " + c10::str(features.sizes()));
  }
}

// MAGMA's bottleneck adapter as the reference uses it: x + up(relu(down([LN](x)))).
struct AdapterImpl : torch::nn::Module {
  AdapterImpl(std::int64_t hidden, std::int64_t bottleneck, bool layer_norm) {
    if (layer_norm) norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
    down = register_module("down", torch::nn::Linear(hidden, bottleneck));
    up = register_module("up", torch::nn::Linear(bottleneck, hidden));
    torch::NoGradGuard no_grad;
    for (auto* linear : {&down, &up}) {
      for (auto& p : {(*linear)->weight, (*linear)->bias}) p.normal_(0.0, 1e-3).clamp_(-2e-3, 2e-3);
    }
  }
  at::Tensor forward(const at::Tensor& x) {
    auto h = norm ? norm(x.to(torch::kFloat32)) : x.to(torch::kFloat32);
    return x + up(torch::relu(down(h))).to(x.scalar_type());
  }
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear down{nullptr}, up{nullptr};
};
TORCH_MODULE(Adapter);

}  // namespace

struct EpalmModel::Impl {
  EpalmConfig config;
  const models::OptModel* decoder;
  std::vector<std::pair<int, int>> schedule;
  // LibTorch modules' forward() is not const; the model's is, as it changes
  // no state: hence mutable.
  mutable torch::nn::Module root;  // owns every trainable under the reference's names
  mutable torch::nn::ModuleList connector;
  mutable torch::nn::Sequential prompt{nullptr};
  mutable std::vector<Adapter> attention_adapters, ffn_adapters;

  // Level tokens [levels][B, 1, D_h] in the decoder's dtype.
  std::vector<at::Tensor> level_tokens(const at::Tensor& features) const {
    std::vector<at::Tensor> tokens;
    for (int j = 0; j < config.levels; ++j) {
      auto linear = connector[config.shared_connector ? 0 : j]->as<torch::nn::Linear>();
      auto x = features.select(1, j).to(decoder->device(), torch::kFloat32);
      tokens.push_back(linear->forward(x).unsqueeze(1).to(decoder->dtype()));
    }
    return tokens;
  }

  // The injection hook: prepend before the first scheduled layer, replace
  // position 0 before the later ones. Cached steps (one new query) only add
  // the token's key column: its keys and values are already cached.
  models::LayerHook hook(std::vector<at::Tensor> tokens) const {
    return [this, tokens = std::move(tokens)](models::LayerInput& in) {
      const auto it = std::find_if(schedule.begin(), schedule.end(), [&](auto& s) { return s.first == in.layer; });
      if (it == schedule.end()) return;
      const bool first = it == schedule.begin();
      const bool cached_step = in.past_length > 0;  // the token's keys and values are cached
      auto token = tokens[it->second];
      if (!cached_step && token.size(0) != in.hidden.size(0)) {
        token = token.repeat_interleave(in.hidden.size(0) / token.size(0), 0);
      }
      if (first) {
        const double masked = models::masked_bias_value(in.attention_bias.scalar_type());
        auto bias = torch::constant_pad_nd(in.attention_bias, {1, 0}, 0.0);  // everyone sees the token
        if (!cached_step) {
          in.hidden = torch::cat({token, in.hidden}, 1);
          auto row = torch::full({bias.size(0), 1, 1, bias.size(3)}, masked, bias.options());
          if (config.reference_noncausal_token) row.zero_();
          else row.select(3, 0).zero_();  // the token sees itself only
          bias = torch::cat({row, bias}, 2);
        }
        in.attention_bias = bias;
      } else if (!cached_step) {
        in.hidden = torch::cat({token, in.hidden.slice(1, 1)}, 1);
      }
    };
  }

  // The decoder's pass over the text with the perceptual tokens injected.
  // `training`: with the reference's dropout, when configured.
  models::OptOutput run(const at::Tensor& features, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                        bool compute_logits, bool training = false) const {
    check_features(features, input_ids, config.levels);
    auto o = options(features, input_ids.size(0));
    if (training && config.reference_dropout > 0) add_dropout(o);
    o.attention_mask = attention_mask;
    o.compute_logits = compute_logits;
    return decoder->forward(input_ids, o);
  }

  // HF OPT in train mode: dropout on the embeddings (layer 0's input, before
  // any injection), on the attention output and on fc2's output (after an
  // adapter there, as the reference wraps fc2), before each residual.
  void add_dropout(models::OptForwardOptions& o) const {
    const double p = config.reference_dropout;
    o.hook = [p, inner = o.hook](models::LayerInput& in) {
      if (in.layer == 0) in.hidden = torch::dropout(in.hidden, p, /*train=*/true);
      if (inner) inner(in);
    };
    auto wrap = [p](models::SublayerOutputHook inner) -> models::SublayerOutputHook {
      return [p, inner](int layer, const at::Tensor& x) {
        return torch::dropout(inner ? inner(layer, x) : x, p, /*train=*/true);
      };
    };
    o.attention_output_hook = wrap(o.attention_output_hook);
    o.ffn_output_hook = wrap(o.ffn_output_hook);
  }

  EpalmAdditions additions(const at::Tensor& features) const {
    EpalmAdditions a;
    if (config.perception) {
      a.level_tokens = level_tokens(features);
      a.schedule = schedule;
    }
    if (config.prompt_length > 0) {
      auto indices = torch::arange(config.prompt_length, torch::TensorOptions().dtype(torch::kLong).device(decoder->device()));
      a.prompt = prompt->forward(indices).to(decoder->dtype());
    }
    if (!attention_adapters.empty()) {
      a.attention_adapter = [this](int layer, const at::Tensor& x) { return attention_adapters[layer]->forward(x); };
    }
    if (!ffn_adapters.empty()) {
      a.ffn_adapter = [this](int layer, const at::Tensor& x) { return ffn_adapters[layer]->forward(x); };
    }
    if (!attention_adapters.empty() || !ffn_adapters.empty()) {
      a.adapter_parameters = [this](int layer) {
        std::vector<at::Tensor> out;
        for (const auto* adapters : {&attention_adapters, &ffn_adapters}) {
          if (adapters->empty()) continue;
          for (const auto& p : (*adapters)[static_cast<size_t>(layer)]->parameters()) out.push_back(p);
        }
        return out;
      };
    }
    return a;
  }

  models::OptForwardOptions options(const at::Tensor& features, std::int64_t batch) const {
    auto a = additions(features);
    models::OptForwardOptions o;
    if (config.perception) o.hook = hook(std::move(a.level_tokens));
    if (a.prompt.defined()) o.prefix_embeds = a.prompt.unsqueeze(0).expand({batch, -1, -1});
    o.attention_output_hook = std::move(a.attention_adapter);
    o.ffn_output_hook = std::move(a.ffn_adapter);
    o.sublayer_hook_parameters = std::move(a.adapter_parameters);
    return o;
  }
};

EpalmModel::EpalmModel(EpalmConfig config, const models::OptModel& decoder, std::int64_t encoder_hidden,
                       std::int64_t encoder_blocks, std::uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  const auto& oc = decoder.config();
  config.validate(encoder_blocks, oc.num_layers);
  auto& m = *impl_;
  m.config = config;
  m.decoder = &decoder;
  m.schedule = config.injection_schedule();
  torch::manual_seed(seed);
  const int connectors = !config.perception ? 0 : config.shared_connector ? 1 : config.levels;
  for (int i = 0; i < connectors; ++i) m.connector->push_back(torch::nn::Linear(encoder_hidden, oc.hidden_size));
  m.root.register_module("connector", m.connector);
  if (config.prompt_length > 0) {
    const auto d = oc.word_embed_proj_dim;
    torch::nn::Sequential prompt(torch::nn::Embedding(config.prompt_length, d));
    if (config.prompt_mlp) {
      prompt->push_back(torch::nn::Linear(d, d));
      prompt->push_back(torch::nn::Tanh());
      prompt->push_back(torch::nn::Linear(d, d));
    }
    m.prompt = prompt;
    auto prompt_module = std::make_shared<torch::nn::Module>();
    prompt_module->register_module("prefix_embedding", m.prompt);
    m.root.register_module("prompt_module", prompt_module);
  }
  const auto bottleneck = oc.hidden_size / config.adapters.reduction;
  auto make_adapters = [&](bool on, const std::string& name, std::vector<Adapter>& out) {
    if (!on) return;
    auto list = torch::nn::ModuleList();
    for (std::int64_t i = 0; i < oc.num_layers; ++i) {
      out.push_back(Adapter(oc.hidden_size, bottleneck, config.adapters.layer_norm));
      list->push_back(out.back());
    }
    m.root.register_module(name, list);
  };
  make_adapters(config.adapters.on_attention, "attention_adapters", m.attention_adapters);
  make_adapters(config.adapters.on_ffn, "ffn_adapters", m.ffn_adapters);
  m.root.to(decoder.device());
}

EpalmModel::~EpalmModel() = default;
EpalmModel::EpalmModel(EpalmModel&&) noexcept = default;

const EpalmConfig& EpalmModel::config() const { return impl_->config; }
const models::OptModel& EpalmModel::decoder() const { return *impl_->decoder; }

at::Tensor EpalmModel::select_features(const models::Encoder& encoder, const at::Tensor& inputs, int levels) {
  torch::NoGradGuard no_grad;  // not InferenceMode: connectors save the features for backward
  return encoder.final_norm(encoder.last_blocks_cls(inputs, levels));
}

namespace detail {

// Cross-entropy of `logits` [N, vocab] against `targets` [N] (-100 = no
// target) of a batch of `batch` samples that have a target, reduced as `loss`
// says. The reference's per-sample sum averaged over the batch is the total
// over those samples: a row without targets (a repeat that pads a rank's
// shard) weighs nothing, so N ranks equal one process on any dataset size.
LossTerms loss_terms_of(const at::Tensor& logits, const at::Tensor& targets, std::int64_t batch,
                        const LossSettings& loss) {
  const auto total = torch::nn::functional::cross_entropy(
      logits, targets, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
  const bool by_tokens = loss.reduction != LossReduction::kReference;
  return terms_of_total(total, by_tokens ? (targets != -100).sum().item<std::int64_t>() : 0, batch, loss);
}

LossTerms terms_of_total(const at::Tensor& total, std::int64_t targets, std::int64_t batch, const LossSettings& loss) {
  const auto normalizer = static_cast<double>(loss.reduction == LossReduction::kReference ? batch : targets);
  // No max(1, ...) here: a rank's all-padding micro-batch must add nothing to
  // the normalizer the ranks sum.
  return {total * loss.weight, normalizer};
}

// Samples of [B, T] targets that have at least one (every real sample does:
// its text ends in </s>).
std::int64_t rows_with_targets(const at::Tensor& targets) {
  return (targets != -100).any(1).sum().item<std::int64_t>();
}

}  // namespace detail

namespace {

at::Tensor reduce_loss(const at::Tensor& logits, const at::Tensor& targets, std::int64_t batch,
                       const LossSettings& loss) {
  const auto terms = detail::loss_terms_of(logits, targets, batch, loss);
  return terms.total / std::max(1.0, terms.normalizer);
}

}  // namespace

EpalmOutput EpalmModel::forward(const at::Tensor& features, const at::Tensor& input_ids,
                                const at::Tensor& attention_mask, const at::Tensor& labels,
                                const LossSettings& loss) const {
  EpalmOutput out;
  out.logits = impl_->run(features, input_ids, attention_mask, /*compute_logits=*/true).logits;
  if (labels.defined()) {
    const auto t = input_ids.size(1);
    auto text_logits = out.logits.slice(1, out.logits.size(1) - t).slice(1, 0, t - 1).to(torch::kFloat32);
    const auto targets = labels.to(out.logits.device()).slice(1, 1);
    out.loss = reduce_loss(text_logits.reshape({-1, text_logits.size(-1)}), targets.reshape({-1}),
                           detail::rows_with_targets(targets), loss);
  }
  return out;
}

at::Tensor EpalmModel::loss(const at::Tensor& features, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                            const at::Tensor& labels, const LossSettings& settings) const {
  const auto terms = loss_terms(features, input_ids, attention_mask, labels, settings);
  return terms.total / std::max(1.0, terms.normalizer);
}

LossTerms EpalmModel::loss_terms(const at::Tensor& features, const at::Tensor& input_ids,
                                 const at::Tensor& attention_mask, const at::Tensor& labels,
                                 const LossSettings& settings) const {
  const auto hidden =
      impl_->run(features, input_ids, attention_mask, /*compute_logits=*/false, /*training=*/true).last_hidden_state;
  const auto t = input_ids.size(1);
  const auto text = hidden.slice(1, hidden.size(1) - t).slice(1, 0, t - 1);
  const auto targets = labels.to(hidden.device()).slice(1, 1);
  const auto rows = (targets != -100).flatten().nonzero().squeeze(1);
  const auto kept = text.reshape({-1, text.size(-1)}).index_select(0, rows);
  const auto logits = impl_->decoder->lm_head(kept).to(torch::kFloat32);
  return detail::loss_terms_of(logits, targets.flatten().index_select(0, rows), detail::rows_with_targets(targets),
                               settings);
}

namespace {

// Generation without a cache: every step reruns the whole sequence (needed
// when the perceptual token attends to tokens that keep arriving). Each row
// remembers its sample, whose features it is given.
class RecomputingDecoder : public StepDecoder {
 public:
  using Forward = std::function<at::Tensor(const at::Tensor& samples, const at::Tensor& ids, const at::Tensor& mask)>;
  explicit RecomputingDecoder(Forward forward) : forward_(std::move(forward)) {}
  at::Tensor step(const at::Tensor& new_tokens, const at::Tensor& mask) override {
    if (!ids_.defined()) samples_ = torch::arange(new_tokens.size(0), new_tokens.options().dtype(torch::kLong));
    ids_ = ids_.defined() ? torch::cat({ids_, new_tokens}, 1) : new_tokens;
    return forward_(samples_, ids_, mask).select(1, -1);
  }
  void reorder(const at::Tensor& rows) override {
    ids_ = ids_.index_select(0, rows.to(ids_.device()));
    samples_ = samples_.index_select(0, rows.to(samples_.device()));
  }

 private:
  Forward forward_;
  at::Tensor ids_, samples_;
};

}  // namespace

std::unique_ptr<StepDecoder> EpalmModel::step_decoder(const at::Tensor& features) const {
  const auto& m = *impl_;
  torch::NoGradGuard no_grad;
  auto options = m.options(features, features.size(0));
  if (!m.config.reference_noncausal_token) return make_opt_step_decoder(*m.decoder, options);
  return std::make_unique<RecomputingDecoder>([this, features](const at::Tensor& samples, const at::Tensor& ids,
                                                                const at::Tensor& mask) {
    auto o = impl_->options(features.index_select(0, samples.to(features.device())), ids.size(0));
    o.attention_mask = mask;
    return impl_->decoder->forward(ids, o).logits;
  });
}

EpalmAdditions EpalmModel::additions(const at::Tensor& features) const {
  return impl_->additions(features);
}

std::vector<std::pair<std::string, at::Tensor>> EpalmModel::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : impl_->root.named_parameters()) out.emplace_back(item.key(), item.value());
  return out;
}

std::int64_t EpalmModel::trainable_parameter_count() const {
  std::int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

void EpalmModel::load_parameters(const std::vector<std::pair<std::string, at::Tensor>>& values,
                                 const std::string& where) {
  TensorShapes expected;
  TensorShapes given;
  std::map<std::string, at::Tensor> by_name;
  for (const auto& [name, p] : named_parameters()) expected[name] = p.sizes().vec();
  for (const auto& [name, t] : values) {
    given[name] = t.sizes().vec();
    by_name[name] = t;
  }
  match_state_dict(expected, given, {}).require(where, /*allow_unexpected=*/false);
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : named_parameters()) p.copy_(by_name.at(name));
}

}  // namespace epalm::models
