// The one fork + exec of the product (epalm/core/child_process.h): exit codes
// and signals, pipes both ways, files, environment, working directory, and a
// child that cannot start or stops reading.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "epalm/core/child_process.h"
#include "epalm/core/error.h"
#include "process.h"

namespace epalm {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ChildOptions piped() {
  ChildOptions o;
  o.in = o.out = ChildStream::kPipe;
  return o;
}

TEST(ChildProcess, ReportsExitCodesAndSignals) {
  const auto exited = ChildProcess({"/bin/sh", "-c", "exit 3"}, {}, "test").wait();
  EXPECT_EQ(exited.code, 3);
  EXPECT_EQ(exited.signal, 0);
  EXPECT_FALSE(exited.ok());
  EXPECT_EQ(exited.describe(), "exit code 3");
  const auto killed = ChildProcess({"/bin/sh", "-c", "kill -9 $$"}, {}, "test").wait();
  EXPECT_EQ(killed.signal, 9);
  EXPECT_EQ(killed.shell_code(), 137);
  EXPECT_EQ(killed.describe(), "signal 9");
  EXPECT_TRUE(ChildProcess({"/bin/true"}, {}, "test").wait().ok());
}

TEST(ChildProcess, TalksLineByLineThroughPipes) {
  ChildProcess cat({"/bin/cat"}, piped(), "cat");
  ASSERT_TRUE(cat.write("first\nsecond\n"));
  EXPECT_EQ(cat.read_line().value_or("<end>"), "first");
  EXPECT_EQ(cat.read_line().value_or("<end>"), "second");
}

TEST(ChildProcess, ReadsAllOutputAndKeepsTheEnvironmentItAdds) {
  ChildOptions o;
  o.out = ChildStream::kPipe;
  o.search_path = true;
  o.environment = {{"EPALM_CHILD_TEST", "set for the child"}};
  ChildProcess sh({"sh", "-c", "echo \"$EPALM_CHILD_TEST\"; echo \"$PATH\" | head -c 1"}, o, "sh");
  const auto out = sh.read_all();
  EXPECT_EQ(out.substr(0, out.find('\n')), "set for the child");
  EXPECT_GT(out.size(), std::string("set for the child\n").size()) << "the caller's PATH was not kept";
  EXPECT_TRUE(sh.wait().ok());
}

TEST(ChildProcess, WritesBothStreamsToOneFileInItsDirectory) {
  testing::TempDir dir;
  ChildOptions o;
  o.cwd = dir.path();
  o.out = o.err = ChildStream::kFile;
  o.out_file = o.err_file = dir.path() + "/log";
  ASSERT_TRUE(ChildProcess({"/bin/sh", "-c", "pwd; echo problem >&2"}, o, "sh").wait().ok());
  const auto log = slurp(dir.path() + "/log");
  EXPECT_NE(log.find(std::filesystem::canonical(dir.path()).string() + "\n"), std::string::npos) << log;
  EXPECT_NE(log.find("problem\n"), std::string::npos) << log;
}

TEST(ChildProcess, AProgramThatCannotStartExits127AndSaysWhy) {
  testing::TempDir dir;
  ChildOptions o;
  o.err = ChildStream::kFile;
  o.err_file = dir.path() + "/err";
  const auto status = ChildProcess({"/nonexistent/program"}, o, "test").wait();
  EXPECT_EQ(status.code, 127);
  EXPECT_EQ(slurp(dir.path() + "/err"), "cannot execute /nonexistent/program\n");
  o.cwd = dir.path() + "/no such folder";
  EXPECT_EQ(ChildProcess({"/bin/true"}, o, "test").wait().code, 126);
}

TEST(ChildProcess, WritingToAChildThatStoppedReadingFailsInsteadOfRaisingSigpipe) {
  ChildProcess quitter({"/bin/true"}, piped(), "true");
  quitter.wait();
  // A socket buffer takes some bytes before the peer's close is seen: write
  // more than it holds.
  const std::string block(1 << 20, 'x');
  EXPECT_FALSE(quitter.write(block));
  EXPECT_FALSE(quitter.read_line().has_value());
}

TEST(ChildProcess, KillStopsARunningChildAndTheDestructorReapsIt) {
  ChildProcess sleeper({"/bin/sleep", "60"}, {}, "sleep");
  EXPECT_FALSE(sleeper.poll().has_value());
  EXPECT_EQ(sleeper.kill().signal, 9);
  EXPECT_EQ(sleeper.poll()->signal, 9);
  { ChildProcess dropped({"/bin/sleep", "60"}, {}, "sleep"); }  // must not wait a minute
}

TEST(ChildProcess, AFileItCannotOpenIsAnErrorNamingIt) {
  ChildOptions o;
  o.out = ChildStream::kFile;
  o.out_file = "/nonexistent/folder/log";
  try {
    ChildProcess({"/bin/true"}, o, "test");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "/nonexistent/folder/log");
  }
}

}  // namespace
}  // namespace epalm
