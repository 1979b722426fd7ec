// The one user-facing error convention: every failure a user can cause or fix
// is an epalm::Error saying where (a file, an option, an input) and why.
#pragma once

#include <stdexcept>
#include <string>

namespace epalm {

class Error : public std::runtime_error {
 public:
  Error(std::string where, std::string reason);
  const std::string& where() const noexcept { return where_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string where_;
  std::string reason_;
};

// Bad command line or configuration: exits with the usage code (2).
class UsageError : public Error {
 public:
  using Error::Error;
};

// Process exit codes shared by every command.
enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

}  // namespace epalm
