#include "epalm/core/host_memory.h"

#include <cstdlib>
#include <cstring>

#include "epalm/core/error.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace epalm {

namespace {
HostMemoryPolicy& recorded() {
  static HostMemoryPolicy policy{false, "glibc malloc's defaults (not configured)"};
  return policy;
}
}  // namespace

std::string host_memory_override() {
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}) {
    if (std::getenv(name) != nullptr) return name;
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return "GLIBC_TUNABLES";
  const char* ours = std::getenv("EPALM_HOST_MEMORY");
  if (ours == nullptr || std::strcmp(ours, "keep") == 0) return "";
  if (std::strcmp(ours, "release") == 0) return "EPALM_HOST_MEMORY";
  throw UsageError("EPALM_HOST_MEMORY", std::string("unknown value '") + ours + "' (use keep or release)");
}

HostMemoryPolicy host_memory_policy() { return recorded(); }

HostMemoryPolicy keep_freed_host_memory() {
  auto& p = recorded();
  p = HostMemoryPolicy{};
#if defined(__GLIBC__)
  const auto user = host_memory_override();
  if (!user.empty()) {
    p.summary = user == "EPALM_HOST_MEMORY" ? "glibc malloc's defaults (EPALM_HOST_MEMORY=release)"
                                            : "glibc malloc as the user's " + user + " sets it";
    return p;
  }
  p.applied = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kKeptHostBlockBytes)) == 1 &&
              mallopt(M_TRIM_THRESHOLD, static_cast<int>(kKeptHostBlockBytes)) == 1;
  p.summary = p.applied ? "glibc malloc keeps freed blocks up to " + std::to_string(kKeptHostBlockBytes >> 30) +
                              " GiB for reuse (EPALM_HOST_MEMORY=release: glibc's defaults)"
                        : "glibc malloc refused the thresholds: its defaults";
#else
  p.summary = "not glibc malloc: left as it is";
#endif
  return p;
}

}  // namespace epalm
