#include "epalm/core/models/packed_training.h"

#include <torch/torch.h>

#include <climits>
#include <map>
#include <memory>

#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"
#include "models/cross_entropy_rows.h"
#include "models/epalm_loss.h"

namespace epalm::models {

namespace {

using Rows = std::vector<std::int64_t>;

// Row indices local to a variant's block: `queries` attend causally to `keys`
// (the queries are the keys' last rows).
struct Group {
  Rows queries, keys;
};

Rows range(std::int64_t begin, std::int64_t count) {
  Rows r(static_cast<size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) r[static_cast<size_t>(i)] = begin + i;
  return r;
}

at::Tensor long_tensor(const Rows& values) { return torch::tensor(values, torch::kLong); }

// The micro-batch's real tokens and targets, read once on the host (every
// variant's layout and the refusal derive from them).
struct Text {
  std::int64_t batch = 0;
  std::vector<Rows> positions;   // per sample: its real positions, in order
  std::vector<Rows> predicting;  // per sample: which of its real tokens predict a target, in order
  std::int64_t tokens = 0;       // all samples' real tokens
  bool target_after_padding = false;  // a target is predicted from a padding position
};

// Text position j predicts labels[j + 1].
Text text_of(const at::Tensor& attention_mask, const at::Tensor& labels) {
  const auto mask = attention_mask.to(torch::kCPU, torch::kLong).contiguous();
  const auto label = labels.to(torch::kCPU, torch::kLong).contiguous();
  const auto m = mask.accessor<std::int64_t, 2>();
  const auto l = label.accessor<std::int64_t, 2>();
  Text t;
  t.batch = mask.size(0);
  for (std::int64_t b = 0; b < t.batch; ++b) {
    Rows positions, predicting;
    for (std::int64_t j = 0; j < mask.size(1); ++j) {
      const bool real = m[b][j] != 0;
      const bool predicts = j + 1 < mask.size(1) && l[b][j + 1] != -100;
      if (predicts && !real) t.target_after_padding = true;
      if (predicts && real) predicting.push_back(static_cast<std::int64_t>(positions.size()));
      if (real) positions.push_back(j);
    }
    t.tokens += static_cast<std::int64_t>(positions.size());
    t.positions.push_back(std::move(positions));
    t.predicting.push_back(std::move(predicting));
  }
  return t;
}

constexpr const char* kTargetAfterPadding = "a target is predicted from a padding position";

// One variant's rows on this micro-batch. Below its first injection layer
// (`shared`): [prompt | sample 0's text | sample 1's text | ...], the prompt
// once. From it on (`per_sample`): [token, prompt, text] per sample.
struct VariantLayout {
  int first_injection = INT_MAX;  // without perception the rows never change
  std::map<int, int> injections;  // decoder layer -> level
  std::int64_t shared_rows = 0, per_sample_rows = 0;
  std::vector<Group> shared, per_sample;
  at::Tensor transition;  // per_sample's rows from [shared rows, then one token row per sample]
  at::Tensor token_rows;  // [B]: each sample's token row in per_sample
  at::Tensor predictors;  // the final rows that predict the targets, in (sample, position) order
  // No prompt, no adapters: below the first injection its rows are the text
  // through the frozen layers alone, the same for every such variant. They
  // live in the pass's frozen-text block (computed once), not here.
  bool reads_frozen_text = false;

