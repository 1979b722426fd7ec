// Runs a program as a child process (through coreutils `timeout`, so a test
// never waits forever) and captures its exit code, stdout and stderr.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace epalm::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv, int timeout_seconds = 60,
                          const std::map<std::string, std::string>& environment = {});

// A program started in the background (drills: signals and kills mid-run).
// Its stdout and stderr go to files; the destructor kills it (SIGKILL) if it
// still runs, so a failing test never leaves it behind.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& environment,
               const std::string& output_prefix);  // writes <prefix>.out and <prefix>.err
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  void signal(int number) const;
  // Waits up to timeout_seconds (then SIGKILLs it); the exit code, or 128 +
  // the signal that ended it.
  int wait(int timeout_seconds);
  bool running();
  std::string out() const;
  std::string err() const;

 private:
  int pid_ = -1;
  int status_ = -1;
  std::string prefix_;
};

// Polls `condition` every 50 ms for up to timeout_seconds; whether it held.
bool wait_until(const std::function<bool()>& condition, double timeout_seconds);

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace epalm::testing
