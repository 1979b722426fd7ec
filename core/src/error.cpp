#include "epalm/core/error.h"

namespace epalm {

namespace {
std::string compose(const std::string& where, const std::string& reason) {
  return where.empty() ? reason : where + ": " + reason;
}
}  // namespace

Error::Error(std::string where, std::string reason)
    : std::runtime_error(compose(where, reason)), where_(std::move(where)), reason_(std::move(reason)) {}

}  // namespace epalm
