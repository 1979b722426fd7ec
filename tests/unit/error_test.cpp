#include <gtest/gtest.h>

#include "epalm/core/error.h"

namespace epalm {

TEST(Error, MessageNamesWhereAndWhy) {
  Error e("model.safetensors", "header length beyond the file");
  EXPECT_STREQ(e.what(), "model.safetensors: header length beyond the file");
  EXPECT_EQ(e.where(), "model.safetensors");
  EXPECT_EQ(e.reason(), "header length beyond the file");
}

TEST(Error, WithoutWhereIsJustTheReason) { EXPECT_STREQ(Error("", "no input").what(), "no input"); }

TEST(Error, UsageErrorIsCaughtAsError) {
  try {
    throw UsageError("--ranks", "must be >= 1");
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--ranks: must be >= 1");
    return;
  }
  FAIL() << "UsageError was not caught as Error";
}

}  // namespace epalm
