// A run's frozen-weight plan, chosen at run time: the memory planner
// (memory_plan.h) over the actual decoder's and encoder's shapes (their
// config.json), for the run's ranks, dtype and budget, and the LayerSharding
// each model then loads with. Decoder layers and ViT blocks can be sharded;
// the embeddings (tied to the LM head) and other encoders stay whole, so the
// plan lists their matrices as replicated.
#pragma once

#include <cstdint>
#include <string>

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

// `training`: backward passes through the decoder layers whose input or
// adapters need gradients (two all-gathers per micro-batch there, one
// elsewhere); evaluation gathers every layer once.
FrozenPlan plan_frozen_weights(const TrainingRunSettings& settings, Communicator& communicator, bool training);

}  // namespace epalm::experiments
