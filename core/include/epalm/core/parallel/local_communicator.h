// The world-size-1 Communicator: one process is the whole job, so every
// collective is a copy at most. Training runs on it without MPI.
#pragma once

#include "epalm/core/parallel/communicator.h"

namespace epalm::parallel {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }
  [[noreturn]] void abort(const std::string& why) override;

 protected:
  std::unique_ptr<Work> do_all_gather(const at::Tensor& shard, const at::Tensor& full) override;
  std::unique_ptr<Work> do_reduce_scatter(const at::Tensor& full, const at::Tensor& shard, ReduceOp op) override;
  std::unique_ptr<Work> do_all_reduce(const at::Tensor& tensor, ReduceOp op) override;
  std::unique_ptr<Work> do_broadcast(const at::Tensor& tensor, int root) override;
  void do_barrier() override {}
};

}  // namespace epalm::parallel
