// Internal: how a frozen model holds each of its layers, chosen per layer at
// load: whole on every rank (ReplicatedLayer) or 1/N per rank
// (ShardedLayer: gathered just before it runs, the next one in flight, and
// gathered again to recompute it in backward). The model's forward loop calls
// every layer the same way and does not know which it holds (as an FSDP
// wrapper stands in for the module it wraps).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "epalm/core/error.h"
#include "epalm/core/parallel/sharded_layer.h"
#include "models/sharded_layers.h"

namespace epalm::models {

// One forward pass's gathers: the sharded layers' forward prefetch and, when
// backward will recompute them, its own prefetching pass (kept alive by the
// autograd graph until backward has run). Empty for a model with no sharded
// layer.
class LayerPass {
 public:
  // `sharded`: the model's sharded layers (null: none). `caching`: this pass
  // appends to a KV cache, which a recomputing backward cannot replay.
  // `where`: the forward, for errors.
  LayerPass(const ShardedLayers* sharded, bool caching, std::string where)
      : sharded_(sharded), caching_(caching), where_(std::move(where)) {
    if (sharded_ != nullptr && sharded_->any()) forward_ = std::make_unique<ShardedLayers::Pass>(*sharded_);
  }

  std::map<std::string, at::Tensor> gather(std::int64_t layer) { return forward_->acquire(layer); }

  // Registers `layer` for backward's gathers and returns how backward gets its weights.
  parallel::GatheredWeights for_backward(std::int64_t layer) {
    if (caching_) {
      throw Error(where_, "a KV cache with gradients cannot pass through sharded layers (backward recomputes them)");
    }
    if (!backward_) backward_ = std::make_shared<ShardedLayers::BackwardPass>(*sharded_);
    backward_->add(layer);
    return [backward = backward_, layer] { return backward->acquire(layer); };
  }

 private:
  const ShardedLayers* sharded_;
  bool caching_;
  std::string where_;
  std::unique_ptr<ShardedLayers::Pass> forward_;
  std::shared_ptr<ShardedLayers::BackwardPass> backward_;
};

template <class Layer>
class LayerHolder {
 public:
  // Runs a layer on `input`. A sharded layer calls it again in backward,
  // after forward has returned: it must own what it captures.
  using Run = std::function<at::Tensor(const Layer& layer, const at::Tensor& input)>;

  virtual ~LayerHolder() = default;
  // `trainables`: tensors requiring gradients that `run` reads besides its
  // input (adapters hooked into the layer): they get their gradients here.
  virtual at::Tensor run(LayerPass& pass, const Run& run, const at::Tensor& input,
                         const std::vector<at::Tensor>& trainables) const = 0;
};

template <class Layer>
class ReplicatedLayer final : public LayerHolder<Layer> {
 public:
  explicit ReplicatedLayer(Layer layer) : layer_(std::move(layer)) {}
  at::Tensor run(LayerPass&, const typename LayerHolder<Layer>::Run& run, const at::Tensor& input,
                 const std::vector<at::Tensor>&) const override {
    return run(layer_, input);
  }

 private:
  Layer layer_;
};

template <class Layer>
class ShardedLayer final : public LayerHolder<Layer> {
 public:
  // Builds the layer from its gathered tensors (under the model's names)
  // and whatever whole tensors `assemble` keeps.
  using Assemble = std::function<Layer(const std::map<std::string, at::Tensor>& gathered)>;

  ShardedLayer(const ShardedLayers& layers, std::int64_t index, Assemble assemble)
      : layers_(layers), index_(index), assemble_(std::make_shared<const Assemble>(std::move(assemble))) {}

  at::Tensor run(LayerPass& pass, const typename LayerHolder<Layer>::Run& run, const at::Tensor& input,
                 const std::vector<at::Tensor>& trainables) const override {
    const auto gathered = pass.gather(index_);
    const bool backward = torch::GradMode::is_enabled() &&
                          (input.requires_grad() || std::any_of(trainables.begin(), trainables.end(),
                                                                [](const at::Tensor& t) { return t.requires_grad(); }));
    parallel::GatheredWeights backward_weights;
    if (backward) backward_weights = pass.for_backward(index_);
    const ShardedLayers* layers = &layers_;
    return parallel::apply_sharded_layer(
        *layers_.unit(index_), layers_.communicator(),
        [layers, index = index_, assemble = assemble_, run](const std::map<std::string, at::Tensor>& views,
                                                             const at::Tensor& x) {
          return run((*assemble)(layers->named(index, views)), x);
        },
        input, trainables, &gathered, std::move(backward_weights));
  }

 private:
  const ShardedLayers& layers_;
  std::int64_t index_;
  std::shared_ptr<const Assemble> assemble_;
};

// One holder per layer: sharded where `sharded` holds the layer's unit,
// replicated elsewhere. `whole(i)`: layer i from the model's own tensors;
// `assemble(i, gathered)`: layer i from its gathered tensors (under the
// model's names) and its whole small ones.
template <class Layer>
std::vector<std::unique_ptr<const LayerHolder<Layer>>> hold_layers(
    std::int64_t count, const ShardedLayers* sharded, const std::function<Layer(std::int64_t)>& whole,
    const std::function<Layer(std::int64_t, const std::map<std::string, at::Tensor>&)>& assemble) {
  std::vector<std::unique_ptr<const LayerHolder<Layer>>> holders;
  for (std::int64_t i = 0; i < count; ++i) {
    if (sharded != nullptr && sharded->unit(i) != nullptr) {
      holders.push_back(std::make_unique<ShardedLayer<Layer>>(
          *sharded, i, [assemble, i](const std::map<std::string, at::Tensor>& gathered) { return assemble(i, gathered); }));
    } else {
      holders.push_back(std::make_unique<ReplicatedLayer<Layer>>(whole(i)));
    }
  }
  return holders;
}

}  // namespace epalm::models
