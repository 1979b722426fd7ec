// The process's membership in a job. Initialises MPI only when an MPI launcher
// started us (a plain `epalm` needs no MPI runtime), checks the launcher's view
// against MPI's own, derives the local rank from a shared-memory split, and
// finalises on destruction. One World per process.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "epalm/distributed/topology.h"

namespace epalm::distributed {

class World {
 public:
  // Reads the topology from the environment; initialises MPI if needed.
  World();
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  const Topology& topology() const { return topology_; }
  int rank() const { return topology_.rank; }
  int size() const { return topology_.world; }
  bool uses_mpi() const { return uses_mpi_; }

  void barrier() const;
  // Every rank's text, in rank order, on rank 0; empty elsewhere.
  std::vector<std::string> gather_text(const std::string& text) const;
  double all_reduce_max(double value) const;
  double all_reduce_min(double value) const;
  // Ends every rank of the job now (MPI_Abort under MPI, exit otherwise).
  [[noreturn]] void abort(int code) const;

 private:
  Topology topology_;
  bool uses_mpi_ = false;
};

// The MPI library's own version line ("Open MPI v4.1.4 ..."), without initialising MPI.
std::string mpi_library_version();
// NCCL's version ("2.29.7") when this build has NCCL, else "not built".
std::string nccl_version();

}  // namespace epalm::distributed
