// A child process (fork + exec): the one place the project starts another
// program. The Java scorers, the benchmarks' Python peers and the sweep
// worker's cells all run through it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace epalm {

// How a child ended.
struct ExitStatus {
  int code = 0;    // its exit code (when no signal ended it)
  int signal = 0;  // the signal that killed it, 0 when it exited
  bool ok() const { return signal == 0 && code == 0; }
  // As a shell reports it: the exit code, or 128 + the signal.
  int shell_code() const { return signal != 0 ? 128 + signal : code; }
  // "exit code 3" or "signal 9".
  std::string describe() const;
};

// Where one of the child's standard streams goes.
enum class ChildStream {
  kInherit,  // the caller's
  kNull,     // /dev/null
  kPipe,     // a pipe to the caller (stdin: a socket, so writing to a dead child fails instead of raising SIGPIPE)
  kFile,     // the file named in ChildOptions (created or truncated)
};

struct ChildOptions {
  std::string cwd;                                // the child's working directory; empty: the caller's
  std::map<std::string, std::string> environment;  // set in (or replacing entries of) the caller's environment
  bool search_path = false;                       // argv[0] is looked up on PATH (else it is a path)
  bool die_with_parent = false;                   // SIGKILL when the caller dies (Linux PR_SET_PDEATHSIG)
  ChildStream in = ChildStream::kInherit, out = ChildStream::kInherit, err = ChildStream::kInherit;
  std::string out_file, err_file;  // for kFile; one path for both writes both streams to one file
};

class ChildProcess {
 public:
  // Starts argv; errors name `where`. A child that cannot change directory or
  // execute exits 126 or 127.
  ChildProcess(const std::vector<std::string>& argv, const ChildOptions& options, std::string where);
  // Kills (SIGKILL) and reaps a child still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }

  // stdin = kPipe: writes all of `data`; false when the child no longer reads.
  bool write(const std::string& data);
  // stdout = kPipe: the next line without its newline; nullopt at the end of output.
  std::optional<std::string> read_line();
  // stdout = kPipe: everything until the child closes its output.
  std::string read_all();

  // The status once the child has ended, nullopt while it runs (no waiting).
  std::optional<ExitStatus> poll();
  // Waits for the child to end.
  ExitStatus wait();
  // SIGKILL, then waits.
  ExitStatus kill();

 private:
  std::string where_;
  int pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  std::string buffer_;
  std::optional<ExitStatus> ended_;
};

}  // namespace epalm