  bool per_sample_at(int layer) const { return layer >= first_injection; }
  std::int64_t rows_at(int layer) const { return per_sample_at(layer) ? per_sample_rows : shared_rows; }
};

VariantLayout layout_of(const EpalmConfig& config, const Text& text) {
  VariantLayout l;
  const std::int64_t prompt = config.prompt_length;
  for (const auto& [layer, level] : config.perception ? config.injection_schedule() : std::vector<std::pair<int, int>>{}) {
    l.injections[layer] = level;
    l.first_injection = std::min(l.first_injection, layer);
  }
  // Below the first injection: the prompt attends to itself; a sample's text to the prompt and itself.
  Rows text_start;
  l.shared_rows = prompt;
  if (prompt > 0) l.shared.push_back({range(0, prompt), range(0, prompt)});
  for (std::int64_t b = 0; b < text.batch; ++b) {
    const auto n = static_cast<std::int64_t>(text.positions[static_cast<size_t>(b)].size());
    text_start.push_back(l.shared_rows);
    if (n > 0) {
      auto keys = range(0, prompt);
      const auto own = range(l.shared_rows, n);
      keys.insert(keys.end(), own.begin(), own.end());
      l.shared.push_back({own, keys});
    }
    l.shared_rows += n;
  }
  // From the first injection on: one sequence per sample.
  Rows transition, token_rows, sample_start;
  for (std::int64_t b = 0; b < text.batch; ++b) {
    const auto n = static_cast<std::int64_t>(text.positions[static_cast<size_t>(b)].size());
    sample_start.push_back(l.per_sample_rows);
    token_rows.push_back(l.per_sample_rows);
    transition.push_back(l.shared_rows + b);
    for (std::int64_t i = 0; i < prompt; ++i) transition.push_back(i);
    for (std::int64_t k = 0; k < n; ++k) transition.push_back(text_start[static_cast<size_t>(b)] + k);
    const auto all = range(l.per_sample_rows, 1 + prompt + n);
    l.per_sample.push_back({all, all});
    l.per_sample_rows += 1 + prompt + n;
  }
  l.transition = long_tensor(transition);
  l.token_rows = long_tensor(token_rows);

  // The rows of the real tokens that predict a target (the batch was refused
  // if a padding position predicts one).
  const bool final_per_sample = l.first_injection != INT_MAX;
  Rows predictors;
  for (std::int64_t b = 0; b < text.batch; ++b) {
    for (const auto k : text.predicting[static_cast<size_t>(b)]) {
      predictors.push_back(final_per_sample ? sample_start[static_cast<size_t>(b)] + 1 + prompt + k
                                            : text_start[static_cast<size_t>(b)] + k);
    }
  }
  l.predictors = long_tensor(predictors);
  return l;
}

// The frozen-text block: every sample's text through the layers below
// `until` (the last first injection among the variants that read it), then
// nothing. Its rows are what those variants' own rows would be there, so
// their transitions index it as they would index their own.
VariantLayout frozen_text_layout(const Text& text, int until) {
  EpalmConfig text_only;
  text_only.perception = false;
  text_only.prompt_length = 0;
  auto l = layout_of(text_only, text);
  l.first_injection = until;
  l.per_sample_rows = 0;
  l.per_sample.clear();
  l.transition = l.token_rows = l.predictors = long_tensor({});
  return l;
}

// Every variant's groups side by side (each block offset by the rows before
// it) as one layer's RowAttention.
std::shared_ptr<const RowAttention> row_attention(const std::vector<VariantLayout>& layouts, int layer,
                                                  c10::ScalarType dtype, c10::Device device) {
  std::vector<Group> groups;
  std::int64_t offset = 0;
  for (const auto& l : layouts) {
    for (const auto& g : l.per_sample_at(layer) ? l.per_sample : l.shared) {
      Group shifted = g;
      for (auto* rows : {&shifted.queries, &shifted.keys}) {
        for (auto& r : *rows) r += offset;
      }
      groups.push_back(std::move(shifted));
    }
    offset += l.rows_at(layer);
  }
  const auto s = static_cast<std::int64_t>(groups.size());
  std::int64_t q = 1, k = 1;
  for (const auto& g : groups) {
    q = std::max<std::int64_t>(q, static_cast<std::int64_t>(g.queries.size()));
    k = std::max<std::int64_t>(k, static_cast<std::int64_t>(g.keys.size()));
  }
  auto query_rows = torch::zeros({s, q}, torch::kLong);
  auto key_rows = torch::zeros({s, k}, torch::kLong);
  auto bias = torch::full({s, 1, q, k}, masked_bias_value(dtype), torch::kFloat);
  auto output_index = torch::full({offset}, -1, torch::kLong);
  auto qr = query_rows.accessor<std::int64_t, 2>();
  auto kr = key_rows.accessor<std::int64_t, 2>();
  auto bi = bias.accessor<float, 4>();
  auto out = output_index.accessor<std::int64_t, 1>();
  for (std::int64_t g = 0; g < s; ++g) {
    const auto& group = groups[static_cast<size_t>(g)];
    const auto queries = static_cast<std::int64_t>(group.queries.size());
    const auto keys = static_cast<std::int64_t>(group.keys.size());
    // Padding slots read the group's own first row: in backward their
    // gradient (zero times the group's values) stays in the group, so a
    // variant whose values are not finite cannot reach another's rows.
    for (std::int64_t j = 0; j < k; ++j) kr[g][j] = group.keys[static_cast<size_t>(j < keys ? j : 0)];
    for (std::int64_t i = 0; i < q; ++i) {
      if (i >= queries) {
        qr[g][i] = group.queries.front();
        bi[g][0][i][0] = 0;  // a padding query attends to one key: finite, and its output is dropped
        continue;
      }
      const auto row = group.queries[static_cast<size_t>(i)];
      qr[g][i] = row;
      out[row] = g * q + i;
      for (std::int64_t j = 0; j <= keys - queries + i; ++j) bi[g][0][i][j] = 0;
    }
  }
  if ((output_index < 0).any().item<bool>()) throw Error("packed pass", "a row belongs to no attention group");
  auto a = std::make_shared<RowAttention>();
  a->query_rows = query_rows.to(device);
  a->key_rows = key_rows.to(device);
  a->bias = bias.to(device, dtype);
  a->output_index = output_index.to(device);
  return a;
}

// What the pass's hooks share (they outlive forward_rows' return: a sharded
// layer recomputes itself in backward).
struct Pass {
  std::vector<VariantLayout> layouts;  // the variants', then the frozen-text block's when some variant reads it
  std::vector<EpalmAdditions> additions;
  std::map<std::vector<bool>, std::shared_ptr<const RowAttention>> attention;  // by which variants are per sample
  c10::ScalarType dtype;
  c10::Device device = c10::kCPU;

