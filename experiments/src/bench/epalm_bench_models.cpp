#include "bench/epalm_bench_models.h"

#include "epalm/core/models/packed_training.h"

#include <torch/torch.h>

#include "bench/peer_checkpoints.h"
#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/model_families/opt_family.h"
#include "epalm/experiments/model_families/vit_family.h"

namespace epalm::experiments {

models::EpalmConfig paper_layout(std::int64_t decoder_layers) {
  models::EpalmConfig c;
  c.levels = 6;
  c.shared_connector = false;
  c.start_layer = static_cast<int>(decoder_layers * 19 / 32);
  c.end_layer = static_cast<int>(decoder_layers - decoder_layers / 32);
  c.prompt_length = 10;
  c.prompt_mlp = true;
  return c;
}

nlohmann::json peer_variant(const models::EpalmConfig& layout) {
  return {{"levels", layout.levels},           {"shared", layout.shared_connector}, {"start", layout.start_layer},
          {"end", layout.end_layer},           {"prompt", layout.prompt_length},     {"mlp", layout.prompt_mlp}};
}

EncoderWork vit_cls_flops(const models::VitConfig& v, double batch) {
  const double h = v.hidden_size, i = v.intermediate_size, n = v.num_patches() + 1;
  const double block_token = 2 * (4 * h * h + 2 * h * i) + 2 * 2 * n * h;  // projections, MLP, attention
  const double patches = 2 * (n - 1) * h * (v.num_channels * v.patch_size * v.patch_size);
  const double peer = batch * (patches + v.num_layers * n * block_token);
  const double last_cls = 2 * 2 * n * h * h + block_token - 2 * 2 * h * h;
  return {peer - batch * n * block_token + batch * last_cls, peer};
}

void check_training_bench(const BenchSettings& s, const std::string& name) {
  if (s.new_tokens > 0) throw UsageError("--new-tokens", name + " does not generate");
  if (s.dtype != c10::kFloat && s.device.is_cpu()) {
    throw UsageError("--dtype", "eP-ALM trains in fp32 on the CPU (bf16/fp16 frozen weights are for GPUs)");
  }
}

double decoder_train_flops(const models::OptConfig& o, double batch, double tokens, double head_rows) {
  const double d = o.hidden_size, f = o.ffn_dim, b = batch, t = tokens;
  const double projections = b * t * 2 * (4 * d * d + 2 * d * f), attention = b * t * 2 * 2 * t * d;
  const double head_row = 2.0 * o.word_embed_proj_dim * o.vocab_size * 2;
  return o.num_layers * (2 * projections + 3 * attention) + head_row * head_rows;
}

namespace {

// The packed pass's decoder layers over layers [first, last): rows and
// attention pairs below and from `first_injection`, forward and input-gradient backward.
double packed_layers_flops(const models::OptConfig& o, std::int64_t first, std::int64_t last,
                           std::int64_t first_injection, double shared_rows, double shared_pairs, double per_sample_rows,
                           double per_sample_pairs) {
  const double d = o.hidden_size, f = o.ffn_dim;
  const double projection_row = 2 * (4 * d * d + 2 * d * f), attention_pair = 2 * 2 * d;
  double total = 0;
  for (std::int64_t layer = first; layer < last; ++layer) {
    const bool shared = layer < first_injection;
    const double rows = shared ? shared_rows : per_sample_rows, pairs = shared ? shared_pairs : per_sample_pairs;
    total += 2 * projection_row * rows + 3 * attention_pair * pairs;
  }
  return total;
}

std::int64_t first_injection_of(const models::OptConfig& o, const models::EpalmConfig& c) {
  const auto schedule = c.injection_schedule();
  return c.perception && !schedule.empty() ? schedule.front().first : o.num_layers;
}

double head_flops(const models::OptConfig& o, double rows) { return 2.0 * o.word_embed_proj_dim * o.vocab_size * 2 * rows; }

}  // namespace

double packed_decoder_train_flops(const models::OptConfig& o, const models::EpalmConfig& c,
                                  const std::vector<std::int64_t>& real_tokens, double head_rows,
                                  bool text_below_shared) {
  const double p = c.prompt_length;
  double shared_rows = p, shared_pairs = p * p, per_sample_rows = 0, per_sample_pairs = 0;
  for (const auto n : real_tokens) {
    const double t = static_cast<double>(n);
    shared_rows += t;
    shared_pairs += t * (p + t);
    per_sample_rows += 1 + p + t;
    per_sample_pairs += (1 + p + t) * (1 + p + t);
  }
  const auto first_injection = first_injection_of(o, c);
  const auto first = text_below_shared ? first_injection : 0;
  return packed_layers_flops(o, first, o.num_layers, first_injection, shared_rows, shared_pairs, per_sample_rows,
                             per_sample_pairs) +
         head_flops(o, head_rows);
}

double fused_decoder_train_flops(const models::OptConfig& o, const std::vector<models::EpalmConfig>& variants,
                                 const std::vector<std::int64_t>& real_tokens, double head_rows) {
  double total = 0;
  std::int64_t frozen_until = -1;
  for (const auto& c : variants) {
    const bool reads = models::reads_frozen_text(c);
    if (reads) frozen_until = std::max(frozen_until, first_injection_of(o, c));
    total += packed_decoder_train_flops(o, c, real_tokens, head_rows, reads);
  }
  if (frozen_until < 0) return total;
  double rows = 0, pairs = 0;
  for (const auto n : real_tokens) {
    rows += static_cast<double>(n);
    pairs += static_cast<double>(n) * static_cast<double>(n);
  }
  return total + packed_layers_flops(o, 0, frozen_until, frozen_until, rows, pairs, 0, 0);
}

std::vector<std::int64_t> real_tokens_per_row(const at::Tensor& attention_mask) {
  const auto sums = attention_mask.to(torch::kCPU, torch::kLong).sum(1).contiguous();
  return {sums.data_ptr<std::int64_t>(), sums.data_ptr<std::int64_t>() + sums.numel()};
}

namespace {

std::map<std::string, at::Tensor> on_device(const std::map<std::string, at::Tensor>& weights, c10::ScalarType dtype,
                                            c10::Device device) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : weights) out[name] = t.to(device, dtype);
  return out;
}

}  // namespace

