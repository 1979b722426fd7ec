// The NCCL backend (built when EPALM_HAVE_NCCL): collectives over CUDA
// tensors on this rank's device. The NCCL id is bootstrapped over MPI; the
// communicator is non-blocking, so initialisation and every call can time out
// instead of hanging; collectives run on one high-priority stream that waits
// for the caller's stream, and Work::wait() orders the caller's current stream
// after them (no host synchronisation). A watchdog polls for completion and
// NCCL's asynchronous errors and, on a timeout or error, calls ncclCommAbort
// and MPI_Abort.
#pragma once

#include <c10/core/Device.h>

#include <memory>

#include "epalm/core/parallel/communicator.h"
#include "epalm/distributed/communicators.h"

namespace epalm::distributed {

class World;

class NcclCommunicator final : public parallel::Communicator {
 public:
  // Collective over the world's ranks (MPI carries the NCCL id when the world
  // has several); `device` is this rank's GPU.
  NcclCommunicator(const World& world, c10::Device device, const CommunicatorOptions& options = {});
  ~NcclCommunicator() override;

  int rank() const override;
  int size() const override;
  std::string backend() const override { return "nccl"; }
  [[noreturn]] void abort(const std::string& why) override;

 protected:
  std::unique_ptr<parallel::Work> do_all_gather(const at::Tensor& shard, const at::Tensor& full) override;
  std::unique_ptr<parallel::Work> do_reduce_scatter(const at::Tensor& full, const at::Tensor& shard, parallel::ReduceOp op) override;
  std::unique_ptr<parallel::Work> do_all_reduce(const at::Tensor& tensor, parallel::ReduceOp op) override;
  std::unique_ptr<parallel::Work> do_broadcast(const at::Tensor& tensor, int root) override;
  void do_barrier() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace epalm::distributed
