#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <torch/torch.h>

#include "epalm/build_config.h"
#include "epalm/core/error.h"
#include "epalm/core/runtime_info.h"

#if EPALM_HAVE_CUDA
#include "../../core/src/cuda_probe.h"
#endif

namespace epalm {

TEST(RuntimeInfo, AgreesWithLibTorch) {
  const auto info = collect_runtime_info();
  EXPECT_EQ(info.built_with_cuda, static_cast<bool>(EPALM_HAVE_CUDA));
  // Our CUDA probe and LibTorch must see the same devices.
  EXPECT_EQ(static_cast<int64_t>(info.cuda_devices.size()),
            torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0);
  EXPECT_EQ(info.intra_op_threads, at::get_num_threads());
  EXPECT_NE(info.torch_parallel.find("ATen/Parallel"), std::string::npos);
}

TEST(RuntimeInfo, SetsComputeThreads) {
  const int before = at::get_num_threads();
  set_compute_threads(1);
  EXPECT_EQ(at::get_num_threads(), 1);
  set_compute_threads(0);  // keeps the current value
  EXPECT_EQ(at::get_num_threads(), 1);
  set_compute_threads(before);
  EXPECT_THROW(set_compute_threads(-1), UsageError);
}

TEST(RuntimeInfo, RanksSharingAMachineShareItsCpus) {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) {
    EXPECT_EQ(shared_compute_threads(2), 0);  // the user's choice stands
    return;
  }
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  ASSERT_EQ(sched_getaffinity(0, sizeof cpus, &cpus), 0);
  EXPECT_EQ(shared_compute_threads(1), 0);  // alone: LibTorch's default
  EXPECT_EQ(shared_compute_threads(2), std::max(1, CPU_COUNT(&cpus) / 2));
  EXPECT_EQ(shared_compute_threads(1000), 1);
  setenv("OMP_NUM_THREADS", "3", 1);
  EXPECT_EQ(shared_compute_threads(2), 0);
  unsetenv("OMP_NUM_THREADS");
}

TEST(ResolveDevice, CpuAndAuto) {
  EXPECT_EQ(resolve_device("cpu", 3), c10::Device(c10::kCPU));
  const auto autodev = resolve_device("auto", 1);
  if (torch::cuda::is_available()) {
    EXPECT_EQ(autodev, c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(1 % torch::cuda::device_count())));
  } else {
    EXPECT_EQ(autodev, c10::Device(c10::kCPU));
  }
}

TEST(ResolveDevice, RejectsMissingOrMalformedDevices) {
  EXPECT_THROW(resolve_device("cuda:99", 0), UsageError);
  EXPECT_THROW(resolve_device("tpu", 0), UsageError);
  EXPECT_THROW(resolve_device("cuda:x", 0), UsageError);
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(resolve_device("cuda", 0), UsageError);
  }
}

#if EPALM_HAVE_CUDA
// Launches our own kernel; on a machine without a GPU it must say so cleanly.
TEST(CudaProbe, KernelRunsOrReportsNoDevice) {
  std::vector<float> out;
  const bool ran = detail::cuda_fill_iota(1000, 0.5f, out);
  EXPECT_EQ(ran, torch::cuda::is_available());
  if (!ran) GTEST_SKIP() << "no CUDA device here";
  ASSERT_EQ(out.size(), 1000u);
  EXPECT_FLOAT_EQ(out[999], 499.5f);
}
#endif

}  // namespace epalm