  std::vector<std::int64_t> sizes_at(int layer) const {
    std::vector<std::int64_t> sizes;
    for (const auto& l : layouts) sizes.push_back(l.rows_at(layer));
    return sizes;
  }
  std::shared_ptr<const RowAttention> attention_at(int layer) {
    std::vector<bool> key;
    for (const auto& l : layouts) key.push_back(l.per_sample_at(layer));
    auto& a = attention[key];
    if (!a) a = row_attention(layouts, layer, dtype, device);
    return a;
  }
  // Each variant's adapter on its own rows (`pick` chooses which adapter).
  at::Tensor adapt(int layer, const at::Tensor& x, SublayerOutputHook EpalmAdditions::*pick) const {
    auto blocks = x.split_with_sizes(sizes_at(layer));
    for (size_t k = 0; k < additions.size(); ++k) {  // (the frozen-text block, last, has none)
      const auto& adapter = additions[k].*pick;
      if (adapter) blocks[k] = adapter(layer, blocks[k]);
    }
    return torch::cat(blocks);
  }
};

// The LM head's logits in chunks of at most this many rows (or one
// variant's): [rows, vocab] floats, 50 MiB at OPT's vocabulary.
constexpr std::int64_t kHeadChunkRows = 256;

// Each variant's loss total [K], already computed, connected to the final
// rows: backward hands the rows the gradient the head's backward computed,
// each variant's block scaled by the gradient its total receives.
struct HeadGradient : public torch::autograd::Function<HeadGradient> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& rows, const at::Tensor& totals,
                            const at::Tensor& gradient, const at::Tensor& variant_of_row) {
    ctx->saved_data["gradient"] = gradient;
    ctx->saved_data["variant_of_row"] = variant_of_row;
    (void)rows;
    return totals.clone();
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto gradient = ctx->saved_data["gradient"].toTensor();
    const auto scale = grad_outputs[0].index_select(0, ctx->saved_data["variant_of_row"].toTensor());
    return {gradient * scale.unsqueeze(1).to(gradient.scalar_type()), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

void check_variants(const std::vector<PackedVariant>& variants, const at::Tensor& input_ids,
                    const at::Tensor& attention_mask, const at::Tensor& labels) {
  if (variants.empty()) throw Error("packed pass", "no variant");
  for (const auto& v : variants) {
    const auto& c = v.model->config();
    if (&v.model->decoder() != &variants.front().model->decoder()) {
      throw Error("packed pass", "the variants do not share one decoder");
    }
    if (const auto why = packed_pass_refusal(c); !why.empty()) throw Error("packed pass", why);
    if (v.features.dim() != 3 || v.features.size(0) != input_ids.size(0) || v.features.size(1) != c.levels) {
      throw Error("packed pass", "features must be [batch " + std::to_string(input_ids.size(0)) + ", levels " +
                                     std::to_string(c.levels) + ", encoder_hidden], got " + c10::str(v.features.sizes()));
    }
  }
  if (attention_mask.sizes() != input_ids.sizes() || labels.sizes() != input_ids.sizes() || input_ids.dim() != 2) {
    throw Error("packed pass", "input_ids, attention_mask and labels must share one [batch, tokens] shape");
  }
}

}  // namespace

bool reads_frozen_text(const EpalmConfig& c) {
  return c.perception && c.prompt_length == 0 && !c.adapters.on_attention && !c.adapters.on_ffn;
}

std::string packed_pass_refusal(const EpalmConfig& config) {
  if (config.reference_dropout > 0) return "the reference's dropout draws its masks over padded rows";
  if (config.reference_noncausal_token) return "the reference's non-causal token attends to padding";
  return "";
}

std::string packed_pass_refusal(const at::Tensor& attention_mask, const at::Tensor& labels) {
  return text_of(attention_mask, labels).target_after_padding ? kTargetAfterPadding : "";
}

namespace {

// The packed pass over `text` (text_of the same mask and labels), checked.
std::vector<LossTerms> packed_pass(const std::vector<PackedVariant>& variants, const at::Tensor& input_ids,
                                   const at::Tensor& attention_mask, const at::Tensor& labels, const Text& text) {
  check_variants(variants, input_ids, attention_mask, labels);
  if (text.target_after_padding) throw Error("packed pass", kTargetAfterPadding);
  const auto& decoder = variants.front().model->decoder();
  const auto device = decoder.device();
  const auto targets = labels.slice(1, 1);

  auto pass = std::make_shared<Pass>();
  pass->dtype = decoder.dtype();
  pass->device = device;
  int frozen_until = -1;  // the frozen-text block's last first injection (-1: no variant reads it)
  for (const auto& v : variants) {
    pass->layouts.push_back(layout_of(v.model->config(), text));
    auto& l = pass->layouts.back();
    if (reads_frozen_text(v.model->config())) {
      l.reads_frozen_text = true;
      l.shared_rows = 0;
      l.shared.clear();
      frozen_until = std::max(frozen_until, l.first_injection);
    }
    pass->additions.push_back(v.model->additions(v.features));
  }
  if (frozen_until >= 0) pass->layouts.push_back(frozen_text_layout(text, frozen_until));
  const auto frozen_block = pass->layouts.size() - 1;
  for (auto& l : pass->layouts) {
    for (auto* t : {&l.transition, &l.token_rows, &l.predictors}) *t = t->to(device);
  }

  // The input rows: each variant's prompt (no position), then the real text tokens.
  const auto mask = attention_mask.to(device, torch::kLong);
  const auto real = mask.to(torch::kBool);
  const auto positions = (torch::cumsum(mask, 1) * mask - 1 + 2).masked_select(real);
  if (text.tokens > 0 && positions.max().item<std::int64_t>() >= decoder.config().max_positions + 2) {
    throw Error("packed pass", "sequence longer than max_position_embeddings " +
                                   std::to_string(decoder.config().max_positions));
  }
  const auto words = decoder.embed_tokens(input_ids.to(device).masked_select(real));
  std::vector<at::Tensor> word_rows, position_rows;
  for (size_t k = 0; k < pass->layouts.size(); ++k) {
    const bool variant = k < pass->additions.size();
    if (variant && pass->additions[k].prompt.defined()) {
      word_rows.push_back(pass->additions[k].prompt);
      position_rows.push_back(torch::full({pass->additions[k].prompt.size(0)}, -1, positions.options()));
    }
    if (variant && pass->layouts[k].reads_frozen_text) continue;
    word_rows.push_back(words);
    position_rows.push_back(positions);
  }
  const auto input_rows = decoder.embed_rows(torch::cat(word_rows), torch::cat(position_rows));

  RowsForwardOptions o;
  // Many small groups: one fused kernel call per layer instead of the eager
  // path's separate products, softmax and copies per layer.
  o.attention_kernel = AttentionKernel::kSdpa;
  o.before_layer = [pass, frozen_block](int layer, at::Tensor& rows, std::shared_ptr<const RowAttention>& attention) {
    // Blocks change at their first injection (tokens come in; the
    // frozen-text block is used up) and take new tokens at later ones.
    bool changes = false;
    for (const auto& l : pass->layouts) changes = changes || layer == l.first_injection || l.injections.count(layer) > 0;
    if (changes) {
      const auto blocks = rows.split_with_sizes(pass->sizes_at(layer - 1));
      auto next = blocks;
      for (size_t k = 0; k < blocks.size(); ++k) {
        const auto& l = pass->layouts[k];
        const auto it = l.injections.find(layer);
        if (it == l.injections.end()) {
          if (layer == l.first_injection) next[k] = blocks[k].slice(0, 0, 0);  // the frozen text, read by now
          continue;
        }
        const auto tokens = pass->additions[k].level_tokens[static_cast<size_t>(it->second)].select(1, 0);
        const auto& below = l.reads_frozen_text ? blocks[frozen_block] : blocks[k];
        next[k] = layer == l.first_injection ? torch::cat({below, tokens}).index_select(0, l.transition)
                                             : blocks[k].index_copy(0, l.token_rows, tokens);
      }
      rows = torch::cat(next);
    }
    attention = pass->attention_at(layer);
  };
  bool attention_adapters = false, ffn_adapters = false;
  for (const auto& a : pass->additions) {
    attention_adapters = attention_adapters || static_cast<bool>(a.attention_adapter);
    ffn_adapters = ffn_adapters || static_cast<bool>(a.ffn_adapter);
  }
  if (attention_adapters) {
    o.attention_output_hook = [pass](int layer, const at::Tensor& x) {
      return pass->adapt(layer, x, &EpalmAdditions::attention_adapter);
    };
  }
  if (ffn_adapters) {
    o.ffn_output_hook = [pass](int layer, const at::Tensor& x) { return pass->adapt(layer, x, &EpalmAdditions::ffn_adapter); };
  }
  if (attention_adapters || ffn_adapters) {
    o.sublayer_hook_parameters = [pass](int layer) {
      std::vector<at::Tensor> out;
      for (const auto& a : pass->additions) {
        if (!a.adapter_parameters) continue;
        for (auto& p : a.adapter_parameters(layer)) out.push_back(p);
      }
      return out;
    };
  }

  const auto target_rows = targets.to(device);
  const auto target_values = target_rows.masked_select(target_rows != -100);
  // Counted from the host pass over the labels (no device read per variant).
  std::int64_t samples = 0;
  for (const auto& p : text.predicting) samples += p.empty() ? 0 : 1;
  const auto final_hidden = decoder.forward_rows(input_rows, o);
  const auto sizes = pass->sizes_at(static_cast<int>(decoder.config().num_layers) - 1);
  // The LM head and loss of the variants [first, last) over `hidden`'s
  // blocks: their predicting rows through one head product (the head's
  // 50k-row matrix read once per chunk, not per variant).
  auto head_terms = [&](const at::Tensor& hidden, size_t first, size_t last, std::vector<LossTerms>& out) {
    const auto blocks = hidden.split_with_sizes(sizes);
    std::vector<at::Tensor> predicting;
    for (size_t k = first; k < last; ++k) predicting.push_back(blocks[k].index_select(0, pass->layouts[k].predictors));
    const auto n = static_cast<std::int64_t>(last - first);
    // The logits' buffer becomes their gradient in place (cross_entropy_rows).
    const auto losses = detail::cross_entropy_rows(decoder.lm_head(torch::cat(predicting)).to(torch::kFloat32),
                                                   target_values.repeat({n}))
                            .split_with_sizes(std::vector<std::int64_t>(static_cast<size_t>(n), target_values.size(0)));
    for (size_t k = first; k < last; ++k) {
      out.push_back(detail::terms_of_total(losses[k - first].sum(), target_values.size(0), samples, variants[k].loss));
    }
  };
  std::vector<LossTerms> out;
  if (!(torch::GradMode::is_enabled() && final_hidden.requires_grad())) {
    head_terms(final_hidden, 0, variants.size(), out);
    return out;
  }
  // Training: the head's backward runs now, a chunk of variants at a time,
  // into the final rows' gradient, so the [rows, vocab] logits of all
  // variants are never held at once; the decoder's backward runs when the
  // caller's does (HeadGradient).
  const auto detached = final_hidden.detach().requires_grad_(true);
  const std::int64_t chunk_rows = std::max<std::int64_t>(kHeadChunkRows, target_values.size(0));
  for (size_t first = 0; first < variants.size();) {
    size_t last = first + 1;
    while (last < variants.size() && static_cast<std::int64_t>(last + 1 - first) * target_values.size(0) <= chunk_rows) ++last;
    std::vector<LossTerms> chunk;
    head_terms(detached, first, last, chunk);
    at::Tensor summed;
    for (const auto& t : chunk) summed = summed.defined() ? summed + t.total : t.total;
    summed.backward();
    for (auto& t : chunk) out.push_back({t.total.detach(), t.normalizer});
    first = last;
  }
  std::vector<at::Tensor> totals;
  std::vector<std::int64_t> variant_of_row;
  for (size_t k = 0; k < variants.size(); ++k) {
    totals.push_back(out[k].total.reshape({1}));
    variant_of_row.insert(variant_of_row.end(), static_cast<size_t>(sizes[k]), static_cast<std::int64_t>(k));
  }
  const auto gradient = detached.grad().defined() ? detached.grad() : torch::zeros_like(detached);
  const auto connected = HeadGradient::apply(final_hidden, torch::cat(totals), gradient,
                                             long_tensor(variant_of_row).to(device));
  for (size_t k = 0; k < variants.size(); ++k) out[k].total = connected[static_cast<std::int64_t>(k)];
  return out;
}

}  // namespace

std::vector<LossTerms> packed_loss_terms(const std::vector<PackedVariant>& variants, const at::Tensor& input_ids,
                                         const at::Tensor& attention_mask, const at::Tensor& labels) {
  return packed_pass(variants, input_ids, attention_mask, labels, text_of(attention_mask, labels));
}

std::vector<LossTerms> training_loss_terms(const std::vector<PackedVariant>& variants, const at::Tensor& input_ids,
                                           const at::Tensor& attention_mask, const at::Tensor& labels) {
  const auto text = text_of(attention_mask, labels);
  const bool batch_packs = !text.target_after_padding;
  std::vector<PackedVariant> packed;
  std::vector<size_t> packed_index;
  for (size_t k = 0; k < variants.size(); ++k) {
    if (batch_packs && packed_pass_refusal(variants[k].model->config()).empty()) {
      packed.push_back(variants[k]);
      packed_index.push_back(k);
    }
  }
  std::vector<LossTerms> out(variants.size());
  if (!packed.empty()) {
    auto terms = packed_pass(packed, input_ids, attention_mask, labels, text);
    for (size_t i = 0; i < packed.size(); ++i) out[packed_index[i]] = std::move(terms[i]);
  }
  for (size_t k = 0; k < variants.size(); ++k) {
    if (std::find(packed_index.begin(), packed_index.end(), k) != packed_index.end()) continue;
    const auto& v = variants[k];
    out[k] = v.model->loss_terms(v.features, input_ids, attention_mask, labels, v.loss);
  }
  return out;
}

}  // namespace epalm::models
