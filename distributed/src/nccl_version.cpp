#include "epalm/build_config.h"
#include "epalm/distributed/world.h"

#if EPALM_HAVE_NCCL
#include <nccl.h>
#endif

namespace epalm::distributed {

std::string nccl_version() {
#if EPALM_HAVE_NCCL
  int code = 0;
  if (ncclGetVersion(&code) != ncclSuccess) return "unknown";
  // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
  return std::to_string(code / 10000) + "." + std::to_string((code % 10000) / 100) + "." + std::to_string(code % 100);
#else
  return "not built";
#endif
}

}  // namespace epalm::distributed
