// Where this process sits among the ranks of a job, as its launcher says.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace epalm::distributed {

struct Topology {
  int rank = 0;
  int world = 1;
  int local_rank = 0;  // rank among the processes on this node
  int local_world = 1;
  std::string host;
  std::string launcher = "none";  // openmpi, mpich, mvapich, slurm, torchrun or none

  bool is_root() const { return rank == 0; }
  // True when an MPI launcher started us, so MPI must be initialised.
  bool launched_by_mpi() const;
};

using EnvironmentLookup = std::function<std::optional<std::string>(const char*)>;

// Reads the launcher's variables in a fixed order (Open MPI, MPICH/PMI,
// MVAPICH, SLURM, torchrun); world size 1 when none is set. Throws
// epalm::Error naming the variable when one is malformed or inconsistent.
Topology topology_from_environment(const EnvironmentLookup& lookup);
Topology topology_from_environment();

}  // namespace epalm::distributed
