#include "epalm/core/parallel/shard_layout.h"

#include <algorithm>
#include <numeric>

#include "epalm/core/error.h"

namespace epalm::parallel {

ShardLayout::ShardLayout(const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& tensors, int world,
                         std::int64_t alignment)
    : world_(world) {
  if (world < 1) throw Error("shard layout", "world size must be >= 1, not " + std::to_string(world));
  if (alignment < 1) throw Error("shard layout", "alignment must be >= 1");
  std::int64_t end = 0;
  for (const auto& [name, shape] : tensors) {
    ShardMember m;
    m.name = name;
    m.shape = shape;
    m.numel = std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
    m.offset = (end + alignment - 1) / alignment * alignment;
    end = m.offset + m.numel;
    members_.push_back(std::move(m));
  }
  shard_numel_ = (end + world - 1) / world;
}

std::int64_t ShardLayout::payload_numel() const {
  std::int64_t n = 0;
  for (const auto& m : members_) n += m.numel;
  return n;
}

std::vector<ShardPiece> ShardLayout::pieces(int rank) const {
  if (rank < 0 || rank >= world_) {
    throw Error("shard layout", "rank " + std::to_string(rank) + " is not in a world of " + std::to_string(world_));
  }
  const std::int64_t begin = rank * shard_numel_;
  const std::int64_t end = begin + shard_numel_;
  std::vector<ShardPiece> out;
  for (size_t i = 0; i < members_.size(); ++i) {
    const auto& m = members_[i];
    const auto lo = std::max(begin, m.offset);
    const auto hi = std::min(end, m.offset + m.numel);
    if (lo >= hi) continue;
    out.push_back({i, lo - m.offset, lo - begin, hi - lo});
  }
  return out;
}

}  // namespace epalm::parallel
