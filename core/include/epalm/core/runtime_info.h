// What this process computes with: LibTorch build, threads, CUDA devices.
// Reported by `epalm env`; the device choice every command shares.
#pragma once

#include <c10/core/Device.h>

#include <string>
#include <vector>

namespace epalm {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  double memory_gib = 0;
  int compute_major = 0;
  int compute_minor = 0;
};

struct RuntimeInfo {
  std::string epalm_version;
  std::string build_type;
  std::string compiler;
  std::string torch_version;
  std::string torch_parallel;  // LibTorch's own summary of its thread pools
  int intra_op_threads = 0;
  int inter_op_threads = 0;
  bool built_with_cuda = false;      // our CUDA code was compiled
  std::string cuda_toolkit_version;  // the toolkit it was compiled with
  std::string cuda_runtime_version;  // what the CUDA runtime reports here
  std::string cuda_driver_version;   // "none" without a driver
  std::vector<CudaDeviceInfo> cuda_devices;
};

RuntimeInfo collect_runtime_info();

// Sets LibTorch's intra-op threads; 0 keeps LibTorch's default.
void set_compute_threads(int threads);

// Intra-op threads for one of `local_ranks` processes sharing this machine:
// the CPUs this process may run on (its affinity mask) shared evenly, at
// least one. 0 (LibTorch's default) for a lone process, or when
// OMP_NUM_THREADS says what the user wants. LibTorch would give every rank
// all the CPUs; OpenMP threads that spin while others need the core then
// slow every rank down (a 2-rank toy-study cell on 2 cores: 14.9 s against
// 11.4 s with one thread each).
int shared_compute_threads(int local_ranks);

// Resolves "auto", "cpu", "cuda" or "cuda:N" for the given local rank: "auto"
// and "cuda" pick device local_rank % count; "auto" falls back to the CPU.
// Throws UsageError for a malformed spec or a CUDA device that is not there.
c10::Device resolve_device(const std::string& spec, int local_rank);

}  // namespace epalm
