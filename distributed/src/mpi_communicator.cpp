#include "epalm/distributed/mpi_communicator.h"

#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "epalm/core/error.h"
#include "mpi_check.h"
#include "epalm/distributed/watchdog.h"
#include "epalm/distributed/world.h"
#include "job_abort.h"
#include "mpi_types.h"

namespace epalm::distributed {

namespace {

class MpiWork final : public parallel::Work {
 public:
  MpiWork(Watchdog& watchdog, std::uint64_t id, std::vector<MPI_Request> requests, std::function<void()> finish)
      : watchdog_(watchdog), id_(id), requests_(std::move(requests)), finish_(std::move(finish)) {}

  ~MpiWork() override {
    if (finished_) return;
    try {
      wait();
    } catch (const std::exception& e) {
      abort_job(std::string("an unfinished collective failed: ") + e.what());
    }
  }

  void wait() override {
    if (finished_) return;
    check_mpi(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    complete();
  }

  bool done() override {
    if (finished_) return true;
    int flag = 0;
    check_mpi(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag, MPI_STATUSES_IGNORE),
          "MPI_Testall");
    if (flag) complete();
    return finished_;
  }

 private:
  void complete() {
    watchdog_.end(id_);
    finished_ = true;
    if (finish_) finish_();
    finish_ = nullptr;  // releases the tensors it holds
  }

  Watchdog& watchdog_;
  std::uint64_t id_;
  std::vector<MPI_Request> requests_;
  std::function<void()> finish_;
  bool finished_ = false;
};

char* bytes(const at::Tensor& t) { return static_cast<char*>(t.data_ptr()); }

}  // namespace

struct MpiCommunicator::State {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  std::int64_t max_count = INT_MAX;
  std::int64_t calls = 0;
  std::uint64_t sequence = 0;
  MpiTypes types;
  std::unique_ptr<Watchdog> watchdog;

  std::string describe(const char* op, const at::Tensor& t, const std::string& detail) {
    return "rank " + std::to_string(rank) + " of " + std::to_string(size) + ": " + op + " #" +
           std::to_string(sequence++) + " (" + detail + (detail.empty() ? "" : ", ") + std::to_string(t.numel()) +
           " x " + c10::toString(t.scalar_type()) + ")";
  }

  // Runs issue(offset, count) for each piece of at most max_count elements.
  void for_each_chunk(std::int64_t n, const std::function<void(std::int64_t, int)>& issue) {
    for (std::int64_t offset = 0; offset < n; offset += max_count) {
      issue(offset, static_cast<int>(std::min(max_count, n - offset)));
      ++calls;
    }
  }

  std::unique_ptr<parallel::Work> start(std::string what, std::vector<MPI_Request> requests, std::function<void()> finish) {
    const auto id = watchdog->begin(std::move(what));
    return std::make_unique<MpiWork>(*watchdog, id, std::move(requests), std::move(finish));
  }
};

MpiCommunicator::MpiCommunicator(const World& world, const CommunicatorOptions& options)
    : state_(std::make_unique<State>()) {
  if (!world.uses_mpi()) throw UsageError("mpi backend", "this process was not started by mpirun");
  if (options.max_elements_per_call < 1 || options.max_elements_per_call > INT_MAX) {
    throw UsageError("mpi backend", "elements per call must be in [1, INT_MAX], not " +
                                        std::to_string(options.max_elements_per_call));
  }
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &state_->comm), "MPI_Comm_dup");
  MPI_Comm_rank(state_->comm, &state_->rank);
  MPI_Comm_size(state_->comm, &state_->size);
  state_->max_count = options.max_elements_per_call;
  state_->watchdog = std::make_unique<Watchdog>(options.timeout, [](const std::string& why) { abort_job(why); });
}

MpiCommunicator::~MpiCommunicator() {
  state_->watchdog.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && state_->comm != MPI_COMM_NULL) MPI_Comm_free(&state_->comm);
}

int MpiCommunicator::rank() const { return state_->rank; }
int MpiCommunicator::size() const { return state_->size; }
std::int64_t MpiCommunicator::mpi_calls() const { return state_->calls; }

void MpiCommunicator::abort(const std::string& why) {
  abort_job("rank " + std::to_string(state_->rank) + " of " + std::to_string(state_->size) + ": " + why);
}

std::unique_ptr<parallel::Work> MpiCommunicator::do_all_reduce(const at::Tensor& tensor, parallel::ReduceOp reduce) {
  auto& s = *state_;
  const auto type = s.types.datatype(tensor.scalar_type());
  const auto op = s.types.op(tensor.scalar_type(), reduce);
  const auto element = static_cast<std::int64_t>(tensor.element_size());
  std::vector<MPI_Request> requests;
  s.for_each_chunk(tensor.numel(), [&](std::int64_t offset, int count) {
    requests.emplace_back();
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, bytes(tensor) + offset * element, count, type, op, s.comm, &requests.back()),
          "MPI_Iallreduce");
  });
  std::function<void()> finish = [tensor] {};
  if (reduce == parallel::ReduceOp::kAvg) finish = [tensor, size = s.size] { tensor.div_(size); };
  return s.start(s.describe("all_reduce", tensor, reduce_op_name(reduce)), std::move(requests), std::move(finish));
}

