#include "epalm/distributed/topology.h"

#include <unistd.h>

#include <array>
#include <cstdlib>

#include "epalm/core/error.h"

namespace epalm::distributed {

namespace {

struct LauncherVariables {
  const char* launcher;
  const char* rank;
  const char* world;
  const char* local_rank;  // nullptr: derive later (MPI shared-memory split)
  const char* local_world;
};

// Order matters: under `srun --mpi=pmix` both SLURM and PMI variables exist,
// and the MPI library's own variables describe the MPI world we will join.
constexpr std::array<LauncherVariables, 5> kLaunchers{{
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"mvapich", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_LOCAL_RANK",
     "MV2_COMM_WORLD_LOCAL_SIZE"},
    {"mpich", "PMI_RANK", "PMI_SIZE", "PMI_LOCAL_RANK", "PMI_LOCAL_SIZE"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
}};

int parse_count(const EnvironmentLookup& lookup, const char* name, int fallback, int minimum) {
  if (name == nullptr) return fallback;
  auto value = lookup(name);
  if (!value) return fallback;
  const std::string& text = *value;
  char* end = nullptr;
  long parsed = std::strtol(text.c_str(), &end, 10);
  // SLURM_NTASKS_PER_NODE may read "4(x2)"; only its leading count matters.
  bool trailing_ok = *end == '\0' || (std::string(name) == "SLURM_NTASKS_PER_NODE" && *end == '(');
  if (text.empty() || end == text.c_str() || !trailing_ok || parsed < minimum || parsed > 1 << 24) {
    throw Error(std::string("environment variable ") + name, "'" + text + "' is not a valid count");
  }
  return static_cast<int>(parsed);
}

std::string hostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "unknown";
  return buffer;
}

}  // namespace

bool Topology::launched_by_mpi() const {
  return launcher == "openmpi" || launcher == "mpich" || launcher == "mvapich";
}

Topology topology_from_environment(const EnvironmentLookup& lookup) {
  Topology t;
  t.host = hostname();
  for (const auto& v : kLaunchers) {
    if (!lookup(v.world) || !lookup(v.rank)) continue;
    t.launcher = v.launcher;
    t.world = parse_count(lookup, v.world, 1, 1);
    t.rank = parse_count(lookup, v.rank, 0, 0);
    t.local_rank = parse_count(lookup, v.local_rank, t.rank, 0);
    t.local_world = parse_count(lookup, v.local_world, t.world, 1);
    if (t.rank >= t.world) {
      throw Error(std::string("environment variable ") + v.rank,
                  "rank " + std::to_string(t.rank) + " is not below world size " + std::to_string(t.world));
    }
    if (t.local_rank >= t.local_world) {
      throw Error(std::string("environment variable ") + v.local_rank,
                  "local rank " + std::to_string(t.local_rank) + " is not below local size " +
                      std::to_string(t.local_world));
    }
    return t;
  }
  return t;
}

Topology topology_from_environment() {
  return topology_from_environment([](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

}  // namespace epalm::distributed
