// How this process's CPU allocator treats large freed blocks.
//
// glibc's malloc hands blocks over a threshold (at most 32 MiB, adapting)
// straight to mmap and unmaps them when freed, and returns the heap's free
// top to the system past twice that. A training step allocates and frees
// activations of tens of MiB (a ViT-B/16 MLP output of 8 images: 19 MiB; an
// LM-head chunk: 51 MiB) every layer, so each step faults its pages in anew
// and the kernel zeroes them: about 8% of a perf profile's samples of
// `epalm bench vit-forward`. keep_freed_host_memory() raises both thresholds so freed blocks
// stay in the heap for the next step (docs/training.md: what it measured).
#pragma once

#include <string>

namespace epalm {

struct HostMemoryPolicy {
  bool applied = false;  // the thresholds were raised
  std::string summary;   // one line for `epalm env` and the logs
};

// Blocks up to this size come from the heap and freed memory up to it stays
// there (glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD).
constexpr long long kKeptHostBlockBytes = 1LL << 30;

// Raises the thresholds, unless the user tuned glibc's allocator through its
// own variables (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, a
// glibc.malloc tunable in GLIBC_TUNABLES: theirs stands) or EPALM_HOST_MEMORY
// is "release" (glibc's defaults; "keep", the default, raises them), or
// malloc is not glibc's. Another EPALM_HOST_MEMORY value is a UsageError.
// Call it once, early (the command line does, before any command).
HostMemoryPolicy keep_freed_host_memory();

// What the last keep_freed_host_memory() did (not applied before any call).
HostMemoryPolicy host_memory_policy();

// The variable that leaves the allocator as it is, or "" (what
// keep_freed_host_memory() reads; exposed for tests). Throws UsageError for
// an EPALM_HOST_MEMORY other than keep or release.
std::string host_memory_override();

}  // namespace epalm
