// epalm/core/scratch_dir.h: a new directory each time, named by its prefix,
// gone with everything in it when the object is.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "epalm/core/error.h"
#include "epalm/core/scratch_dir.h"
#include "process.h"

namespace epalm {
namespace {

namespace fs = std::filesystem;

TEST(ScratchDir, IsFreshNamedByItsPrefixAndRemovedWithItsContents) {
  testing::TempDir parent;
  std::string kept;
  {
    const ScratchDir a(parent.path() + "/made/here", "epalm-bench-");
    const ScratchDir b(parent.path() + "/made/here", "epalm-bench-");
    EXPECT_NE(a.path(), b.path());
    EXPECT_TRUE(fs::is_directory(a.path()));
    EXPECT_EQ(fs::path(a.path()).parent_path(), fs::path(parent.path() + "/made/here"));
    EXPECT_EQ(fs::path(a.path()).filename().string().rfind("epalm-bench-", 0), 0u) << a.path();
    fs::create_directories(a.path() + "/nested");
    std::ofstream(a.path() + "/nested/file") << "x";
    kept = a.path();
  }
  EXPECT_FALSE(fs::exists(kept));
}

TEST(ScratchDir, AParentThatCannotBeMadeIsAnError) {
  EXPECT_THROW(ScratchDir("/proc/no-such-dir"), Error);
}

}  // namespace
}  // namespace epalm
