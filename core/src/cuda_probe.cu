#include "cuda_probe.h"

#include <cuda_runtime.h>

namespace epalm::detail {

namespace {

std::string version_text(int v) {
  if (v <= 0) return "none";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

__global__ void fill_iota(float* out, int n, float scale) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = static_cast<float>(i) * scale;
}

}  // namespace

CudaProbe probe_cuda() {
  CudaProbe probe;
  int runtime = 0;
  int driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  probe.runtime_version = version_text(runtime);
  probe.driver_version = version_text(driver);
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return probe;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    probe.devices.push_back({i, prop.name, static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0),
                             prop.major, prop.minor});
  }
  return probe;
}

bool cuda_fill_iota(int n, float scale, std::vector<float>& out) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return false;
  }
  float* device = nullptr;
  if (cudaMalloc(&device, sizeof(float) * n) != cudaSuccess) return false;
  fill_iota<<<(n + 255) / 256, 256>>>(device, n, scale);
  out.resize(n);
  bool ok = cudaMemcpy(out.data(), device, sizeof(float) * n, cudaMemcpyDeviceToHost) == cudaSuccess;
  cudaFree(device);
  return ok;
}

}  // namespace epalm::detail
