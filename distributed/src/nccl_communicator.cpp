#include "epalm/distributed/nccl_communicator.h"

#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <mpi.h>
#include <nccl.h>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <thread>

#include "epalm/core/error.h"
#include "epalm/distributed/watchdog.h"
#include "epalm/distributed/world.h"
#include "job_abort.h"

namespace epalm::distributed {

namespace {

using Clock = std::chrono::steady_clock;

ncclDataType_t nccl_type(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kBool:
    case c10::kByte: return ncclUint8;
    case c10::kChar: return ncclInt8;
    case c10::kInt: return ncclInt32;
    case c10::kLong: return ncclInt64;
    case c10::kHalf: return ncclFloat16;
    case c10::kBFloat16: return ncclBfloat16;
    case c10::kFloat: return ncclFloat32;
    case c10::kDouble: return ncclFloat64;
    default: throw Error("nccl backend", std::string("cannot carry ") + c10::toString(dtype) + " tensors");
  }
}

ncclRedOp_t nccl_op(parallel::ReduceOp reduce) {
  switch (reduce) {
    case parallel::ReduceOp::kSum: return ncclSum;
    case parallel::ReduceOp::kAvg: return ncclAvg;
    case parallel::ReduceOp::kMax: return ncclMax;
    case parallel::ReduceOp::kMin: return ncclMin;
  }
  return ncclSum;
}

class NcclWork final : public parallel::Work {
 public:
  NcclWork(std::shared_ptr<at::cuda::CUDAEvent> finished, c10::Device device, std::vector<at::Tensor> tensors)
      : finished_(std::move(finished)), device_(device), tensors_(std::move(tensors)) {}
  ~NcclWork() override {
    if (!waited_) wait();
  }
  void wait() override {
    // The caller's stream runs after the collective; the host does not wait.
    c10::cuda::CUDAGuard guard(device_);
    finished_->block(c10::cuda::getCurrentCUDAStream(device_.index()));
    waited_ = true;
    tensors_.clear();
  }
  bool done() override { return finished_->query(); }

 private:
  std::shared_ptr<at::cuda::CUDAEvent> finished_;
  c10::Device device_;
  std::vector<at::Tensor> tensors_;
  bool waited_ = false;
};

}  // namespace

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  int rank = 0;
  int size = 1;
  c10::Device device = c10::Device(c10::kCUDA, 0);
  std::chrono::milliseconds timeout{};
  std::uint64_t sequence = 0;
  std::unique_ptr<c10::cuda::CUDAStream> stream;
  std::unique_ptr<Watchdog> watchdog;

  [[noreturn]] void fail(const std::string& why) {
    if (comm != nullptr) ncclCommAbort(comm);  // stops kernels that would wait on a dead peer forever
    comm = nullptr;
    abort_job("rank " + std::to_string(rank) + " of " + std::to_string(size) + ": " + why);
  }

  // Non-blocking NCCL: a call may return ncclInProgress; it is complete when
  // the communicator's state leaves ncclInProgress.
  void settle(ncclResult_t result, const char* what) {
    const auto deadline = Clock::now() + timeout;
    while (result == ncclInProgress) {
      if (Clock::now() > deadline) fail(std::string(what) + " did not complete within " + describe_duration(timeout));
      std::this_thread::yield();
      ncclCommGetAsyncError(comm, &result);
    }
    if (result != ncclSuccess) {
      fail(std::string(what) + " failed: " + ncclGetErrorString(result) + " (" + ncclGetLastError(comm) + ")");
    }
  }

  std::unique_ptr<parallel::Work> run(const std::string& what, std::vector<at::Tensor> tensors,
                            const std::function<ncclResult_t(cudaStream_t)>& call) {
    for (const auto& t : tensors) {
      if (t.device() != device) {
        throw Error("nccl backend", what + ": tensor on " + t.device().str() + ", this rank's device is " +
                                        device.str());
      }
    }
    c10::cuda::CUDAGuard guard(device);
    // The collective's stream first waits for the caller's work on the tensors.
    at::cuda::CUDAEvent ready;
    ready.record(c10::cuda::getCurrentCUDAStream(device.index()));
    ready.block(*stream);
    settle(call(stream->stream()), what.c_str());
    auto finished = std::make_shared<at::cuda::CUDAEvent>();
    finished->record(*stream);
    ncclComm_t c = comm;
    watchdog->begin(what, [this, finished, c, what] {
      ncclResult_t error = ncclSuccess;
      ncclCommGetAsyncError(c, &error);
      if (error != ncclSuccess && error != ncclInProgress) {
        fail(what + ": NCCL reported " + ncclGetErrorString(error));
      }
      return finished->query();
    });
    return std::make_unique<NcclWork>(std::move(finished), device, std::move(tensors));
  }

  std::string describe(const char* op, const at::Tensor& t, const std::string& detail) {
    return "rank " + std::to_string(rank) + " of " + std::to_string(size) + ": " + op + " #" +
           std::to_string(sequence++) + " (" + detail + (detail.empty() ? "" : ", ") + std::to_string(t.numel()) +
           " x " + c10::toString(t.scalar_type()) + ")";
  }
};

