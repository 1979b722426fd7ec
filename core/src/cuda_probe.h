// Internal: what the CUDA runtime reports, from the one file nvcc compiles in
// core (so every build with the toolkit compiles and links real CUDA code).
#pragma once

#include <string>
#include <vector>

#include "epalm/core/runtime_info.h"

namespace epalm::detail {

struct CudaProbe {
  std::string runtime_version;
  std::string driver_version;
  std::vector<CudaDeviceInfo> devices;
};

CudaProbe probe_cuda();

// Fills out[i] = i * scale on the device; returns false without a device.
// A real kernel launch, used by the device self-check.
bool cuda_fill_iota(int n, float scale, std::vector<float>& out);

}  // namespace epalm::detail
