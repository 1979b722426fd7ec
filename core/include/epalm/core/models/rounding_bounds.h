// How far two correct computations of our models' outputs can lie apart in
// floating point: the unit roundoffs, Higham's gamma_n, and the longest chain
// of roundings to each output of the OPT, ViT, TimeSformer and AST forward
// passes, from their configs. A sum of n terms computed in any order lies
// within gamma_n(n) * sum|terms| of the exact sum (Higham, Accuracy and
// Stability of Numerical Algorithms, 2nd ed., Lemma 3.1 and eq. 3.5), so two
// orders of it differ by at most 2 gamma_n(n) * sum|terms|. The benchmarks
// judge their agreement with the Python peers by these bounds; the tests
// (tests/support/tolerance.h) build theirs on them too.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>

#include "epalm/core/models/ast.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"

namespace epalm::models {

// Unit roundoff (half the machine epsilon): the relative error of one
// correctly rounded operation.
constexpr double kUnitFp64 = 0x1p-53;
constexpr double kUnitFp32 = 0x1p-24;
constexpr double kUnitFp16 = 0x1p-11;
constexpr double kUnitBf16 = 0x1p-8;

inline double unit_roundoff(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kDouble: return kUnitFp64;
    case c10::kFloat: return kUnitFp32;
    case c10::kHalf: return kUnitFp16;
    case c10::kBFloat16: return kUnitBf16;
    default: return 0;  // integers: exact
  }
}

// gamma_n(n) = n u / (1 - n u): n roundings in a row, relative.
inline double gamma_n(double n, double u = kUnitFp32) { return n * u / (1 - n * u); }

// Two evaluations of sums of at most n terms, in different orders, differ by
// at most this factor times sum|terms|.
inline double two_orders(double n, double u = kUnitFp32) { return 2 * gamma_n(n, u); }

// Rounding in bf16 as LibTorch's CPU kernels compute it: every reduction
// accumulated in fp32 (u_fp32 per term, `depth`), each op's output rounded
// once to bf16 (u_bf16 each, `roundings`); relative to the output's scale.
inline double mixed_gamma(double depth, double roundings) {
  return (1 + gamma_n(depth, kUnitFp32)) * (1 + gamma_n(roundings, kUnitBf16)) - 1;
}

// LayerNorm over `width`: the mean and the variance (a sum each), the
// reciprocal square root, the scale and shift.
inline double layer_norm_depth(std::int64_t width) { return static_cast<double>(2 * width + 3); }

// A pre- or post-LN self-attention sub-block: LayerNorm, the Q/K/V
// projection (a sum over `hidden`), the scores (over `head_dim`), the
// softmax and the weighted values (each over `keys`), the output projection
// (over `hidden`), the residual sum. A fused kernel's online softmax
// rescales its running sums once per key: `fused` adds `keys`.
inline double attention_depth(std::int64_t hidden, std::int64_t keys, std::int64_t head_dim, bool fused = false) {
  return layer_norm_depth(hidden) + static_cast<double>(2 * hidden + head_dim + 2 * keys + 1) +
         (fused ? static_cast<double>(keys) : 0.0);
}

// The feed-forward sub-block: LayerNorm, fc1 (over `hidden`), the
// activation, fc2 (over `intermediate`), the residual sum.
inline double mlp_depth(std::int64_t hidden, std::int64_t intermediate) {
  return layer_norm_depth(hidden) + static_cast<double>(hidden + 1 + intermediate + 1);
}

// One standard transformer block (attention then feed-forward).
inline double block_depth(std::int64_t hidden, std::int64_t intermediate, std::int64_t keys, std::int64_t head_dim,
                          bool fused = false) {
  return attention_depth(hidden, keys, head_dim, fused) + mlp_depth(hidden, intermediate);
}

// The bf16 roundings of the same sub-blocks in eager order (one per op
// output; a linear layer's product and bias counted apart): attention's
// LayerNorm, projection (2), scores, scaling, softmax, weighted values,
// output projection (2), residual sum; the feed-forward's LayerNorm, fc1
// (2), activation, fc2 (2), residual sum.
constexpr double kAttentionBf16Roundings = 10;
constexpr double kMlpBf16Roundings = 7;
constexpr double kBlockBf16Roundings = kAttentionBf16Roundings + kMlpBf16Roundings;

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

// eP-ALM's logits: OPT's chain, plus the prompt MLP (two products over the
// word width), a connector (over the encoder's width) and in every layer two
// adapters of `adapter_bottleneck` (LayerNorm, down and up; counted whether
// or not the run has them: an upper bound).
inline double epalm_logits_depth(const OptConfig& o, std::int64_t tokens, std::int64_t encoder_hidden,
                                 std::int64_t adapter_bottleneck, bool fused = false) {
  const double adapter = layer_norm_depth(o.hidden_size) + static_cast<double>(o.hidden_size + adapter_bottleneck + 1);
  return opt_depth(o, tokens, -1, fused) + static_cast<double>(2 * o.word_embed_proj_dim + encoder_hidden) +
         static_cast<double>(o.num_layers) * 2 * adapter;
}

// Its loss: log-softmax over the vocabulary and the sum over `rows` target
// positions on top of the logits. `fused`: attention by a fused kernel (the
// packed training pass's SDPA).
inline double epalm_loss_depth(const OptConfig& o, std::int64_t rows, std::int64_t tokens,
                               std::int64_t encoder_hidden, std::int64_t adapter_bottleneck, bool fused = false) {
  return epalm_logits_depth(o, tokens, encoder_hidden, adapter_bottleneck, fused) +
         static_cast<double>(o.vocab_size + rows);
}

}  // namespace epalm::models
