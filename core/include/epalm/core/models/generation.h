// Greedy and beam-search decoding, step for step what Hugging Face
// transformers 4.57 `generate()` does (docs/models.md, Generation): the same
// candidates, finished-hypothesis rules, length penalty, early stopping and
// padding of finished rows, so the same model yields the same tokens.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "epalm/core/models/layer_hooks.h"

namespace epalm::models {

class OptModel;
struct OptForwardOptions;

enum class EarlyStopping {
  kHeuristic,  // HF early_stopping=False: stop when no running beam can beat the worst finished one
  kWhenFull,   // HF True: stop as soon as num_beams hypotheses are finished
  kNever,      // HF "never": the canonical beam search bound
};

struct GenerationSettings {
  int max_new_tokens = 20;
  int num_beams = 1;  // 1: greedy
  double length_penalty = 1.0;  // exponent on the generated length; 0 is neutral
  EarlyStopping early_stopping = EarlyStopping::kHeuristic;
  std::vector<std::int64_t> eos_token_ids = {2};
  std::int64_t pad_token_id = 1;

  void validate() const;  // throws UsageError
};

// A decoder as generation drives it: the first call gets the left-padded
// prompt, one row per sample; later calls one new token per row; each returns
// the last position's logits [rows, vocab]. Between calls `reorder` says which
// rows the next call continues: beam search repeats each sample's row for its
// beams after the first call, follows the beams' parents, and drops the rows
// of samples that are done. Implementations keep their own cache.
class StepDecoder {
 public:
  virtual ~StepDecoder() = default;
  virtual at::Tensor step(const at::Tensor& new_tokens, const at::Tensor& attention_mask) = 0;
  // Keeps cache rows `rows` (indices into the last call's rows) in that order.
  virtual void reorder(const at::Tensor& rows) = 0;
};

// OPT with a KV cache. Optional per-sample prefix embeddings (soft prompts)
// and a layer hook are repeated for every beam of their sample.
std::unique_ptr<StepDecoder> make_opt_step_decoder(const models::OptModel& model, at::Tensor prefix_embeds = {},
                                                   models::LayerHook hook = {});
// The same with every forward option given (eP-ALM: its prompt, hook and
// injected tokens); the cache, mask and last-position logits are the step's.
std::unique_ptr<StepDecoder> make_opt_step_decoder(const models::OptModel& model,
                                                   const models::OptForwardOptions& options);

// input_ids / attention_mask: [B, T], left-padded. Returns [B, T + n]: the
// prompt, then the generated tokens, finished rows filled with pad_token_id.
at::Tensor generate(StepDecoder& decoder, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const GenerationSettings& settings);

}  // namespace epalm::models
