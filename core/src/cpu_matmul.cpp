#include "epalm/core/cpu_matmul.h"

#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <cstdlib>
#include <atomic>
#include <mutex>
#include <optional>

#include "epalm/core/error.h"

namespace epalm {

namespace {

bool onednn_linear_available() {
  return at::hasMKLDNN() &&
         c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""}).has_value();
}

// MKL's sgemm picks its fastest kernels by vendor: Intel CPUs keep LibTorch's own.
bool non_intel_x86() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return !__builtin_cpu_is("intel");
#else
  return false;
#endif
}

}  // namespace

CpuMatmul cpu_matmul_for(const char* value) {
  const std::string v = value == nullptr ? "auto" : value;
  if (v != "auto" && v != "libtorch" && v != "onednn") {
    throw UsageError("EPALM_CPU_MATMUL", "unknown value '" + v + "' (use auto, libtorch or onednn)");
  }
  const bool available = onednn_linear_available();
  if (v == "libtorch") return {CpuMatmulLibrary::kLibTorch, "LibTorch's own (EPALM_CPU_MATMUL=libtorch)"};
  if (v == "onednn") {
    if (!available) return {CpuMatmulLibrary::kLibTorch, "LibTorch's own (EPALM_CPU_MATMUL=onednn, but this LibTorch has no oneDNN)"};
    return {CpuMatmulLibrary::kOneDnn, "oneDNN for frozen weights (EPALM_CPU_MATMUL=onednn)"};
  }
  if (available && non_intel_x86()) {
    return {CpuMatmulLibrary::kOneDnn, "oneDNN for frozen weights (auto: not an Intel CPU; EPALM_CPU_MATMUL=libtorch for MKL)"};
  }
  return {CpuMatmulLibrary::kLibTorch, "LibTorch's own (auto; EPALM_CPU_MATMUL=onednn for oneDNN)"};
}

namespace {
std::mutex choice_mutex;
std::atomic<int> cached_library{-1};  // -1: not chosen yet
std::optional<CpuMatmul>& choice() {
  static std::optional<CpuMatmul> c;
  return c;
}
}  // namespace

CpuMatmul cpu_matmul() {
  std::lock_guard<std::mutex> lock(choice_mutex);
  if (!choice()) choice() = cpu_matmul_for(std::getenv("EPALM_CPU_MATMUL"));
  cached_library.store(static_cast<int>(choice()->library));
  return *choice();
}

CpuMatmulLibrary cpu_matmul_library() {
  const int cached = cached_library.load();
  return cached >= 0 ? static_cast<CpuMatmulLibrary>(cached) : cpu_matmul().library;
}

void set_cpu_matmul(const CpuMatmul& c) {
  std::lock_guard<std::mutex> lock(choice_mutex);
  choice() = c;
  cached_library.store(static_cast<int>(c.library));
}

}  // namespace epalm
