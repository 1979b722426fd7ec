// Which library multiplies the frozen weights on the CPU.
//
// A frozen weight (every encoder and decoder weight, the LM head) is a plain
// fp32 product, x Wᵀ + b, forward and (for the decoder) backward to its input.
// LibTorch's CPU wheels run it through MKL's sgemm, whose fastest kernels
// serve Intel's CPUs; on other x86 CPUs oneDNN's own fp32 kernels are faster
// on every shape the models use (an AMD EPYC of the Zen 4 family, 2 threads:
// ViT's [1576, 768] x [768, 3072] 156 -> 204 GFLOP/s, a decoder's 256-row
// products 176-181 -> 209, the LM head's [256, 768] x [768, 50272] 96 -> 168;
// docs/models.md has the rest). Either library gives each output the same
// fp32 products summed in its own order: a different rounding, not another
// computation, and the same bits at any thread count (cpu_matmul_test).
#pragma once

#include <string>

namespace epalm {

enum class CpuMatmulLibrary { kLibTorch, kOneDnn };

struct CpuMatmul {
  CpuMatmulLibrary library = CpuMatmulLibrary::kLibTorch;
  std::string summary;  // one line for `epalm env`, the benches and the logs
};

// EPALM_CPU_MATMUL: "auto" (the default: oneDNN on x86 CPUs not made by
// Intel, LibTorch's own elsewhere), "libtorch" or "onednn" (where LibTorch was
// built without oneDNN: LibTorch's, and the summary says so). Read at the
// first call; another value is a UsageError (the command line checks it
// before any command runs).
CpuMatmul cpu_matmul();

// cpu_matmul().library without the lock and the summary's copy: what every
// frozen product asks (a hot path).
CpuMatmulLibrary cpu_matmul_library();

// Replaces the process's choice (tests, and benches that time both libraries
// in one run); cpu_matmul_for(name) makes one.
void set_cpu_matmul(const CpuMatmul& choice);

// The choice for one value of the variable (nullptr: unset) on this CPU and
// LibTorch, without caching: what cpu_matmul() reads, exposed for tests.
CpuMatmul cpu_matmul_for(const char* value);

}  // namespace epalm
