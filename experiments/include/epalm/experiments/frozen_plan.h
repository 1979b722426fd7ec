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

#include "epalm/core/memory_plan.h"
#include "epalm/core/models/layer_sharding.h"

namespace epalm {
class Communicator;
}

namespace epalm::experiments {

struct TrainingRunSettings;

struct FrozenPlan {
  MemoryPlan memory;
  models::LayerSharding decoder, encoder;
  // "decoder layers 0-3 sharded, encoder blocks none; per rank ..." for the log.
  std::string summary() const;
};

// The planner's units as a run can hold them: decoder layers
// ("decoder.layers.<i>", all-gathered `decoder_gathers(i)` times per
// micro-batch when sharded) and, when `encoder_shardable`, encoder blocks
// ("encoder.layer.<i>", once); the embeddings and the rest stay whole.
std::vector<PlanUnit> shardable_units(const TensorShapes& decoder, const TensorShapes& encoder, bool encoder_shardable,
                                      std::int64_t threshold, const std::function<int(std::int64_t)>& decoder_gathers);

// `training`: backward passes through the decoder layers whose input or
// adapters need gradients (two all-gathers per micro-batch there, one
// elsewhere); evaluation gathers every layer once.
FrozenPlan plan_frozen_weights(const TrainingRunSettings& settings, Communicator& communicator, bool training);

}  // namespace epalm::experiments
