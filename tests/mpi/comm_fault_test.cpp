// A dead or stuck rank ends the whole job with a clear message within the
// collective timeout, never a hang; SIGTERM on one rank stops every rank after
// the same step. Each job runs under mpirun-test's hard timeout (60 s).
#include <gtest/gtest.h>

#include <chrono>

#include "process.h"

namespace epalm {
namespace {

struct Timed {
  testing::ProcessResult result;
  double seconds = 0;
};

Timed run_probe(const std::string& mode, const std::string& timeout_ms, int ranks = 3) {
  const auto start = std::chrono::steady_clock::now();
  Timed t;
  t.result = testing::run_process({EPALM_MPIRUN_TEST, "60", std::to_string(ranks), EPALM_FAULT_PROBE, mode, timeout_ms},
                                  90);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

TEST(CommFaults, AStuckRankEndsTheJobWithinTheTimeout) {
  const auto t = run_probe("stuck", "2000");
  EXPECT_NE(t.result.exit_code, 0) << t.result.err;
  EXPECT_NE(t.result.exit_code, 124) << "the hard timeout fired: the watchdog did not";
  EXPECT_LT(t.seconds, 30) << "the stuck rank sleeps 5 min; the others must give up after 2 s";
  // The watchdog names the collective, its place in the sequence and the timeout.
  EXPECT_NE(t.result.err.find("all_reduce #2 (sum, 1024 x Float) has not finished after 2 s (the collective timeout)"),
            std::string::npos)
      << t.result.err;
  EXPECT_NE(t.result.err.find("aborting every rank"), std::string::npos) << t.result.err;
}

TEST(CommFaults, AKilledRankEndsTheJobWithinTheTimeout) {
  const auto t = run_probe("killed", "5000");
  EXPECT_NE(t.result.exit_code, 0) << t.result.err;
  EXPECT_NE(t.result.exit_code, 124) << "the hard timeout fired: nothing ended the job";
  EXPECT_LT(t.seconds, 30) << t.result.err;
  EXPECT_EQ(t.result.out.find("finished every step"), std::string::npos) << t.result.out;
}

TEST(CommFaults, SigtermOnOneRankStopsEveryRankAfterTheSameStep) {
  const auto t = run_probe("sigterm", "20000");
  EXPECT_EQ(t.result.exit_code, 128 + 15) << t.result.err;
  for (int r = 0; r < 3; ++r) {
    EXPECT_NE(t.result.out.find("rank " + std::to_string(r) + " stopped after step 3"), std::string::npos)
        << t.result.out;
  }
}

}  // namespace
}  // namespace epalm
