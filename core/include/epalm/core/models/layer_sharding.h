// Which layers of a frozen model keep their large matrices 1/N per rank
// (a ShardedUnit per layer: each rank reads only its byte ranges from the
// checkpoint, and the layer is all-gathered just before it runs) instead of
// whole on every rank, and what a loaded model then holds.
#pragma once

#include <cstdint>
#include <vector>

namespace epalm::parallel {
class Communicator;
}

namespace epalm::models {

struct LayerSharding {
  // The ranks sharing the layers; must outlive the model. Null: nothing sharded.
  parallel::Communicator* communicator = nullptr;
  std::vector<bool> layers;  // per layer index: true = shard (missing = replicate)
  // 2-D tensors with at least this many elements are sharded; smaller ones
  // (LayerNorms, biases) stay whole (memory_plan.h's persistence threshold).
  std::int64_t threshold = 100000;

  bool shards(std::int64_t layer) const {
    return communicator != nullptr && layer >= 0 && layer < static_cast<std::int64_t>(layers.size()) &&
           layers[static_cast<size_t>(layer)];
  }
};

// A model's frozen weights on this rank.
struct FrozenFootprint {
  int sharded_layers = 0;
  std::int64_t replicated_bytes = 0;   // whole tensors
  std::int64_t shard_bytes = 0;        // this rank's shards of the sharded layers (padding included)
  std::int64_t largest_unit_bytes = 0;  // one gather buffer: the largest sharded layer, gathered
  int gather_buffers = 0;               // buffers of that size the model keeps for its gathers
};

}  // namespace epalm::models
