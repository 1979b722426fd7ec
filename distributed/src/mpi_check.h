// MPI return codes as errors: anything but MPI_SUCCESS throws epalm::Error
// naming the call, with MPI's own description of the code.
#pragma once

#include <mpi.h>

#include <string>

#include "epalm/core/error.h"

namespace epalm::distributed {

inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(call, std::string(text, static_cast<size_t>(length)));
}

}  // namespace epalm::distributed
