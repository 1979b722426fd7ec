// What an exception means to the user: the exit code (2 for a usage error, 1
// for any other) and one line without a C++ backtrace. The top-level handler
// prints it; train and eval record the same in the results store.
#pragma once

#include <exception>
#include <string>

namespace epalm::cli {

struct Failure {
  int exit_code = 1;
  std::string message;
};

Failure failure_of(const std::exception& error);

}  // namespace epalm::cli
