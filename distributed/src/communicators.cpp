#include "epalm/distributed/communicators.h"

#include "epalm/build_config.h"
#include "epalm/core/error.h"
#include "epalm/core/parallel/local_communicator.h"
#include "epalm/distributed/mpi_communicator.h"
#include "epalm/distributed/world.h"
#if EPALM_HAVE_NCCL
#include "epalm/distributed/nccl_communicator.h"
#endif

namespace epalm::distributed {

bool nccl_available() { return EPALM_HAVE_NCCL != 0; }

std::string resolve_backend(const World& world, c10::Device device, const std::string& backend) {
  if (backend != "auto") {
    if (backend != "local" && backend != "mpi" && backend != "nccl") {
      throw UsageError("--comm-backend", "'" + backend + "' is not one of auto, local, mpi, nccl");
    }
    return backend;
  }
  if (device.is_cuda() && nccl_available()) return "nccl";
  return world.size() > 1 || world.uses_mpi() ? "mpi" : "local";
}

std::unique_ptr<parallel::Communicator> make_communicator(const World& world, c10::Device device,
                                                const CommunicatorOptions& options) {
  const auto backend = resolve_backend(world, device, options.backend);
  if (backend == "local") {
    if (world.size() > 1) {
      throw UsageError("--comm-backend", "local serves one process; this job has " + std::to_string(world.size()) +
                                             " ranks");
    }
    return std::make_unique<parallel::LocalCommunicator>();
  }
  if (backend == "mpi") {
    if (!device.is_cpu()) throw UsageError("--comm-backend", "mpi carries CPU tensors, not " + device.str());
    return std::make_unique<MpiCommunicator>(world, options);
  }
#if EPALM_HAVE_NCCL
  return std::make_unique<NcclCommunicator>(world, device, options);
#else
  (void)device;
  throw UsageError("--comm-backend", "this build has no NCCL (configure with CUDA and NCCL present)");
#endif
}

}  // namespace epalm::distributed
