// Choosing and making the Communicator for this process: NCCL for CUDA
// tensors (when built with NCCL), MPI for CPU tensors under mpirun, the
// world-size-1 LocalCommunicator for a plain process.
#pragma once

#include <c10/core/Device.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>

#include "epalm/core/parallel/communicator.h"

namespace epalm::distributed {

class World;

struct CommunicatorOptions {
  std::string backend = "auto";  // auto, local, mpi or nccl
  // A collective not finished after this long aborts the job (watchdog).
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
  // MPI: elements per MPI call; larger collectives are split into several
  // (MPI counts are int). Tests lower it to exercise the splitting.
  std::int64_t max_elements_per_call = INT_MAX;
};

// "auto" picks nccl for a CUDA device, mpi when the world has several ranks,
// local otherwise. Throws UsageError when the backend is unknown or cannot
// serve this world and device (mpi without MPI, nccl without NCCL or a GPU,
// local with several ranks).
std::unique_ptr<parallel::Communicator> make_communicator(const World& world, c10::Device device,
                                                const CommunicatorOptions& options = {});
// The backend "auto" resolves to.
std::string resolve_backend(const World& world, c10::Device device, const std::string& backend);
// Whether this build has the NCCL backend.
bool nccl_available();

}  // namespace epalm::distributed
