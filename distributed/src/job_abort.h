// Ending the whole job from any rank: the reason on stderr, then MPI_Abort
// (mpirun kills every rank) or, without MPI, this process's exit.
#pragma once

#include <string>

namespace epalm::distributed {

[[noreturn]] void abort_job(const std::string& why);

}  // namespace epalm::distributed
