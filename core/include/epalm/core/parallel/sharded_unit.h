// A frozen unit (a transformer layer's large matrices) held 1/N per rank:
// each rank reads only its byte ranges of the tensors from the checkpoint
// into its shard, and all-gathers the whole unit into a buffer just before
// use. UnitGatherer runs a sequence of units with the next one's gather in
// flight while the current one is used (prefetch), reusing a fixed set of
// buffers, and frees nothing per step.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "epalm/core/parallel/shard_layout.h"

namespace epalm::safetensors {
class Checkpoint;
}

namespace epalm::parallel {

class Communicator;
class Work;

class ShardedUnit {
 public:
  // `names`: the unit's tensors in the checkpoint; converted to `dtype`.
  ShardedUnit(const safetensors::Checkpoint& checkpoint, const std::vector<std::string>& names, int rank, int world,
              c10::ScalarType dtype, c10::Device device);

  const ShardLayout& layout() const { return layout_; }
  const at::Tensor& shard() const { return shard_; }  // this rank's part, resident
  // A buffer for the gathered unit (padded_numel elements).
  at::Tensor make_buffer() const;
  // Starts gathering every rank's shard into `buffer`.
  std::unique_ptr<Work> gather_into(Communicator& communicator, const at::Tensor& buffer) const;
  // Each tensor, viewed in a gathered buffer with its shape.
  std::map<std::string, at::Tensor> views(const at::Tensor& buffer) const;
  // Bytes this rank read from the checkpoint.
  std::int64_t bytes_read() const { return bytes_read_; }

 private:
  ShardLayout layout_;
  at::Tensor shard_;
  std::int64_t bytes_read_ = 0;
};

class UnitGatherer {
 public:
  // Units are used in the order given (forward); `buffers` >= 2 lets the next
  // unit's gather run while the current one is used.
  UnitGatherer(Communicator& communicator, std::vector<const ShardedUnit*> units, int buffers = 2);
  // The same with the caller's buffers (each at least the largest unit's padded_numel).
  UnitGatherer(Communicator& communicator, std::vector<const ShardedUnit*> units, std::vector<at::Tensor> buffers);
  ~UnitGatherer();
  // Unit i's tensors, gathered; starts unit i+1's gather before returning.
  // Views stay valid until acquire(i + buffers - 1) reuses the buffer.
  std::map<std::string, at::Tensor> acquire(size_t i);

 private:
  void start(size_t i);
  Communicator& communicator_;
  std::vector<const ShardedUnit*> units_;
  std::vector<at::Tensor> buffers_;
  std::vector<std::unique_ptr<Work>> in_flight_;  // per unit
};

}  // namespace epalm::parallel