NcclCommunicator::NcclCommunicator(const World& world, c10::Device device, const CommunicatorOptions& options)
    : state_(std::make_unique<State>()) {
  auto& s = *state_;
  if (!device.is_cuda() || !device.has_index()) {
    throw UsageError("nccl backend", "needs a CUDA device with an index, not " + device.str());
  }
  if (world.size() > 1 && !world.uses_mpi()) {
    throw UsageError("nccl backend", "several ranks without MPI: start the job with mpirun");
  }
  s.rank = world.rank();
  s.size = world.size();
  s.device = device;
  s.timeout = options.timeout;
  c10::cuda::CUDAGuard guard(device);

  ncclUniqueId id{};
  if (s.rank == 0 && ncclGetUniqueId(&id) != ncclSuccess) throw Error("nccl backend", "ncclGetUniqueId failed");
  if (world.uses_mpi() && MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
    throw Error("nccl backend", "broadcasting the NCCL id over MPI failed");
  }
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const auto started = ncclCommInitRankConfig(&s.comm, s.size, id, s.rank, &config);
  if (started != ncclSuccess && started != ncclInProgress) {
    throw Error("nccl backend", std::string("ncclCommInitRankConfig failed: ") + ncclGetErrorString(started));
  }
  s.settle(started, "ncclCommInitRankConfig");
  s.stream = std::make_unique<c10::cuda::CUDAStream>(
      c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device.index()));
  s.watchdog = std::make_unique<Watchdog>(options.timeout, [this](const std::string& why) { state_->fail(why); });
  world.barrier();  // every rank has its communicator before the first collective
}

NcclCommunicator::~NcclCommunicator() {
  auto& s = *state_;
  if (s.comm == nullptr) return;
  {
    c10::cuda::CUDAGuard guard(s.device);
    s.stream->synchronize();
  }
  s.watchdog.reset();
  s.settle(ncclCommFinalize(s.comm), "ncclCommFinalize");
  ncclCommDestroy(s.comm);
}

int NcclCommunicator::rank() const { return state_->rank; }
int NcclCommunicator::size() const { return state_->size; }

void NcclCommunicator::abort(const std::string& why) { state_->fail(why); }

std::unique_ptr<parallel::Work> NcclCommunicator::do_all_reduce(const at::Tensor& tensor, parallel::ReduceOp reduce) {
  auto& s = *state_;
  const auto type = nccl_type(tensor.scalar_type());
  return s.run(s.describe("all_reduce", tensor, reduce_op_name(reduce)), {tensor}, [&](cudaStream_t stream) {
    return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()), type,
                         nccl_op(reduce), s.comm, stream);
  });
}

std::unique_ptr<parallel::Work> NcclCommunicator::do_broadcast(const at::Tensor& tensor, int root) {
  auto& s = *state_;
  const auto type = nccl_type(tensor.scalar_type());
  return s.run(s.describe("broadcast", tensor, "root " + std::to_string(root)), {tensor}, [&](cudaStream_t stream) {
    return ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()), type, root,
                         s.comm, stream);
  });
}

std::unique_ptr<parallel::Work> NcclCommunicator::do_all_gather(const at::Tensor& shard, const at::Tensor& full) {
  auto& s = *state_;
  const auto type = nccl_type(shard.scalar_type());
  // NCCL's in-place form is exactly shard == full's slot for this rank.
  return s.run(s.describe("all_gather", full, ""), {shard, full}, [&](cudaStream_t stream) {
    return ncclAllGather(shard.data_ptr(), full.data_ptr(), static_cast<size_t>(shard.numel()), type, s.comm, stream);
  });
}

std::unique_ptr<parallel::Work> NcclCommunicator::do_reduce_scatter(const at::Tensor& full, const at::Tensor& shard,
                                                          parallel::ReduceOp reduce) {
  auto& s = *state_;
  const auto type = nccl_type(shard.scalar_type());
  return s.run(s.describe("reduce_scatter", full, reduce_op_name(reduce)), {full, shard}, [&](cudaStream_t stream) {
    return ncclReduceScatter(full.data_ptr(), shard.data_ptr(), static_cast<size_t>(shard.numel()), type,
                             nccl_op(reduce), s.comm, stream);
  });
}

void NcclCommunicator::do_barrier() {
  // A one-element all-reduce, then the host waits for it: every rank got here.
  auto& s = *state_;
  auto token = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat).device(s.device));
  auto work = s.run("rank " + std::to_string(s.rank) + " of " + std::to_string(s.size) + ": barrier #" +
                        std::to_string(s.sequence++),
                    {token}, [&](cudaStream_t stream) {
                      return ncclAllReduce(token.data_ptr(), token.data_ptr(), 1, ncclFloat32, ncclSum, s.comm, stream);
                    });
  work->wait();
  c10::cuda::CUDAGuard guard(s.device);
  c10::cuda::getCurrentCUDAStream(s.device.index()).synchronize();
}

}  // namespace epalm::distributed
