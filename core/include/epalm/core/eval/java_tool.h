// The Java scorers pycocoevalcap runs (METEOR, SPICE) are found at run time:
// a java executable and the tool's jar (plus what the jar needs beside it).
// When something is missing the metric is reported as skipped, with the reason.
#pragma once

#include <string>
#include <vector>

namespace epalm::eval {

struct JavaTool {
  std::string java;            // the java executable, empty when not found
  std::string jar;             // the tool's jar, empty when not found
  std::string skipped_reason;  // why the metric cannot run; empty when it can
  bool available() const { return skipped_reason.empty(); }
};

// $JAVA when set, else `java` on PATH; "" when neither is an executable.
std::string find_java();

// Java and a metric's jar: `explicit_jar` when given, else $`jar_variable`;
// skipped (the reason starting "<metric> skipped: ") without Java, without a
// jar (`example_jar` says where one is found) or when it is not a file.
JavaTool find_java_tool(const std::string& metric, const std::string& explicit_jar, const char* jar_variable,
                        const std::string& example_jar);

}  // namespace epalm::eval
