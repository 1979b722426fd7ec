// The embedded default run behind `epalm demo`: every rank seeds the same
// attention block, runs it on its device, and the ranks check over MPI that
// they computed the same numbers. It exercises the whole stack that exists
// today (launcher, MPI, LibTorch, devices, logging, reports); later work grows
// it into a training + evaluation study.
#pragma once

#include <cstdint>
#include <string>

#include "epalm/analysis/table.h"
#include "epalm/distributed/world.h"

namespace epalm::experiments {

struct DemoSettings {
  std::string device = "auto";
  int threads = 0;  // 0: share this node's cores among its ranks
  std::uint64_t seed = 0;
  int batch = 8;
  int tokens = 64;
  int width = 256;
  int iterations = 20;
};

struct DemoResult {
  bool ranks_agree = false;
  double relative_spread = 0;   // (max - min) / |max| of the ranks' checksums
  analysis::Table per_rank{{}};  // one row per rank, on rank 0 only
};

DemoResult run_demo(const DemoSettings& settings, const distributed::World& world);

}  // namespace epalm::experiments
