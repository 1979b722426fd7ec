// Starting a job of several ranks on this node from a plain `epalm` process,
// for commands (the self-check, the demo's cells) that run under mpirun by default.
#pragma once

#include <string>
#include <vector>

namespace epalm::distributed {

// `mpirun -np <ranks> ... <program> <arguments...>` with the flags a single
// node needs: oversubscription (ranks may exceed cores) and no core binding;
// and, when running as root, --allow-run-as-root.
std::vector<std::string> local_mpirun_command(int ranks, const std::string& program,
                                              const std::vector<std::string>& arguments);

// The same mpirun and flags without the program: a sweep's launcher, with
// `ranks` as text (e.g. "{ranks}", which the sweep replaces by each cell's).
std::vector<std::string> local_mpirun_prefix(const std::string& ranks);

// This process's executable (/proc/self/exe).
std::string current_executable();

// Replaces this process with `command`; throws epalm::Error if it cannot start.
[[noreturn]] void exec_command(const std::vector<std::string>& command);

}  // namespace epalm::distributed