EpalmBenchModels::EpalmBenchModels(models::OptModel decoder_, models::VitConfig vit_config_,
                                   std::map<std::string, at::Tensor> vit_weights_, c10::ScalarType dtype,
                                   c10::Device device, std::uint64_t seed)
    : decoder(std::move(decoder_)),
      vit_config(std::move(vit_config_)),
      vit_weights(std::move(vit_weights_)),
      encoder(vit_config, on_device(vit_weights, dtype, device)),
      layout(paper_layout(decoder.config().num_layers)),
      model(layout, decoder, vit_config.hidden_size, vit_config.num_layers, seed) {}

void EpalmBenchModels::write_for_peer(const std::string& dir, c10::ScalarType dtype) const {
  write_opt_checkpoint(decoder, dir + "/decoder");
  write_vit_checkpoint(vit_config, vit_weights, dtype, dir + "/encoder");
  std::vector<std::pair<std::string, at::Tensor>> values;
  for (const auto& [name, p] : model.named_parameters()) values.emplace_back(name, p.detach().cpu());
  safetensors::write_safetensors(dir + "/trainables.safetensors", values);
}

std::unique_ptr<EpalmBenchModels> make_epalm_bench_models(const BenchSettings& s, Progress& progress) {
  const auto decoder_source = resolve_model_source(s.model);
  const auto encoder_source = resolve_model_source(s.encoder);
  if (decoder_source.model_type != "opt") throw UsageError("--model", "'" + s.model + "' is not an OPT model");
  if (encoder_source.model_type != "vit" || encoder_source.is_directory()) {
    throw UsageError("--encoder", "'" + s.encoder + "' is not a ViT preset");
  }
  progress.say("random weights: " + s.model + " and " + s.encoder);
  auto decoder = load_opt(decoder_source, s.dtype, s.device, s.seed);
  auto vit_config = vit_config_of(encoder_source);
  auto vit_weights = vit_random_weights(vit_config, s.seed + 2);
  return std::make_unique<EpalmBenchModels>(std::move(decoder), std::move(vit_config), std::move(vit_weights), s.dtype,
                                            s.device, s.seed + 3);
}

}  // namespace epalm::experiments
