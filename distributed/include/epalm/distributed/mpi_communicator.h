// The MPI backend: collectives over CPU tensors of every dtype (bf16 and
// fp16 reduced in fp32 per element), non-blocking MPI calls behind Work
// handles, counts beyond INT_MAX split into several calls, and a watchdog
// that aborts the job when a collective does not finish in time. Works on a
// duplicate of MPI_COMM_WORLD, so its traffic never mixes with the World's.
#pragma once

#include <memory>

#include "epalm/core/parallel/communicator.h"
#include "epalm/distributed/communicators.h"

namespace epalm::distributed {

class World;

class MpiCommunicator final : public parallel::Communicator {
 public:
  // Collective over the world's ranks; needs world.uses_mpi().
  MpiCommunicator(const World& world, const CommunicatorOptions& options = {});
  ~MpiCommunicator() override;

  int rank() const override;
  int size() const override;
  std::string backend() const override { return "mpi"; }
  [[noreturn]] void abort(const std::string& why) override;

  // MPI collective calls issued so far (more than the collectives when large
  // ones are split).
  std::int64_t mpi_calls() const;

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
