// LibTorch dtypes as MPI datatypes and reduction operations. bf16 and fp16
// have no MPI type: they travel as a 2-byte type with user-defined
// reductions that compute in fp32 per element.
#pragma once

#include <c10/core/ScalarType.h>
#include <mpi.h>

#include "epalm/core/parallel/communicator.h"

namespace epalm::distributed {

class MpiTypes {
 public:
  MpiTypes();  // needs MPI initialised
  ~MpiTypes();
  MpiTypes(const MpiTypes&) = delete;
  MpiTypes& operator=(const MpiTypes&) = delete;

  // Throws epalm::Error for a dtype MPI cannot carry (complex, quantized).
  MPI_Datatype datatype(c10::ScalarType dtype) const;
  // kAvg maps to the sum (the caller divides).
  MPI_Op op(c10::ScalarType dtype, parallel::ReduceOp reduce) const;

 private:
  MPI_Datatype two_bytes_ = MPI_DATATYPE_NULL;
  MPI_Op half_ops_[2][3] = {};  // [bf16, fp16][sum, max, min]
};

}  // namespace epalm::distributed
