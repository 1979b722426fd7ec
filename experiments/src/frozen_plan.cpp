#include "epalm/experiments/frozen_plan.h"

#include <c10/core/ScalarType.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/error.h"
#include "epalm/core/models/architecture.h"
#include "epalm/core/models/ast.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/experiments/training_run.h"

namespace epalm::experiments {

namespace {

namespace fs = std::filesystem;

const std::string kDecoderLayers = "decoder.layers.";
const std::string kEncoderBlocks = "encoder.layer.";

std::string config_path(const std::string& directory) { return (fs::path(directory) / "config.json").string(); }

}  // namespace

std::string model_path(const std::string& name, const std::string& model_dir) {
  return name.find('/') != std::string::npos || name.empty() ? name : (fs::path(model_dir) / name).string();
}

std::string checkpoint_directory(const std::string& name, const std::string& model_dir) {
  if (name.empty()) return "";
  const fs::path path = model_path(name, model_dir);
  std::error_code ec;
  return fs::exists(path / "config.json", ec) ? path.string() : "";
}

models::TensorShapes encoder_plan_shapes(const std::string& directory, bool& shardable) {
  const auto path = config_path(directory);
  if (!fs::exists(path)) throw Error(directory, "has no config.json (not an encoder checkpoint directory)");
  const auto architecture = models::architecture_of_config(path).id;
  // Only ViT's blocks shard so far (load_encoder refuses the others').
  shardable = architecture == models::Architecture::kVit;
  if (architecture == models::Architecture::kTimesformer) {
    return models::timesformer_tensor_shapes(models::TimesformerConfig::from_json_file(path));
  }
  if (architecture == models::Architecture::kAst) return models::ast_tensor_shapes(models::AstConfig::from_json_file(path));
  if (architecture != models::Architecture::kVit) throw Error(path, "is a decoder's config, not an encoder's");
  const auto shapes = models::vit_tensor_shapes(models::VitConfig::from_json_file(path));
  // timm checkpoints fuse qkv: held whole.
  const safetensors::Checkpoint checkpoint(directory);
  if (checkpoint.contains("cls_token") || checkpoint.contains("blocks.0.attn.qkv.weight")) shardable = false;
  return shapes;
}

namespace {

// Units the run cannot shard keep their matrices whole whatever the mode.
void hold_whole(parallel::PlanUnit& u) {
  u.small_elements += u.large_elements;
  u.large_elements = 0;
}

std::string ranges(const std::vector<std::int64_t>& layers) {
  if (layers.empty()) return "none";
  std::ostringstream out;
  for (size_t i = 0; i < layers.size();) {
    size_t j = i;
    while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
    if (i > 0) out << ",";
    out << layers[i];
    if (j > i) out << "-" << layers[j];
    i = j + 1;
  }
  return out.str();
}

std::vector<std::int64_t> chosen(const models::LayerSharding& s) {
  std::vector<std::int64_t> out;
  for (size_t i = 0; i < s.layers.size(); ++i) {
    if (s.layers[i]) out.push_back(static_cast<std::int64_t>(i));
  }
  return out;
}

std::string mib(std::int64_t bytes) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB";
  return out.str();
}

}  // namespace

std::string FrozenPlan::summary() const {
  std::ostringstream out;
  out << "frozen weights on " << memory.world << " rank(s): decoder layers sharded " << ranges(chosen(decoder))
      << ", encoder blocks sharded " << ranges(chosen(encoder)) << "; per rank " << mib(memory.frozen_resident_bytes)
      << " resident (whole: " << mib(memory.frozen_total_bytes) << ") + gather buffers "
      << mib(memory.gather_buffer_bytes) << ", " << memory.all_gathers_per_micro_batch
      << " all-gathers per micro-batch receiving " << mib(memory.all_gather_bytes_per_micro_batch);
  if (memory.budget_bytes > 0) {
    out << "; " << mib(memory.per_rank_bytes) << " of the budget " << mib(memory.budget_bytes)
        << (memory.fits ? "" : " (OVER)");
  }
  return out.str();
}

