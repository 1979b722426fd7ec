#include "epalm/distributed/world.h"

#include <mpi.h>

#include <cstdlib>

#include "epalm/core/error.h"
#include "mpi_check.h"

namespace epalm::distributed {

namespace {

double all_reduce(double value, MPI_Op op, bool uses_mpi) {
  if (!uses_mpi) return value;
  double result = value;
  check_mpi(MPI_Allreduce(&value, &result, 1, MPI_DOUBLE, op, MPI_COMM_WORLD), "MPI_Allreduce");
  return result;
}

}  // namespace

World::World() : topology_(topology_from_environment()) {
  if (!topology_.launched_by_mpi()) return;
  int already = 0;
  MPI_Initialized(&already);
  if (already) throw Error("MPI", "initialised twice: only one epalm::distributed::World may exist");
  int provided = 0;
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
  uses_mpi_ = true;
  // Errors come back as codes so they become epalm::Error with a message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank != topology_.rank || size != topology_.world) {
    throw Error("MPI", "the launcher says rank " + std::to_string(topology_.rank) + " of " +
                           std::to_string(topology_.world) + " but MPI says " + std::to_string(rank) + " of " +
                           std::to_string(size));
  }
  // The node-local rank as MPI sees it: ranks sharing memory with us.
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  MPI_Comm_rank(node, &topology_.local_rank);
  MPI_Comm_size(node, &topology_.local_world);
  MPI_Comm_free(&node);
}

World::~World() {
  if (!uses_mpi_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void World::barrier() const {
  if (uses_mpi_) check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

std::vector<std::string> World::gather_text(const std::string& text) const {
  if (!uses_mpi_) return {text};
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(rank() == 0 ? size() : 0);
  check_mpi(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::vector<int> offsets(lengths.size(), 0);
  int total = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    offsets[i] = total;
    total += lengths[i];
  }
  std::string joined(static_cast<size_t>(total), '\0');
  check_mpi(MPI_Gatherv(text.data(), length, MPI_CHAR, joined.data(), lengths.data(), offsets.data(), MPI_CHAR, 0,
                    MPI_COMM_WORLD),
        "MPI_Gatherv");
  std::vector<std::string> out;
  for (size_t i = 0; i < lengths.size(); ++i) out.push_back(joined.substr(offsets[i], lengths[i]));
  return out;
}

double World::all_reduce_max(double value) const { return all_reduce(value, MPI_MAX, uses_mpi_); }
double World::all_reduce_min(double value) const { return all_reduce(value, MPI_MIN, uses_mpi_); }

void World::abort(int code) const {
  if (uses_mpi_) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<size_t>(length));
  auto end = version.find_first_of(",\n");
  return version.substr(0, end);
}

}  // namespace epalm::distributed
