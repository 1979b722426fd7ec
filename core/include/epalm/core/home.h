// The folder epalm keeps a user's data in (the results store, the frozen-
// feature cache, the toy world and its models, the Python environment):
// $EPALM_HOME, else ~/.cache/epalm. Every default path under it comes from
// here (launch/paths.sh resolves the same folder for the scripts).
#pragma once

#include <string>

namespace epalm {

// Throws epalm::Error when neither EPALM_HOME nor HOME is set.
std::string epalm_home();

}  // namespace epalm
