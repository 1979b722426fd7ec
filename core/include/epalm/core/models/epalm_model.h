// eP-ALM (Shukor et al., ICCV 2023): a frozen OPT decoder augmented with the
// [CLS] tokens of a frozen encoder's last blocks, each projected by a linear
// connector and injected into a range of decoder layers, plus trainable soft
// prompt tokens and optional bottleneck adapters. Semantics follow the
// official code (docs/epalm.md); where it is buggy the
// correct behaviour is the default and the reference's is a flag.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "epalm/core/models/generation.h"
#include "epalm/core/models/layer_hooks.h"

namespace epalm::models {

class OptModel;
class Encoder;

struct AdapterSettings {
  bool on_attention = false;  // attn_out + adapter(attn_out), every decoder layer
  bool on_ffn = false;        // fc2_out + adapter(fc2_out), every decoder layer
  int reduction = 4;          // bottleneck = hidden / reduction
  bool layer_norm = false;    // a LayerNorm before the bottleneck (MAGMA's add_layernorm)
};

// The --adapters setting: "none", "ffn", "attention" or "both", with the
// bottleneck's reduction; anything else is a UsageError naming --adapters.
AdapterSettings adapter_settings(const std::string& where, int reduction = AdapterSettings{}.reduction);

struct EpalmConfig {
  // false: the no-perception baseline the paper compares against: no
  // connector and no injected token, only the soft prompt (and adapters)
  // over the frozen language model; the media are ignored.
  bool perception = true;
  int levels = 6;                 // the encoder's last `levels` blocks each give one [CLS] token
  bool shared_connector = false;  // one linear for every level, else one per level
  int start_layer = 19;           // decoder layers [start_layer, end_layer) receive tokens
  int end_layer = 31;
  int text_step = 1;              // only layers with index % text_step == 0 inject
  int prompt_length = 10;         // soft prompt tokens; 0 = none
  bool prompt_mlp = true;         // reparameterise the prompt: Embedding -> Linear -> Tanh -> Linear
  AdapterSettings adapters;
  // The reference lets the perceptual token attend to every token, future
  // and padding included, which leaks one future token into layer end_layer
  // during teacher forcing (docs/epalm.md, Decisions). Default: it attends to
  // itself only, which also makes KV-cached generation exact.
  bool reference_noncausal_token = false;
  // The reference trains with the frozen OPT in train mode (docs/epalm.md,
  // Decisions): dropout p = 0.1 on the embeddings (prompt included), after the
  // attention output projection and after fc2. Default 0: frozen models run
  // deterministically; set 0.1 to reproduce the reference. Training losses
  // only (loss_terms); forward() and generation never drop.
  double reference_dropout = 0.0;

  // Throws UsageError for settings the encoder/decoder cannot satisfy.
  void validate(std::int64_t encoder_blocks, std::int64_t decoder_layers) const;
  // (decoder layer, level) pairs in layer order, per the reference mapping:
  // step = 1 if levels == 1 else max(1, (end-start) / levels), level = min((layer-start)/step, levels-1).
  std::vector<std::pair<int, int>> injection_schedule() const;
};

struct TrainableCount {
  std::int64_t connector = 0;
  std::int64_t prompt = 0;
  std::int64_t adapters = 0;
  std::int64_t total() const { return connector + prompt + adapters; }
};

// Trainable parameters for dimensions alone (no weights needed): encoder
// width, decoder hidden size, word-embedding width and depth.
TrainableCount count_trainable(const EpalmConfig& config, std::int64_t encoder_hidden, std::int64_t decoder_hidden,
                               std::int64_t word_embed_dim, std::int64_t decoder_layers);

struct EpalmOutput {
  at::Tensor logits;  // [B, 1 + P + T, vocab]: perceptual token, prompt, text
  at::Tensor loss;    // defined when labels were given
};

enum class LossReduction {
  kReference,  // per-sample token sum, mean over the batch (the reference), times loss_weight
  kTokenMean,  // mean over every target token, times loss_weight
};

// A loss as its two parts: loss = total / normalizer. Data-parallel ranks sum
// both before dividing, so N ranks equal one rank at the same global batch.
struct LossTerms {
  at::Tensor total;       // summed per-token cross-entropy times the loss weight
  double normalizer = 1;  // the batch size (kReference) or the target tokens (kTokenMean)
};

struct LossSettings {
  LossReduction reduction = LossReduction::kReference;
  double weight = 0.1;  // the reference's lm_loss_weight
};

// What a variant adds to the frozen decoder on one micro-batch, for passes
// that lay out the rows themselves (packed_training.h).
struct EpalmAdditions {
  at::Tensor prompt;                           // [P, word_embed_proj_dim], decoder dtype; undefined without a prompt
  std::vector<at::Tensor> level_tokens;        // per level [B, 1, hidden]; empty without perception
  std::vector<std::pair<int, int>> schedule;   // (decoder layer, level); empty without perception
  SublayerOutputHook attention_adapter;        // (layer, x) -> x + adapter(x); empty without adapters there
  SublayerOutputHook ffn_adapter;
  std::function<std::vector<at::Tensor>(int layer)> adapter_parameters;  // empty without adapters
};

class EpalmModel {
 public:
  // Trainables initialised as the reference does (PyTorch defaults; adapters
  // N(0, 1e-3) clamped to +-2e-3), from `seed`, in fp32 on the decoder's device.
  EpalmModel(EpalmConfig config, const models::OptModel& decoder, std::int64_t encoder_hidden,
             std::int64_t encoder_blocks, std::uint64_t seed);
  ~EpalmModel();
  EpalmModel(EpalmModel&&) noexcept;

  const EpalmConfig& config() const;
  const models::OptModel& decoder() const;

  // [B, levels, encoder_hidden]: token 0 of final_norm(block i) for the
  // configured blocks, shallow to deep, without gradient (the encoder is frozen).
  static at::Tensor select_features(const models::Encoder& encoder, const at::Tensor& inputs, int levels);

  // `features` from select_features (or the feature cache); input_ids /
  // attention_mask [B, T]; labels [B, T] with -100 where no loss (undefined:
  // no loss). Text token k+1 is predicted from text position k.
  EpalmOutput forward(const at::Tensor& features, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                      const at::Tensor& labels = {}, const LossSettings& loss = {}) const;
  // The loss alone, as training needs it: forward()'s loss, with the LM head
  // applied only to the positions that have a target (not to the perceptual
  // token, the prompt, padding or -100 labels).
  at::Tensor loss(const at::Tensor& features, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                  const at::Tensor& labels, const LossSettings& loss = {}) const;
  LossTerms loss_terms(const at::Tensor& features, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                       const at::Tensor& labels, const LossSettings& loss = {}) const;

  // The prompt, the connectors' tokens of `features` and the adapters.
  EpalmAdditions additions(const at::Tensor& features) const;

  // Generation with the features as perceptual input (KV-cached unless the
  // reference's non-causal token makes every step depend on every token).
  std::unique_ptr<StepDecoder> step_decoder(const at::Tensor& features) const;

  // Trainable tensors under the reference's checkpoint names
  // (connector.{i}.weight, prompt_module.prefix_embedding.{0,1,3}.*, adapters...).
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  std::int64_t trainable_parameter_count() const;
  // Replaces every trainable's value (checkpoint resume, parity tests).
  // Throws epalm::Error(where, ...) listing missing, unexpected or
  // mis-shaped names; nothing changes then.
  void load_parameters(const std::vector<std::pair<std::string, at::Tensor>>& values, const std::string& where);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace epalm::models
