#include "epalm/core/parallel/sharded_unit.h"

#include <torch/torch.h>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"

namespace epalm::parallel {

namespace {

std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes_of(const safetensors::Checkpoint& checkpoint,
                                                                         const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
  for (const auto& name : names) {
    if (!checkpoint.contains(name)) throw Error(checkpoint.path(), "has no tensor '" + name + "' for a sharded unit");
    out.emplace_back(name, checkpoint.info(name).shape);
  }
  return out;
}

}  // namespace

ShardedUnit::ShardedUnit(const safetensors::Checkpoint& checkpoint, const std::vector<std::string>& names, int rank,
                         int world, c10::ScalarType dtype, c10::Device device)
    : layout_(shapes_of(checkpoint, names), world) {
  // Built on the CPU from byte ranges, then moved: padding stays zero.
  auto shard = torch::zeros({layout_.shard_numel()}, torch::dtype(dtype));
  for (const auto& piece : layout_.pieces(rank)) {
    const auto& member = layout_.members()[piece.member];
    const auto stored = safetensors::scalar_type_of(checkpoint.info(member.name).dtype);
    if (!stored) throw Error(checkpoint.path(), "tensor '" + member.name + "' has a dtype LibTorch cannot hold");
    const auto element = static_cast<std::int64_t>(c10::elementSize(*stored));
    // In pieces of at most 1 MiB, so the staging copy never approaches a
    // tensor's size (the allocator would keep it resident).
    const std::int64_t step = std::max<std::int64_t>(1, (1 << 20) / element);
    for (std::int64_t done = 0; done < piece.count; done += step) {
      const auto count = std::min(step, piece.count - done);
      const auto begin = static_cast<std::uint64_t>((piece.tensor_offset + done) * element);
      const auto bytes = checkpoint.load_bytes(member.name, begin, begin + static_cast<std::uint64_t>(count * element));
      shard.narrow(0, piece.shard_offset + done, count).copy_(bytes.view(*stored));
      bytes_read_ += bytes.numel();
    }
  }
  shard_ = device.is_cpu() ? shard : shard.to(device);
}

at::Tensor ShardedUnit::make_buffer() const { return torch::empty({layout_.padded_numel()}, shard_.options()); }

std::unique_ptr<Work> ShardedUnit::gather_into(Communicator& communicator, const at::Tensor& buffer) const {
  return communicator.all_gather(shard_, buffer);
}

std::map<std::string, at::Tensor> ShardedUnit::views(const at::Tensor& buffer) const {
  std::map<std::string, at::Tensor> out;
  for (const auto& m : layout_.members()) out.emplace(m.name, buffer.narrow(0, m.offset, m.numel).view(m.shape));
  return out;
}

namespace {

std::vector<at::Tensor> new_buffers(const std::vector<const ShardedUnit*>& units, int count) {
  if (count < 1) throw Error("unit gatherer", "needs at least one buffer");
  std::int64_t largest = 0;
  for (const auto* u : units) largest = std::max(largest, u->layout().padded_numel());
  std::vector<at::Tensor> buffers;
  if (!units.empty()) {
    for (int b = 0; b < count; ++b) buffers.push_back(torch::empty({largest}, units.front()->shard().options()));
  }
  return buffers;
}

}  // namespace

UnitGatherer::UnitGatherer(Communicator& communicator, std::vector<const ShardedUnit*> units, int buffers)
    : UnitGatherer(communicator, units, new_buffers(units, buffers)) {}

UnitGatherer::UnitGatherer(Communicator& communicator, std::vector<const ShardedUnit*> units,
                           std::vector<at::Tensor> buffers)
    : communicator_(communicator), units_(std::move(units)), buffers_(std::move(buffers)), in_flight_(units_.size()) {
  if (!units_.empty() && buffers_.empty()) throw Error("unit gatherer", "needs at least one buffer");
  for (const auto* u : units_) {
    for (const auto& b : buffers_) {
      if (b.numel() < u->layout().padded_numel()) throw Error("unit gatherer", "a buffer is smaller than a unit");
    }
  }
}

UnitGatherer::~UnitGatherer() {
  for (auto& w : in_flight_) {
    if (w) w->wait();
  }
}

void UnitGatherer::start(size_t i) {
  const auto& buffer = buffers_[i % buffers_.size()];
  in_flight_[i] = units_[i]->gather_into(communicator_, buffer.narrow(0, 0, units_[i]->layout().padded_numel()));
}

std::map<std::string, at::Tensor> UnitGatherer::acquire(size_t i) {
  if (i >= units_.size()) throw Error("unit gatherer", "no unit " + std::to_string(i));
  if (!in_flight_[i]) start(i);
  // Prefetch: the next unit's gather goes out before this one is used.
  if (buffers_.size() > 1 && i + 1 < units_.size() && !in_flight_[i + 1]) start(i + 1);
  in_flight_[i]->wait();
  in_flight_[i].reset();
  return units_[i]->views(buffers_[i % buffers_.size()].narrow(0, 0, units_[i]->layout().padded_numel()));
}

}  // namespace epalm::parallel
