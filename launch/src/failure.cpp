#include "failure.h"

#include <c10/util/Exception.h>

#include "epalm/core/error.h"

namespace epalm::cli {

Failure failure_of(const std::exception& error) {
  if (dynamic_cast<const UsageError*>(&error) != nullptr) return {kExitUsage, error.what()};
  // LibTorch's what() carries its C++ backtrace: a user needs the first line.
  if (const auto* torch = dynamic_cast<const c10::Error*>(&error)) return {kExitFailure, torch->what_without_backtrace()};
  return {kExitFailure, error.what()};
}

}  // namespace epalm::cli
