// The host-memory policy: freed large blocks stay in glibc's heap for reuse
// (no fresh mapping to fault in), unless the user tuned malloc themselves.
#include "epalm/core/host_memory.h"

#include <gtest/gtest.h>

#include "epalm/core/error.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#include <sys/resource.h>
#endif

namespace epalm {
namespace {

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33)
// Twice glibc's largest adaptive mmap threshold (32 MiB): by default such a
// block is mapped on its own and unmapped when freed.
constexpr std::size_t kBlock = std::size_t{64} << 20;

char* touched_block() {
  auto* block = static_cast<char*>(std::malloc(kBlock));
  std::memset(block, 1, kBlock);
  asm volatile("" : : "g"(block) : "memory");  // the writes happen
  return block;
}

long minor_faults() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

TEST(HostMemory, FreedLargeBlocksStayInTheHeapForReuse) {
  if (!host_memory_override().empty()) GTEST_SKIP() << host_memory_override() << " is set: the user's choice stands";
  const auto policy = keep_freed_host_memory();
  ASSERT_TRUE(policy.applied) << policy.summary;
  EXPECT_TRUE(host_memory_policy().applied);

  const auto before = mallinfo2();
  char* block = touched_block();
  EXPECT_EQ(mallinfo2().hblkhd, before.hblkhd) << "the block was mapped on its own";
  std::free(block);
  EXPECT_GE(mallinfo2().fordblks, kBlock) << "the freed block went back to the system";

  // Reused: its pages are already there (a fresh mapping faults in 16384
  // pages of 4 KiB, or 32 huge ones; a few faults elsewhere are allowed).
  const long faults = minor_faults();
  block = touched_block();
  EXPECT_LT(minor_faults() - faults, 16);
  std::free(block);
}
#endif

TEST(HostMemory, TheUsersMallocVariablesStand) {
  // Each variable alone is what host_memory_override names (setenv: this
  // process only; restored after).
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}) {
    const char* old = std::getenv(name);
    const std::string saved = old != nullptr ? old : "";
    setenv(name, "1048576", 1);
    EXPECT_EQ(host_memory_override(), name);
    const auto policy = keep_freed_host_memory();
    EXPECT_FALSE(policy.applied);
    EXPECT_NE(policy.summary.find(name), std::string::npos) << policy.summary;
    if (old != nullptr) setenv(name, saved.c_str(), 1); else unsetenv(name);
  }
  if (host_memory_override().empty()) {
    setenv("EPALM_HOST_MEMORY", "release", 1);
    EXPECT_EQ(host_memory_override(), "EPALM_HOST_MEMORY");
    setenv("EPALM_HOST_MEMORY", "keep", 1);
    EXPECT_EQ(host_memory_override(), "");
    setenv("EPALM_HOST_MEMORY", "relase", 1);
    EXPECT_THROW(host_memory_override(), UsageError);
    setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1048576", 1);
    EXPECT_EQ(host_memory_override(), "GLIBC_TUNABLES");
    unsetenv("GLIBC_TUNABLES");
    unsetenv("EPALM_HOST_MEMORY");
  }
}

}  // namespace
}  // namespace epalm
