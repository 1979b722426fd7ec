#include "mpi_types.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <string>

#include "epalm/core/error.h"

namespace epalm::distributed {

namespace {

struct Sum {
  float operator()(float a, float b) const { return a + b; }
};
struct Max {
  float operator()(float a, float b) const { return std::max(a, b); }
};
struct Min {
  float operator()(float a, float b) const { return std::min(a, b); }
};

template <typename T, typename F>
void reduce_half(void* in, void* inout, int* length, MPI_Datatype*) {
  const auto* a = static_cast<const T*>(in);
  auto* b = static_cast<T*>(inout);
  const F f;
  for (int i = 0; i < *length; ++i) b[i] = T(f(static_cast<float>(a[i]), static_cast<float>(b[i])));
}

template <typename T>
void create_ops(MPI_Op (&ops)[3]) {
  MPI_Op_create(&reduce_half<T, Sum>, /*commute=*/1, &ops[0]);
  MPI_Op_create(&reduce_half<T, Max>, 1, &ops[1]);
  MPI_Op_create(&reduce_half<T, Min>, 1, &ops[2]);
}

int op_index(parallel::ReduceOp reduce) {
  switch (reduce) {
    case parallel::ReduceOp::kSum:
    case parallel::ReduceOp::kAvg: return 0;
    case parallel::ReduceOp::kMax: return 1;
    case parallel::ReduceOp::kMin: return 2;
  }
  return 0;
}

}  // namespace

MpiTypes::MpiTypes() {
  MPI_Type_contiguous(2, MPI_BYTE, &two_bytes_);
  MPI_Type_commit(&two_bytes_);
  create_ops<c10::BFloat16>(half_ops_[0]);
  create_ops<c10::Half>(half_ops_[1]);
}

MpiTypes::~MpiTypes() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  for (auto& ops : half_ops_) {
    for (auto& op : ops) MPI_Op_free(&op);
  }
  MPI_Type_free(&two_bytes_);
}

MPI_Datatype MpiTypes::datatype(c10::ScalarType dtype) const {
  switch (dtype) {
    case c10::kBool:
    case c10::kByte: return MPI_UINT8_T;
    case c10::kChar: return MPI_INT8_T;
    case c10::kShort: return MPI_INT16_T;
    case c10::kInt: return MPI_INT32_T;
    case c10::kLong: return MPI_INT64_T;
    case c10::kFloat: return MPI_FLOAT;
    case c10::kDouble: return MPI_DOUBLE;
    case c10::kBFloat16:
    case c10::kHalf: return two_bytes_;
    default: throw Error("MPI communicator", std::string("cannot carry ") + c10::toString(dtype) + " tensors");
  }
}

MPI_Op MpiTypes::op(c10::ScalarType dtype, parallel::ReduceOp reduce) const {
  if (dtype == c10::kBFloat16) return half_ops_[0][op_index(reduce)];
  if (dtype == c10::kHalf) return half_ops_[1][op_index(reduce)];
  switch (reduce) {
    case parallel::ReduceOp::kSum:
    case parallel::ReduceOp::kAvg: return MPI_SUM;
    case parallel::ReduceOp::kMax: return MPI_MAX;
    case parallel::ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

}  // namespace epalm::distributed