std::unique_ptr<parallel::Work> MpiCommunicator::do_broadcast(const at::Tensor& tensor, int root) {
  auto& s = *state_;
  const auto type = s.types.datatype(tensor.scalar_type());
  const auto element = static_cast<std::int64_t>(tensor.element_size());
  std::vector<MPI_Request> requests;
  s.for_each_chunk(tensor.numel(), [&](std::int64_t offset, int count) {
    requests.emplace_back();
    check_mpi(MPI_Ibcast(bytes(tensor) + offset * element, count, type, root, s.comm, &requests.back()), "MPI_Ibcast");
  });
  return s.start(s.describe("broadcast", tensor, "root " + std::to_string(root)), std::move(requests),
                 [tensor] {});
}

std::unique_ptr<parallel::Work> MpiCommunicator::do_all_gather(const at::Tensor& shard, const at::Tensor& full) {
  auto& s = *state_;
  const auto n = shard.numel();
  const auto type = s.types.datatype(shard.scalar_type());
  const auto element = static_cast<std::int64_t>(shard.element_size());
  const bool in_place = parallel::is_rank_slot(full, shard, s.rank);
  std::vector<MPI_Request> requests;
  if (n > 0 && n <= s.max_count) {
    requests.emplace_back();
    check_mpi(MPI_Iallgather(in_place ? MPI_IN_PLACE : bytes(shard), static_cast<int>(n), type, bytes(full),
                         static_cast<int>(n), type, s.comm, &requests.back()),
          "MPI_Iallgather");
    ++s.calls;
  } else if (n > 0) {
    // Beyond one call's count: every rank broadcasts its slot in pieces.
    if (!in_place) std::memcpy(bytes(full) + s.rank * n * element, bytes(shard), static_cast<size_t>(n * element));
    for (int root = 0; root < s.size; ++root) {
      s.for_each_chunk(n, [&](std::int64_t offset, int count) {
        requests.emplace_back();
        check_mpi(MPI_Ibcast(bytes(full) + (root * n + offset) * element, count, type, root, s.comm, &requests.back()),
              "MPI_Ibcast");
      });
    }
  }
  return s.start(s.describe("all_gather", full, ""), std::move(requests), [shard, full] {});
}

std::unique_ptr<parallel::Work> MpiCommunicator::do_reduce_scatter(const at::Tensor& full, const at::Tensor& shard,
                                                         parallel::ReduceOp reduce) {
  auto& s = *state_;
  const auto n = shard.numel();
  const auto type = s.types.datatype(shard.scalar_type());
  const auto op = s.types.op(shard.scalar_type(), reduce);
  const auto element = static_cast<std::int64_t>(shard.element_size());
  const bool in_place = parallel::is_rank_slot(full, shard, s.rank);
  std::vector<MPI_Request> requests;
  at::Tensor target = shard;
  if (n > 0 && n <= s.max_count) {
    // MPI's in-place reduce-scatter reads the receive buffer, not our slot
    // layout: reduce into a scratch shard and copy it over at the end.
    if (in_place) target = torch::empty_like(shard);
    requests.emplace_back();
    check_mpi(MPI_Ireduce_scatter_block(bytes(full), bytes(target), static_cast<int>(n), type, op, s.comm,
                                    &requests.back()),
          "MPI_Ireduce_scatter_block");
    ++s.calls;
  } else if (n > 0) {
    // Beyond one call's count: one reduce per destination rank and piece.
    for (int root = 0; root < s.size; ++root) {
      s.for_each_chunk(n, [&](std::int64_t offset, int count) {
        const bool mine = root == s.rank;
        const void* send = mine && in_place ? MPI_IN_PLACE : bytes(full) + (root * n + offset) * element;
        void* receive = mine ? bytes(shard) + offset * element : nullptr;
        requests.emplace_back();
        check_mpi(MPI_Ireduce(send, receive, count, type, op, root, s.comm, &requests.back()), "MPI_Ireduce");
      });
    }
  }
  std::function<void()> finish = [full, shard, target, avg = reduce == parallel::ReduceOp::kAvg, size = s.size] {
    if (!target.is_same(shard)) shard.copy_(target);
    if (avg) shard.div_(size);
  };
  return s.start(s.describe("reduce_scatter", full, reduce_op_name(reduce)), std::move(requests), std::move(finish));
}

void MpiCommunicator::do_barrier() {
  auto& s = *state_;
  std::vector<MPI_Request> requests(1);
  check_mpi(MPI_Ibarrier(s.comm, &requests.back()), "MPI_Ibarrier");
  ++s.calls;
  s.start("rank " + std::to_string(s.rank) + " of " + std::to_string(s.size) + ": barrier #" +
              std::to_string(s.sequence++),
          std::move(requests), {})
      ->wait();
}

}  // namespace epalm::distributed
