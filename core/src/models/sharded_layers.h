// Internal: the sharded layers of one frozen model (OPT, ViT). Built from a
// checkpoint: per layer the model's large tensors become one ShardedUnit,
// read 1/N per rank; the model keeps everything else whole. Gathered views
// come back under the model's own tensor names.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/models/layer_sharding.h"
#include "epalm/core/parallel/sharded_unit.h"
#include "epalm/core/models/state_dict.h"

namespace epalm {
namespace safetensors {
class Checkpoint;
}
}  // namespace epalm

namespace epalm::models {

class ShardedLayers {
 public:
  // `shapes`: the model's tensors by its names; `source`: model name ->
  // checkpoint name; `layer_of(name)`: the layer a tensor belongs to (-1:
  // none). Tensors of layers `sharding` shards that are 2-D and at or above
  // its threshold go into the layer's unit.
  ShardedLayers(const safetensors::Checkpoint& checkpoint, const TensorShapes& shapes,
                const std::map<std::string, std::string>& source,
                const std::function<std::int64_t(const std::string&)>& layer_of, const LayerSharding& sharding,
                std::int64_t layers, c10::ScalarType dtype, c10::Device device);

  bool is_sharded(const std::string& name) const { return sharded_names_.count(name) != 0; }
  const parallel::ShardedUnit* unit(std::int64_t layer) const;
  parallel::Communicator& communicator() const { return *communicator_; }
  bool any() const { return !order_.empty(); }

  // Gathers the sharded layers in order with the next one in flight (views
  // under the unit's checkpoint names, as ShardedUnit::views gives them).
  class Pass {
   public:
    explicit Pass(const ShardedLayers& layers);
    std::map<std::string, at::Tensor> acquire(std::int64_t layer);

   private:
    const ShardedLayers& layers_;
    parallel::UnitGatherer gatherer_;
  };

  // Backward's gathers for one forward pass: the layers whose backward will
  // re-gather are added in forward order; backward visits them in reverse,
  // and taking one starts the gather of the one it visits next (prefetch).
  // Every rank builds the same graph, so the gathers match across ranks.
  class BackwardPass {
   public:
    explicit BackwardPass(const ShardedLayers& layers) : layers_(layers) {}
    ~BackwardPass();  // waits for prefetches backward never took (their buffers are reused)
    void add(std::int64_t layer) { order_.push_back(layer); }
    // The unit's views (checkpoint names), gathered.
    std::map<std::string, at::Tensor> acquire(std::int64_t layer);

   private:
    struct InFlight {
      at::Tensor buffer;
      std::unique_ptr<parallel::Work> work;
    };
    void start(std::int64_t layer);
    const ShardedLayers& layers_;
    std::vector<std::int64_t> order_;
    std::map<std::int64_t, InFlight> in_flight_;
  };

  // A unit's views under the model's names.
  std::map<std::string, at::Tensor> named(std::int64_t layer, const std::map<std::string, at::Tensor>& views) const;
  // The fingerprint the whole model would have (weights_fingerprint), each
  // sharded layer gathered once in turn; `resident`: the whole tensors.
  std::string fingerprint(const std::map<std::string, at::Tensor>& resident) const;
  FrozenFootprint footprint(const std::map<std::string, at::Tensor>& resident) const;
  // A gather buffer (the largest unit's padded size) no one else holds: the
  // model keeps its buffers across passes, so steps allocate none once warm.
  at::Tensor gather_buffer() const;

 private:
  parallel::Communicator* communicator_ = nullptr;
  std::vector<std::unique_ptr<parallel::ShardedUnit>> units_;  // per layer; null: replicated
  std::vector<std::int64_t> order_;                  // sharded layers, ascending
  std::vector<std::map<std::string, std::string>> model_name_;  // per layer: checkpoint name -> model name
  std::map<std::string, std::int64_t> sharded_names_;           // model name -> layer
  mutable std::vector<at::Tensor> buffers_;                     // gather buffers, reused
};

}  // namespace epalm::models
