// The self-check behind `epalm self-check`: every rank seeds the same
// attention block, runs it on its device, and the ranks check over MPI that
// they computed the same numbers. It exercises the launcher, MPI, LibTorch,
// the devices and the reports in seconds, before a long run.
#pragma once

#include <cstdint>
#include <string>

#include "epalm/analysis/table.h"
#include "epalm/distributed/world.h"

namespace epalm::experiments {

struct SelfCheckSettings {
  std::string device = "auto";
  int threads = 0;  // 0: share this node's cores among its ranks
  std::uint64_t seed = 0;
  int batch = 8;
  int tokens = 64;
  int width = 256;
  int iterations = 20;
};

struct SelfCheckResult {
  bool ranks_agree = false;
  double relative_spread = 0;   // (max - min) / |max| of the ranks' checksums
  analysis::Table per_rank{{}};  // one row per rank, on rank 0 only
};

SelfCheckResult run_self_check(const SelfCheckSettings& settings, const distributed::World& world);

}  // namespace epalm::experiments
