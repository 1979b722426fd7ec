#include "epalm/core/home.h"

#include <cstdlib>

#include "epalm/core/error.h"

namespace epalm {

std::string epalm_home() {
  if (const char* home = std::getenv("EPALM_HOME"); home != nullptr && *home != '\0') return home;
  const char* user = std::getenv("HOME");
  if (user == nullptr || *user == '\0') {
    throw Error("EPALM_HOME", "neither EPALM_HOME nor HOME is set: set EPALM_HOME to the folder epalm keeps its data in");
  }
  return std::string(user) + "/.cache/epalm";
}

}  // namespace epalm
