#include "epalm/core/parallel/communicator.h"

#include <c10/core/ScalarType.h>

#include "epalm/core/error.h"

namespace epalm::parallel {

namespace {

class FinishedWork final : public Work {
 public:
  void wait() override {}
  bool done() override { return true; }
};

std::string describe(const at::Tensor& t) {
  return std::to_string(t.numel()) + " x " + std::string(c10::toString(t.scalar_type())) + " on " + t.device().str();
}

void require_usable(const char* op, const char* role, const at::Tensor& t) {
  if (!t.defined()) throw Error(op, std::string(role) + " is an undefined tensor");
  if (!t.is_contiguous()) throw Error(op, std::string(role) + " must be contiguous (" + describe(t) + ")");
  if (t.is_complex() || t.is_quantized() || t.is_sparse()) {
    throw Error(op, std::string(role) + " has an unsupported layout or dtype (" + describe(t) + ")");
  }
}

void require_alike(const char* op, const at::Tensor& a, const char* a_role, const at::Tensor& b, const char* b_role) {
  if (a.scalar_type() != b.scalar_type() || a.device() != b.device()) {
    throw Error(op, std::string(a_role) + " (" + describe(a) + ") and " + b_role + " (" + describe(b) +
                        ") differ in dtype or device");
  }
}

void require_reducible(const char* op, const at::Tensor& t, ReduceOp reduce) {
  if (t.scalar_type() == at::kBool) {
    throw Error(op, std::string("cannot ") + reduce_op_name(reduce) + " bool tensors (use uint8)");
  }
  if (reduce == ReduceOp::kAvg && !at::isFloatingType(t.scalar_type())) {
    throw Error(op, "avg needs a floating dtype, not " + std::string(c10::toString(t.scalar_type())));
  }
}

std::int64_t bytes_of(const at::Tensor& t) { return t.numel() * static_cast<std::int64_t>(t.element_size()); }

void require_slot_or_disjoint(const char* op, const at::Tensor& full, const at::Tensor& shard, int rank) {
  if (is_rank_slot(full, shard, rank)) return;
  const auto* f = static_cast<const char*>(full.data_ptr());
  const auto* s = static_cast<const char*>(shard.data_ptr());
  const bool overlap = f < s + bytes_of(shard) && s < f + bytes_of(full);
  if (overlap && bytes_of(shard) > 0) {
    throw Error(op, "shard overlaps full but is not this rank's slice of it (rank " + std::to_string(rank) + ")");
  }
}

}  // namespace

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAvg: return "avg";
    case ReduceOp::kMax: return "max";
    case ReduceOp::kMin: return "min";
  }
  return "?";
}

ReduceOp parse_reduce_op(const std::string& name) {
  for (auto op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax, ReduceOp::kMin}) {
    if (name == reduce_op_name(op)) return op;
  }
  throw UsageError("reduce op", "'" + name + "' is not one of sum, avg, max, min");
}

const char* collective_name(Collective c) {
  switch (c) {
    case Collective::kAllGather: return "all_gather";
    case Collective::kReduceScatter: return "reduce_scatter";
    case Collective::kAllReduce: return "all_reduce";
    case Collective::kBroadcast: return "broadcast";
    case Collective::kBarrier: return "barrier";
  }
  return "?";
}

std::unique_ptr<Work> finished_work() { return std::make_unique<FinishedWork>(); }

bool is_rank_slot(const at::Tensor& full, const at::Tensor& shard, int rank) {
  if (!full.defined() || !shard.defined() || shard.numel() == 0) return false;
  if (full.scalar_type() != shard.scalar_type() || full.device() != shard.device()) return false;
  const auto* f = static_cast<const char*>(full.data_ptr());
  const auto* s = static_cast<const char*>(shard.data_ptr());
  return s == f + static_cast<std::int64_t>(rank) * bytes_of(shard);
}

std::unique_ptr<Work> Communicator::all_gather(const at::Tensor& shard, const at::Tensor& full) {
  const char* op = "all_gather";
  require_usable(op, "shard", shard);
  require_usable(op, "full", full);
  require_alike(op, shard, "shard", full, "full");
  if (full.numel() != shard.numel() * size()) {
    throw Error(op, "full has " + std::to_string(full.numel()) + " elements, expected " + std::to_string(size()) +
                        " ranks x " + std::to_string(shard.numel()) + " (the shard)");
  }
  require_slot_or_disjoint(op, full, shard, rank());
  auto& t = tallies_[static_cast<int>(Collective::kAllGather)];
  ++t.calls;
  t.bytes += bytes_of(full);
  return do_all_gather(shard, full);
}

std::unique_ptr<Work> Communicator::reduce_scatter(const at::Tensor& full, const at::Tensor& shard, ReduceOp reduce) {
  const char* op = "reduce_scatter";
  require_usable(op, "full", full);
  require_usable(op, "shard", shard);
  require_alike(op, full, "full", shard, "shard");
  require_reducible(op, full, reduce);
  if (full.numel() != shard.numel() * size()) {
    throw Error(op, "full has " + std::to_string(full.numel()) + " elements, expected " + std::to_string(size()) +
                        " ranks x " + std::to_string(shard.numel()) + " (the shard)");
  }
  require_slot_or_disjoint(op, full, shard, rank());
  auto& t = tallies_[static_cast<int>(Collective::kReduceScatter)];
  ++t.calls;
  t.bytes += bytes_of(full);
  return do_reduce_scatter(full, shard, reduce);
}

std::unique_ptr<Work> Communicator::all_reduce(const at::Tensor& tensor, ReduceOp reduce) {
  const char* op = "all_reduce";
  require_usable(op, "tensor", tensor);
  require_reducible(op, tensor, reduce);
  auto& t = tallies_[static_cast<int>(Collective::kAllReduce)];
  ++t.calls;
  t.bytes += bytes_of(tensor);
  return do_all_reduce(tensor, reduce);
}

std::unique_ptr<Work> Communicator::broadcast(const at::Tensor& tensor, int root) {
  const char* op = "broadcast";
  require_usable(op, "tensor", tensor);
  if (root < 0 || root >= size()) {
    throw Error(op, "root " + std::to_string(root) + " is not a rank of this world of " + std::to_string(size()));
  }
  auto& t = tallies_[static_cast<int>(Collective::kBroadcast)];
  ++t.calls;
  t.bytes += bytes_of(tensor);
  return do_broadcast(tensor, root);
}

void Communicator::barrier() {
  ++tallies_[static_cast<int>(Collective::kBarrier)].calls;
  do_barrier();
}

}  // namespace epalm::parallel
