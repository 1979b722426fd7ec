// How a unit's large frozen tensors lie in one flat buffer that N ranks share:
// members one after another at aligned offsets, the tail padded so the total
// divides by N; rank r holds elements [r*n, (r+1)*n). pieces(r) says which
// parts of which tensors fall into rank r's shard, so a rank can read exactly
// those byte ranges from a checkpoint and never the whole unit.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace epalm::parallel {

struct ShardMember {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;  // in the flat buffer, elements
  std::int64_t numel = 0;
};

// Elements [tensor_offset, tensor_offset + count) of member `member` go to
// [shard_offset, shard_offset + count) of a rank's shard.
struct ShardPiece {
  size_t member = 0;
  std::int64_t tensor_offset = 0;
  std::int64_t shard_offset = 0;
  std::int64_t count = 0;
};

class ShardLayout {
 public:
  // Members in the given order, each starting at a multiple of `alignment`
  // elements (so gathered views stay aligned for vectorised kernels).
  ShardLayout(const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& tensors, int world,
              std::int64_t alignment = 64);

  int world() const { return world_; }
  const std::vector<ShardMember>& members() const { return members_; }
  std::int64_t padded_numel() const { return shard_numel_ * world_; }
  std::int64_t shard_numel() const { return shard_numel_; }
  // Elements that are tensors (the rest is alignment and tail padding).
  std::int64_t payload_numel() const;
  std::vector<ShardPiece> pieces(int rank) const;

 private:
  std::vector<ShardMember> members_;
  int world_ = 1;
  std::int64_t shard_numel_ = 0;
};

}  // namespace epalm::parallel
