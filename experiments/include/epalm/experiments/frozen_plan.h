// A run's frozen-weight plan, chosen at run time: the memory planner
// (memory_plan.h) over the actual decoder's and encoder's shapes (their
// config.json), for the run's ranks, dtype and budget, and the LayerSharding
// each model then loads with. Decoder layers and ViT blocks can be sharded;
// the embeddings (tied to the LM head) and other encoders stay whole, so the
// plan lists their matrices as replicated.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "epalm/core/parallel/memory_plan.h"
#include "epalm/core/models/layer_sharding.h"

namespace epalm::parallel {
class Communicator;
}
namespace epalm {
namespace models {
struct EpalmConfig;
struct OptConfig;
}
}  // namespace epalm

namespace epalm::experiments {

struct TrainingRunSettings;

// Where a model name in a run's settings (--decoder, --encoder) points: the
// name itself when it is a path (it holds a '/') or empty, else
// <model_dir>/<name>. The one rule for training, planning and the
// trainable-share estimate.
std::string model_path(const std::string& name, const std::string& model_dir);
// model_path's directory when it holds a config.json; "" otherwise (the name
// is then a preset, planned from its shapes).
std::string checkpoint_directory(const std::string& name, const std::string& model_dir);

struct FrozenPlan {
  parallel::MemoryPlan memory;
  models::LayerSharding decoder, encoder;
  // "decoder layers 0-3 sharded, encoder blocks none; per rank ..." for the log.
  std::string summary() const;
};

// The planner's units as a run can hold them: decoder layers
// ("decoder.layers.<i>", all-gathered `decoder_gathers(i)` times per
// micro-batch when sharded) and, when `encoder_shardable`, encoder blocks
// ("encoder.layer.<i>", once); the embeddings and the rest stay whole.
std::vector<parallel::PlanUnit> shardable_units(const models::TensorShapes& decoder, const models::TensorShapes& encoder, bool encoder_shardable,
                                      std::int64_t threshold, const std::function<int(std::int64_t)>& decoder_gathers);

// The text tokens per sequence the activation estimate assumes.
constexpr std::int64_t kPlanTextTokens = 64;

// What the estimate needs of a run besides its models and eP-ALM settings.
struct PlanRunSettings {
  int world = 1;
  std::int64_t element_bytes = 4;  // the frozen weights' dtype
  std::int64_t batch_size = 8;     // sequences per rank and micro-batch
  std::int64_t text_tokens = kPlanTextTokens;
  std::int64_t memory_budget = 0;  // bytes per rank; 0: no limit
  std::int64_t shard_threshold = 100000;
  parallel::PlanMode mode = parallel::PlanMode::kAuto;
  bool training = true;
};

struct PlanEstimate {
  std::vector<parallel::PlanUnit> units;
  parallel::PlanSettings settings;
  parallel::MemoryPlan memory;
};

// The one estimate behind a run's plan and `epalm plan`, from shapes alone:
// the run's trainables (count_trainable), its decoder activations kept for
// backward, and per decoder layer two all-gathers where backward reaches it
// (training, and the layer's input carries the prompt or the injected token,
// or its adapters train), one elsewhere. `encoder` holds the encoder's
// tensors (its width from embeddings.cls_token).
PlanEstimate estimate_frozen_plan(const models::OptConfig& decoder, const models::TensorShapes& encoder,
                                  bool encoder_shardable, const models::EpalmConfig& epalm, const PlanRunSettings& run);

// An encoder checkpoint directory's tensors as its config.json gives them,
// and whether a run can shard its blocks (ViT with Hugging Face names).
models::TensorShapes encoder_plan_shapes(const std::string& directory, bool& shardable);

// `training`: backward passes through the decoder layers whose input or
// adapters need gradients (two all-gathers per micro-batch there, one
// elsewhere); evaluation gathers every layer once.
FrozenPlan plan_frozen_weights(const TrainingRunSettings& settings, parallel::Communicator& communicator, bool training);

}  // namespace epalm::experiments
