// The Java scorers pycocoevalcap runs (METEOR, SPICE) are found at run time:
// a java executable and the tool's jar (plus what the jar needs beside it).
// When something is missing the metric is reported as skipped, with the reason.
#pragma once

#include <string>

namespace epalm::eval {

struct JavaTool {
  std::string java;            // the java executable, empty when not found
  std::string jar;             // the tool's jar, empty when not found
  std::string skipped_reason;  // why the metric cannot run; empty when it can
  bool available() const { return skipped_reason.empty(); }
};

// $JAVA when set, else `java` on PATH; "" when neither is an executable.
std::string find_java();

// `explicit_jar` when given, else the environment variable `jar_variable`.
std::string jar_from(const std::string& explicit_jar, const char* jar_variable);

}  // namespace epalm::eval
