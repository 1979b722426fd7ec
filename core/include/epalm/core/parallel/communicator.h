// The collectives training needs, over flat tensors, as an interface: core's
// training code is written against it and runs in one process with the
// world-size-1 LocalCommunicator; epalm::distributed implements it with MPI
// (CPU tensors) and NCCL (CUDA tensors). Every rank must issue the same
// collectives in the same order with the same shapes.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace epalm::parallel {

enum class ReduceOp { kSum, kAvg, kMax, kMin };
const char* reduce_op_name(ReduceOp op);
// "sum", "avg", "max" or "min"; throws UsageError otherwise.
ReduceOp parse_reduce_op(const std::string& name);

// A collective in flight. wait() returns once the result may be used: on the
// CPU it is in the tensor; on a GPU the caller's current stream is ordered
// after it. Destroying an unfinished Work waits for it.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  // True once finished (never blocks).
  virtual bool done() = 0;
};

// A Work that is already finished (world size 1, empty tensors).
std::unique_ptr<Work> finished_work();

enum class Collective { kAllGather, kReduceScatter, kAllReduce, kBroadcast, kBarrier };
constexpr int kCollectiveKinds = 5;
const char* collective_name(Collective c);

// What a communicator was asked to do since the last reset: per collective the
// calls and the payload bytes (all_gather and reduce_scatter count the full
// tensor, the others the tensor itself).
struct CollectiveTally {
  std::int64_t calls = 0;
  std::int64_t bytes = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "local", "mpi" or "nccl".
  virtual std::string backend() const = 0;

  // full = the ranks' shards concatenated in rank order; full.numel() ==
  // size() * shard.numel(). shard may be full's own slice [rank*n, (rank+1)*n).
  std::unique_ptr<Work> all_gather(const at::Tensor& shard, const at::Tensor& full);
  // shard = slice [rank*n, (rank+1)*n) of the element-wise reduction of every
  // rank's full; shard may be that slice of full itself.
  std::unique_ptr<Work> reduce_scatter(const at::Tensor& full, const at::Tensor& shard, ReduceOp op);
  // In place on every rank. kAvg needs a floating dtype.
  std::unique_ptr<Work> all_reduce(const at::Tensor& tensor, ReduceOp op);
  // In place: every rank ends with root's tensor.
  std::unique_ptr<Work> broadcast(const at::Tensor& tensor, int root);
  void barrier();
  // Ends every rank of the job now, saying why on stderr; never returns.
  [[noreturn]] virtual void abort(const std::string& why) = 0;

  const CollectiveTally& tally(Collective c) const { return tallies_[static_cast<int>(c)]; }
  void reset_tallies() { tallies_ = {}; }

 protected:
  // Called after the arguments are checked (contiguous, same dtype and device,
  // consistent sizes, root in range, kAvg on floating types only).
  virtual std::unique_ptr<Work> do_all_gather(const at::Tensor& shard, const at::Tensor& full) = 0;
  virtual std::unique_ptr<Work> do_reduce_scatter(const at::Tensor& full, const at::Tensor& shard, ReduceOp op) = 0;
  virtual std::unique_ptr<Work> do_all_reduce(const at::Tensor& tensor, ReduceOp op) = 0;
  virtual std::unique_ptr<Work> do_broadcast(const at::Tensor& tensor, int root) = 0;
  virtual void do_barrier() = 0;

 private:
  std::array<CollectiveTally, kCollectiveKinds> tallies_{};
};

// True when b's storage bytes lie exactly at a's slot [rank*n, (rank+1)*n)
// for a shard b of n elements: the in-place forms of all_gather/reduce_scatter.
bool is_rank_slot(const at::Tensor& full, const at::Tensor& shard, int rank);

}  // namespace epalm::parallel
