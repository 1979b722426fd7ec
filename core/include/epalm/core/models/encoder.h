// What every frozen unimodal encoder (ViT, TimeSformer, AST) offers eP-ALM:
// its width and depth, a forward pass returning every block's output, and its
// final LayerNorm, which eP-ALM applies to each block output it reads (the
// reference takes token 0 of norm(block_i) for the last blocks).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

#include "epalm/core/models/layer_hooks.h"

namespace epalm::models {

struct EncoderOutput {
  at::Tensor last_hidden_state;  // after the final LayerNorm, [B, tokens, hidden]
  // HF convention: the embeddings, then every block's output (before the
  // final LayerNorm): num_layers + 1 tensors. Empty unless asked for.
  std::vector<at::Tensor> hidden_states;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual std::int64_t hidden_size() const = 0;
  virtual std::int64_t num_layers() const = 0;
  virtual c10::ScalarType dtype() const = 0;
  virtual c10::Device device() const = 0;
  // `inputs`: the model's preprocessed input (pixel values, video frames,
  // filterbank features); `hook` runs before each block.
  virtual EncoderOutput forward(const at::Tensor& inputs, bool output_hidden_states = false,
                                const LayerHook& hook = {}) const = 0;
  virtual at::Tensor final_norm(const at::Tensor& hidden) const = 0;
  // Token 0 of the last `levels` blocks' outputs (before the final
  // LayerNorm), shallow to deep: [B, levels, hidden], what eP-ALM reads.
  // Encoders may skip work no such token depends on; the default runs
  // forward() keeping every hidden state.
  virtual at::Tensor last_blocks_cls(const at::Tensor& inputs, int levels) const;
  // A short stable digest of the weights (the feature cache's key).
  const std::string& fingerprint() const { return fingerprint_; }

 protected:
  std::string fingerprint_;  // set by each encoder's constructor
};

// Token 0 of the last `levels` of `blocks` block outputs in out.hidden_states
// (embeddings first), stacked [B, levels, hidden]. Throws UsageError when
// levels is not in [1, blocks].
at::Tensor cls_of_hidden_states(const EncoderOutput& out, int levels, std::int64_t blocks);

}  // namespace epalm::models
