// The longest chain of roundings to each output of our models' forward
// passes (tests/support/tolerance.h: forward_bound), from their configs: the
// parity tests and the `epalm model run` tests compare ours with the Python
// peers' outputs within 2 gamma(depth) times the output's scale.
#pragma once

#include <cstdint>

#include "../support/tolerance.h"
#include "epalm/core/models/ast.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"

namespace epalm::testing {

// OPT's hidden state `index` (the embeddings: a lookup plus positions,
// projected in when word_embed_proj_dim differs; then one block each; the
// last also through the final LayerNorm and the projection out) or, for
// index -1, its logits (a sum over word_embed_proj_dim on top of the last).
inline double opt_depth(const models::OptConfig& c, std::int64_t tokens, std::int64_t index, bool fused = false) {
  const bool projected = c.word_embed_proj_dim != c.hidden_size;
  const double embedding = 1 + (projected ? static_cast<double>(c.word_embed_proj_dim) : 0.0);
  const double block = block_depth(c.hidden_size, c.ffn_dim, tokens, c.hidden_size / c.num_heads, fused);
  const double last = embedding + static_cast<double>(c.num_layers) * block + layer_norm_depth(c.hidden_size) +
                      (projected ? static_cast<double>(c.hidden_size) : 0.0);
  if (index < 0) return last + static_cast<double>(c.word_embed_proj_dim);
  return index == c.num_layers ? last : embedding + static_cast<double>(index) * block;
}

// ViT's hidden state `index` or, for -1, last_hidden_state (after the final
// LayerNorm): the patch embedding (a sum over channels * patch^2, the bias
// and the position; `extra` more roundings for interpolated positions), one
// block per hidden state.
inline double vit_depth(const models::VitConfig& c, std::int64_t tokens, std::int64_t index, bool fused = false,
                        double extra = 0) {
  const double embedding = static_cast<double>(c.num_channels * c.patch_size * c.patch_size + 2) + extra;
  const double block = block_depth(c.hidden_size, c.intermediate_size, tokens, c.hidden_size / c.num_heads, fused);
  if (index < 0) return embedding + static_cast<double>(c.num_layers) * block + layer_norm_depth(c.hidden_size);
  return embedding + static_cast<double>(index) * block;
}

// TimeSformer's: the tubelet embedding (channels * patch^2, the bias, space
// and time embeddings), then per block up to two attentions (divided: time,
// then space with its extra projection; each over at most every token) and
// the feed-forward; -1: last_hidden_state, after the final LayerNorm.
inline double timesformer_depth(const models::TimesformerConfig& c, std::int64_t tokens, std::int64_t index,
                                bool fused = false) {
  const double embedding = static_cast<double>(c.num_channels * c.patch_size * c.patch_size + 3);
  const double block = 2 * attention_depth(c.hidden_size, tokens, c.hidden_size / c.num_heads, fused) +
                       static_cast<double>(c.hidden_size) + mlp_depth(c.hidden_size, c.intermediate_size);
  if (index < 0) return embedding + static_cast<double>(c.num_layers) * block + layer_norm_depth(c.hidden_size);
  return embedding + static_cast<double>(index) * block;
}

// AST's: the patch embedding (patch^2, the bias and the position), one block
// per hidden state; -1: last_hidden_state, after the final LayerNorm (the
// pooled output, the mean of two of its tokens, adds 2).
inline double ast_depth(const models::AstConfig& c, std::int64_t tokens, std::int64_t index, bool fused = false) {
  const double embedding = static_cast<double>(c.patch_size * c.patch_size + 2);
  const double block = block_depth(c.hidden_size, c.intermediate_size, tokens, c.hidden_size / c.num_heads, fused);
  if (index < 0) return embedding + static_cast<double>(c.num_layers) * block + layer_norm_depth(c.hidden_size);
  return embedding + static_cast<double>(index) * block;
}

// The bf16 roundings along the same chains (tolerance.h: mixed_gamma; every
// op output rounded once to bf16, a convolution's or linear layer's product
// and bias counted apart), cumulative over `index` as the *_depth functions.
// TimeSformer: the tubelet convolution (2), the space and time sums. A
// divided block: the temporal attention (kAttentionBf16Roundings) with
// temporal_dense (2) before its residual sum; the spatial attention without
// its residual sum (9), the mean of the [CLS] rows over frames and the
// merging sum; the feed-forward. Joint and space-only blocks are plain.
inline double timesformer_bf16_roundings(const models::TimesformerConfig& c, std::int64_t index) {
  const double embedding = c.has_time_embeddings() ? 4 : 3;
  const double block = c.divided() ? (kAttentionBf16Roundings + 2) + (kAttentionBf16Roundings - 1 + 2) +
                                         kMlpBf16Roundings
                                   : kBlockBf16Roundings;
  if (index < 0) return embedding + static_cast<double>(c.num_layers) * block + 1;
  return embedding + static_cast<double>(index) * block;
}

// AST: the patch convolution (2) and the position sum; a pre-LN block each;
// the final LayerNorm for -1.
inline double ast_bf16_roundings(const models::AstConfig& c, std::int64_t index) {
  if (index < 0) return 3 + static_cast<double>(c.num_layers) * kBlockBf16Roundings + 1;
  return 3 + static_cast<double>(index) * kBlockBf16Roundings;
}

// OPT's bf16 roundings; against an fp32 run on the unrounded weights
// (`rounded_weights`): each weight's rounding to bf16 is one more relative
// rounding of the terms of the sum it enters, as is each fp32 input cast to
// bf16 (an injected token, a soft prompt). The embeddings: the lookup's (or
// prompt's) rounding and the position sum (projected in: the projection, 2,
// and its weights); a block: the pre-LN block's roundings with the mask's
// sum, plus its four weight matrices (q|k|v, out, fc1, fc2); for -1 the
// logits: the final LayerNorm (and the projection out), the tied
// projection (product and weights).
inline double opt_bf16_roundings(const models::OptConfig& c, std::int64_t index, bool rounded_weights) {
  const double w = rounded_weights ? 1 : 0;
  const bool projected = c.word_embed_proj_dim != c.hidden_size;
  const double embedding = 1 + w + (projected ? 2 + w : 0);
  const double block = kBlockBf16Roundings + 1 + 4 * w;
  if (index >= 0) return embedding + static_cast<double>(index) * block;
  return embedding + static_cast<double>(c.num_layers) * block + 1 + (projected ? 2 + w : 0) + 1 + w;
}

}  // namespace epalm::testing