std::vector<parallel::PlanUnit> shardable_units(const models::TensorShapes& decoder, const models::TensorShapes& encoder, bool encoder_shardable,
                                      std::int64_t threshold, const std::function<int(std::int64_t)>& decoder_gathers) {
  auto units = parallel::plan_units("decoder", decoder, kDecoderLayers, threshold, 2);
  for (auto& u : units) {
    if (u.name.rfind(kDecoderLayers, 0) != 0) {
      hold_whole(u);  // embeddings (tied to the LM head), positions, final norm
      continue;
    }
    u.gathers_per_micro_batch = decoder_gathers(std::stoll(u.name.substr(kDecoderLayers.size())));
  }
  for (auto u : parallel::plan_units("encoder", encoder, kEncoderBlocks, threshold, 1)) {
    if (!encoder_shardable || u.name.rfind(kEncoderBlocks, 0) != 0) hold_whole(u);
    units.push_back(u);
  }
  return units;
}

PlanEstimate estimate_frozen_plan(const models::OptConfig& decoder, const models::TensorShapes& encoder,
                                  bool encoder_shardable, const models::EpalmConfig& e, const PlanRunSettings& run) {
  const bool adapters = e.adapters.on_attention || e.adapters.on_ffn;
  const auto schedule = e.injection_schedule();
  const int first_injected = schedule.empty() ? 0 : schedule.front().first;

  PlanEstimate estimate;
  // Backward reaches a layer when its input carries the prompt or the
  // injected token, or when its adapters train.
  estimate.units = shardable_units(models::opt_tensor_shapes(decoder), encoder, encoder_shardable,
                                   run.shard_threshold, [&](std::int64_t layer) {
                                     const bool backward =
                                         run.training && (e.prompt_length > 0 || adapters || layer >= first_injected);
                                     return backward ? 2 : 1;
                                   });

  auto& p = estimate.settings;
  p.world = run.world;
  p.element_bytes = run.element_bytes;
  p.budget_bytes = run.memory_budget;
  p.mode = run.mode;
  // The training step builds its gather buffers per forward (two, the next
  // layer in flight) plus one in backward.
  p.gather_buffers = 3;
  std::int64_t encoder_hidden = 0;
  for (const auto& [name, shape] : encoder) {
    if (name == "embeddings.cls_token") encoder_hidden = shape.back();
  }
  p.trainable_parameters =
      models::count_trainable(e, encoder_hidden, decoder.hidden_size, decoder.word_embed_proj_dim, decoder.num_layers).total();
  // Decoder activations kept for backward, per token (the injected one, the
  // prompt and the text): ~10 d values per layer (LayerNorm inputs, q/k/v/out,
  // the MLP's hidden) and the fp32 logits.
  const auto d = decoder.hidden_size;
  const std::int64_t tokens = run.batch_size * (run.text_tokens + e.prompt_length + 1);
  p.activation_bytes =
      run.training ? tokens * (10 * d * decoder.num_layers * p.element_bytes + 4 * decoder.vocab_size) : 0;
  estimate.memory = parallel::plan_memory(estimate.units, p);
  return estimate;
}

FrozenPlan plan_frozen_weights(const TrainingRunSettings& s, parallel::Communicator& communicator, bool training) {
  const auto decoder_config = models::OptConfig::from_json_file(config_path(s.decoder));
  bool encoder_shardable = false;
  const auto encoder_tensors = encoder_plan_shapes(s.encoder, encoder_shardable);
  PlanRunSettings run;
  run.world = communicator.size();
  run.element_bytes = static_cast<std::int64_t>(c10::elementSize(s.dtype));
  run.batch_size = s.batch_size;
  run.memory_budget = s.memory_budget;
  run.shard_threshold = s.shard_threshold;
  run.mode = s.plan;
  run.training = training;

  FrozenPlan plan;
  plan.memory = estimate_frozen_plan(decoder_config, encoder_tensors, encoder_shardable, s.epalm, run).memory;
  plan.decoder.threshold = plan.encoder.threshold = s.shard_threshold;
  plan.decoder.layers.assign(static_cast<size_t>(decoder_config.num_layers), false);
  bool any = false;
  for (const auto& u : plan.memory.units) {
    if (u.policy != parallel::ShardPolicy::kShard) continue;
    any = true;
    if (u.unit.name.rfind(kDecoderLayers, 0) == 0) {
      plan.decoder.layers[static_cast<size_t>(std::stoll(u.unit.name.substr(kDecoderLayers.size())))] = true;
    } else if (u.unit.name.rfind(kEncoderBlocks, 0) == 0) {
      const auto block = static_cast<size_t>(std::stoll(u.unit.name.substr(kEncoderBlocks.size())));
      if (plan.encoder.layers.size() <= block) plan.encoder.layers.resize(block + 1, false);
      plan.encoder.layers[block] = true;
    }
  }
  if (any) plan.decoder.communicator = plan.encoder.communicator = &communicator;
  return plan;
}

}  // namespace epalm::experiments
