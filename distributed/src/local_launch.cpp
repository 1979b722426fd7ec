#include "epalm/distributed/local_launch.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "epalm/build_config.h"
#include "epalm/core/error.h"

namespace epalm::distributed {

std::vector<std::string> local_mpirun_prefix(const std::string& ranks) {
  std::string mpirun = EPALM_MPIEXEC;
  if (mpirun.empty() || !std::filesystem::exists(mpirun)) mpirun = "mpirun";
  std::vector<std::string> command = {mpirun, "-np", ranks, "--oversubscribe", "--bind-to", "none"};
  if (geteuid() == 0) command.push_back("--allow-run-as-root");
  return command;
}

std::vector<std::string> local_mpirun_command(int ranks, const std::string& program,
                                              const std::vector<std::string>& arguments) {
  auto command = local_mpirun_prefix(std::to_string(ranks));
  command.push_back(program);
  command.insert(command.end(), arguments.begin(), arguments.end());
  return command;
}

std::string current_executable() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw Error("/proc/self/exe", "cannot resolve this executable: " + error.message());
  return path.string();
}

void exec_command(const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const auto& part : command) argv.push_back(const_cast<char*>(part.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  throw Error(command[0], std::string("cannot start: ") + std::strerror(errno));
}

}  // namespace epalm::distributed
