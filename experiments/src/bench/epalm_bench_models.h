// What the eP-ALM benchmarks share: random OPT and ViT weights from presets,
// the paper's layout scaled to the decoder, the model with its initial
// trainables, and the same written as Hugging Face checkpoints for the peers.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "epalm/core/models/epalm_model.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/vit.h"
#include "epalm/experiments/bench/bench.h"

namespace epalm::experiments {

// The paper's ePALM layout scaled to the decoder's depth: six per-level
// connectors into the last ~40% of the layers (19-31 of OPT-2.7B's 32), a
// 10-token soft prompt with its MLP.
models::EpalmConfig paper_layout(std::int64_t decoder_layers);

// A layout as the peers' epalm_torch.py reads it (levels, shared, start, end, prompt, mlp).
nlohmann::json peer_variant(const models::EpalmConfig& layout);

// Matrix-multiply FLOPs (2·m·n·k) of the ViT forward to the [CLS] of the
// last levels for `batch` images: the peer runs every block on every token;
// ours runs the last block's keys and values for every token and the rest
// for [CLS] alone.
struct EncoderWork {
  double ours = 0, peer = 0;
};
EncoderWork vit_cls_flops(const models::VitConfig& v, double batch);

// Refuses what an eP-ALM training benchmark (`name`) cannot take: generated
// tokens, and bf16/fp16 frozen weights on the CPU.
void check_training_bench(const BenchSettings& s, const std::string& name);

// Matrix-multiply FLOPs (2·m·n·k) of eP-ALM's decoder in one training step
// on `batch` rows of `tokens` positions: the forward, the backward for the
// inputs' gradients (every layer: the soft prompt enters at the embeddings;
// attention's two products twice), and the LM head (forward and input
// gradient) on `head_rows` positions.
double decoder_train_flops(const models::OptConfig& o, double batch, double tokens, double head_rows);
// The same as the packed pass runs it (models/packed_training.h): each
// sample's `real_tokens` only, the soft prompt once below the first injection
// layer, [token, prompt, text] per sample from there on.
// `text_below_shared`: without the layers below the first injection (a
// variant that reads the fused job's frozen-text block).
double packed_decoder_train_flops(const models::OptConfig& o, const models::EpalmConfig& c,
                                  const std::vector<std::int64_t>& real_tokens, double head_rows,
                                  bool text_below_shared = false);
// A fused job's variants in one packed pass: each variant's, with the text
// below the first injection once for all that have no prompt or adapters.
double fused_decoder_train_flops(const models::OptConfig& o, const std::vector<models::EpalmConfig>& variants,
                                 const std::vector<std::int64_t>& real_tokens, double head_rows);
// Each row's real tokens (attention_mask [B, T] summed per row).
std::vector<std::int64_t> real_tokens_per_row(const at::Tensor& attention_mask);

// Not movable: the model points at the decoder.
struct EpalmBenchModels {
  models::OptModel decoder;
  models::VitConfig vit_config;
  std::map<std::string, at::Tensor> vit_weights;  // fp32 on the CPU, HF ViTModel names
  models::VitModel encoder;
  models::EpalmConfig layout;
  models::EpalmModel model;

  EpalmBenchModels(models::OptModel decoder, models::VitConfig vit_config, std::map<std::string, at::Tensor> vit_weights,
                   c10::ScalarType dtype, c10::Device device, std::uint64_t seed);
  EpalmBenchModels(const EpalmBenchModels&) = delete;
  EpalmBenchModels& operator=(const EpalmBenchModels&) = delete;

  // config.json + model.safetensors of both models into <dir>/decoder and
  // <dir>/encoder, the trainables into <dir>/trainables.safetensors.
  void write_for_peer(const std::string& dir, c10::ScalarType dtype) const;
};

// s.model (an OPT preset or checkpoint) and s.encoder (a ViT preset) with
// random weights on s.device in s.dtype.
std::unique_ptr<EpalmBenchModels> make_epalm_bench_models(const BenchSettings& s, Progress& progress);

}  // namespace epalm::experiments
