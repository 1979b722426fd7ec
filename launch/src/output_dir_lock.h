// One run owns its output directory: `epalm train` holds an exclusive lock on
// <output-dir>/.epalm-lock while it runs (rank 0; flock, which the kernel
// drops when the process ends however it ends, so a crash never leaves a
// stale lock). A second run into the same directory is refused at once,
// naming the process that holds it. Taking the lock removes the temporary
// checkpoint files a killed run left behind.
#pragma once

#include <string>

namespace epalm::cli {

class OutputDirLock {
 public:
  // Creates the directory if needed and takes the lock; throws epalm::Error
  // naming the directory and the holder (pid, host, command) when another
  // process has it.
  explicit OutputDirLock(const std::string& output_dir);
  ~OutputDirLock();
  OutputDirLock(const OutputDirLock&) = delete;
  OutputDirLock& operator=(const OutputDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace epalm::cli
