#include "models/sharded_layers.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "models/weights_fingerprint.h"

namespace epalm::models {

namespace {

std::vector<const parallel::ShardedUnit*> in_order(const std::vector<std::unique_ptr<parallel::ShardedUnit>>& units,
                                         const std::vector<std::int64_t>& order) {
  std::vector<const parallel::ShardedUnit*> out;
  for (auto layer : order) out.push_back(units[static_cast<size_t>(layer)].get());
  return out;
}

}  // namespace

ShardedLayers::ShardedLayers(const safetensors::Checkpoint& checkpoint, const TensorShapes& shapes,
                             const std::map<std::string, std::string>& source,
                             const std::function<std::int64_t(const std::string&)>& layer_of,
                             const LayerSharding& sharding, std::int64_t layers, c10::ScalarType dtype,
                             c10::Device device)
    : communicator_(sharding.communicator),
      units_(static_cast<size_t>(layers)),
      model_name_(static_cast<size_t>(layers)) {
  std::vector<std::vector<std::string>> members(static_cast<size_t>(layers));
  for (const auto& [name, shape] : shapes) {
    const auto layer = layer_of(name);
    if (layer < 0 || layer >= layers || !sharding.shards(layer)) continue;
    const auto numel = std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
    if (shape.size() != 2 || numel < sharding.threshold) continue;
    const auto it = source.find(name);
    if (it == source.end()) throw Error(checkpoint.path(), "has no tensor for '" + name + "'");
    members[static_cast<size_t>(layer)].push_back(it->second);
    model_name_[static_cast<size_t>(layer)][it->second] = name;
    sharded_names_[name] = layer;
  }
  if (communicator_ == nullptr) return;
  const int rank = communicator_->rank(), world = communicator_->size();
  for (std::int64_t layer = 0; layer < layers; ++layer) {
    const auto& m = members[static_cast<size_t>(layer)];
    if (m.empty()) continue;
    units_[static_cast<size_t>(layer)] = std::make_unique<parallel::ShardedUnit>(checkpoint, m, rank, world, dtype, device);
    order_.push_back(layer);
  }
}

const parallel::ShardedUnit* ShardedLayers::unit(std::int64_t layer) const {
  if (layer < 0 || layer >= static_cast<std::int64_t>(units_.size())) return nullptr;
  return units_[static_cast<size_t>(layer)].get();
}

std::map<std::string, at::Tensor> ShardedLayers::named(std::int64_t layer,
                                                       const std::map<std::string, at::Tensor>& views) const {
  std::map<std::string, at::Tensor> out;
  const auto& names = model_name_[static_cast<size_t>(layer)];
  for (const auto& [checkpoint_name, view] : views) out.emplace(names.at(checkpoint_name), view);
  return out;
}

at::Tensor ShardedLayers::gather_buffer() const {
  // Free: only this list refers to the tensor and to its memory (a gather's
  // views, a pass or a prefetch in flight each hold one more reference).
  for (const auto& b : buffers_) {
    if (b.use_count() == 1 && b.storage().use_count() == 1) return b;
  }
  std::int64_t largest = 0;
  for (const auto layer : order_) largest = std::max(largest, unit(layer)->layout().padded_numel());
  buffers_.push_back(torch::empty({largest}, unit(order_.front())->shard().options()));
  return buffers_.back();
}

ShardedLayers::Pass::Pass(const ShardedLayers& layers)
    : layers_(layers),
      gatherer_(*layers.communicator_, in_order(layers.units_, layers.order_),
                layers.any() ? std::vector<at::Tensor>{layers.gather_buffer(), layers.gather_buffer()}
                             : std::vector<at::Tensor>{}) {}

std::map<std::string, at::Tensor> ShardedLayers::Pass::acquire(std::int64_t layer) {
  const auto& order = layers_.order_;
  const auto at = std::lower_bound(order.begin(), order.end(), layer);
  if (at == order.end() || *at != layer) throw Error("sharded layers", "layer " + std::to_string(layer) + " is not sharded");
  return gatherer_.acquire(static_cast<size_t>(at - order.begin()));
}

void ShardedLayers::BackwardPass::start(std::int64_t layer) {
  if (in_flight_.count(layer)) return;
  const auto* u = layers_.unit(layer);
  InFlight f;
  f.buffer = layers_.gather_buffer().narrow(0, 0, u->layout().padded_numel());
  f.work = u->gather_into(*layers_.communicator_, f.buffer);
  in_flight_.emplace(layer, std::move(f));
}

ShardedLayers::BackwardPass::~BackwardPass() {
  for (auto& [layer, f] : in_flight_) f.work->wait();
}

std::map<std::string, at::Tensor> ShardedLayers::BackwardPass::acquire(std::int64_t layer) {
  start(layer);
  auto node = in_flight_.extract(layer);
  // The layer backward reaches next: the one added before this one.
  const auto at = std::find(order_.begin(), order_.end(), layer);
  if (at != order_.end() && at != order_.begin()) start(*(at - 1));
  node.mapped().work->wait();
  return layers_.unit(layer)->views(node.mapped().buffer);
}

std::string ShardedLayers::fingerprint(const std::map<std::string, at::Tensor>& resident) const {
  std::vector<std::string> names;
  for (const auto& [name, t] : resident) names.push_back(name);
  for (const auto& [name, layer] : sharded_names_) names.push_back(name);
  std::sort(names.begin(), names.end());
  // A layer's names are adjacent in sorted order ("layers.1." < "layers.10."),
  // so each sharded layer is gathered once, in the same order on every rank.
  std::int64_t current = -1;
  at::Tensor buffer;
  std::map<std::string, at::Tensor> gathered;
  return weights_fingerprint(names, [&](const std::string& name) -> at::Tensor {
    const auto it = sharded_names_.find(name);
    if (it == sharded_names_.end()) return resident.at(name);
    if (it->second != current) {
      current = it->second;
      gathered.clear();
      const auto* u = unit(current);
      buffer = u->make_buffer();
      u->gather_into(*communicator_, buffer)->wait();
      gathered = named(current, u->views(buffer));
    }
    return gathered.at(name);
  });
}

FrozenFootprint ShardedLayers::footprint(const std::map<std::string, at::Tensor>& resident) const {
  FrozenFootprint f;
  for (const auto& [name, t] : resident) f.replicated_bytes += t.numel() * static_cast<std::int64_t>(t.element_size());
  for (auto layer : order_) {
    const auto* u = unit(layer);
    const auto element = static_cast<std::int64_t>(u->shard().element_size());
    ++f.sharded_layers;
    f.shard_bytes += u->shard().numel() * element;
    f.largest_unit_bytes = std::max(f.largest_unit_bytes, u->layout().padded_numel() * element);
  }
  f.gather_buffers = static_cast<int>(buffers_.size());
  return f;
}

}  // namespace epalm::models
