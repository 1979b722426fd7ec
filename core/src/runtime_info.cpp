#include "epalm/core/runtime_info.h"

#include <torch/torch.h>

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <regex>

#include "epalm/build_config.h"
#include "epalm/core/error.h"

#if EPALM_HAVE_CUDA
#include "cuda_probe.h"
#endif

namespace epalm {

RuntimeInfo collect_runtime_info() {
  RuntimeInfo info;
  info.epalm_version = EPALM_VERSION;
  info.build_type = EPALM_BUILD_TYPE;
  info.compiler = EPALM_CXX_COMPILER;
  info.torch_version = TORCH_VERSION;
  info.torch_parallel = at::get_parallel_info();
  info.intra_op_threads = at::get_num_threads();
  info.inter_op_threads = at::get_num_interop_threads();
  info.built_with_cuda = EPALM_HAVE_CUDA;
#if EPALM_HAVE_CUDA
  info.cuda_toolkit_version = EPALM_CUDA_TOOLKIT_VERSION;
  auto probe = detail::probe_cuda();
  info.cuda_runtime_version = probe.runtime_version;
  info.cuda_driver_version = probe.driver_version;
  info.cuda_devices = probe.devices;
#else
  info.cuda_toolkit_version = "not built";
  info.cuda_runtime_version = "not built";
  info.cuda_driver_version = "not built";
#endif
  return info;
}

void set_compute_threads(int threads) {
  if (threads < 0) throw UsageError("--threads", "must be >= 0 (0 keeps LibTorch's default)");
  if (threads > 0) at::set_num_threads(threads);
}

int shared_compute_threads(int local_ranks) {
  if (local_ranks <= 1 || std::getenv("OMP_NUM_THREADS") != nullptr) return 0;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const int available = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
  if (available <= 0) return 0;
  return std::max(1, available / local_ranks);
}

c10::Device resolve_device(const std::string& spec, int local_rank) {
  const int count = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  if (spec == "cpu" || (spec == "auto" && count == 0)) return c10::Device(c10::kCPU);
  if (spec == "auto" || spec == "cuda") {
    if (count == 0) throw UsageError("--device", "'cuda' requested but no CUDA device is available");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank % count));
  }
  static const std::regex indexed("cuda:([0-9]+)");
  std::smatch m;
  if (std::regex_match(spec, m, indexed)) {
    const int index = std::stoi(m[1]);
    if (index >= count) {
      throw UsageError("--device", "'" + spec + "' requested but " + std::to_string(count) + " CUDA device(s) exist");
    }
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw UsageError("--device", "unknown device '" + spec + "' (use auto, cpu, cuda or cuda:N)");
}

}  // namespace epalm
