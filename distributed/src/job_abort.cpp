#include "job_abort.h"

#include <mpi.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "epalm/core/error.h"

namespace epalm::distributed {

void abort_job(const std::string& why) {
  spdlog::critical("{}; aborting every rank", why);
  std::fflush(nullptr);
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, kExitFailure);
  std::_Exit(kExitFailure);
}

}  // namespace epalm::distributed
