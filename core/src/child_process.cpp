#include "epalm/core/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "epalm/core/error.h"

extern char** environ;

namespace epalm {

namespace {

ExitStatus from_wait_status(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.code = WEXITSTATUS(status);
  } else {
    s.code = -1;
    s.signal = WTERMSIG(status);
  }
  return s;
}

int open_or_throw(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path, std::string("cannot open it for a child process: ") + std::strerror(errno));
  return fd;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string ExitStatus::describe() const {
  return signal != 0 ? "signal " + std::to_string(signal) : "exit code " + std::to_string(code);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const ChildOptions& options, std::string where)
    : where_(std::move(where)) {
  if (argv.empty()) throw Error(where_, "no command to run");
  // Everything the child needs is built before fork: after it only
  // async-signal-safe calls are allowed in a threaded process.
  std::vector<std::string> env_text;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    if (options.environment.count(entry.substr(0, entry.find('='))) == 0) env_text.push_back(entry);
  }
  for (const auto& [k, v] : options.environment) env_text.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  // The child's ends (-1: leave the stream as it is) and the caller's.
  int child_in = -1, child_out = -1, child_err = -1;
  int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int* fd : {&child_in, &child_out, &child_err, &in_pair[0], &in_pair[1], &out_pipe[0], &out_pipe[1]}) {
      close_fd(*fd);
    }
  };
  try {
    if (options.in == ChildStream::kNull) child_in = open_or_throw("/dev/null", O_RDONLY);
    if (options.in == ChildStream::kFile) throw Error(where_, "a child's input cannot be a file here");
    if (options.in == ChildStream::kPipe) {
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
        throw Error(where_, std::string("cannot create the pipe to the child: ") + std::strerror(errno));
      }
    }
    if (options.out == ChildStream::kPipe || options.err == ChildStream::kPipe) {
      if (options.err == ChildStream::kPipe && options.out != ChildStream::kPipe) {
        throw Error(where_, "a child's error stream is piped only together with its output");
      }
      if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        throw Error(where_, std::string("cannot create the pipe from the child: ") + std::strerror(errno));
      }
    }
    if (options.out == ChildStream::kNull) child_out = open_or_throw("/dev/null", O_WRONLY);
    if (options.out == ChildStream::kFile) {
      child_out = open_or_throw(options.out_file, O_WRONLY | O_CREAT | O_TRUNC);
    }
    if (options.err == ChildStream::kNull) child_err = open_or_throw("/dev/null", O_WRONLY);
    if (options.err == ChildStream::kFile && !(options.out == ChildStream::kFile && options.err_file == options.out_file)) {
      child_err = open_or_throw(options.err_file, O_WRONLY | O_CREAT | O_TRUNC);
    }
  } catch (...) {
    close_all();
    throw;
  }
  const bool err_to_out_file = options.err == ChildStream::kFile && options.out == ChildStream::kFile &&
                               options.err_file == options.out_file;
  const std::string exec_failed = "cannot execute " + argv[0] + "\n";
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close_all();
    throw Error(where_, std::string("fork() failed: ") + std::strerror(error));
  }
  if (pid == 0) {
    if (options.die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
    }
    if (in_pair[0] >= 0) dup2(in_pair[0], STDIN_FILENO);
    if (child_in >= 0) dup2(child_in, STDIN_FILENO);
    if (out_pipe[1] >= 0) dup2(out_pipe[1], STDOUT_FILENO);
    if (child_out >= 0) dup2(child_out, STDOUT_FILENO);
    if (options.err == ChildStream::kPipe || err_to_out_file) dup2(STDOUT_FILENO, STDERR_FILENO);
    if (child_err >= 0) dup2(child_err, STDERR_FILENO);
    if (cwd != nullptr && chdir(cwd) != 0) _exit(126);
    // The descriptors above are close-on-exec: only the dup2'd ones survive.
    if (options.search_path) {
      execvpe(args[0], args.data(), envp.data());
    } else {
      execve(args[0], args.data(), envp.data());
    }
    (void)!::write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    _exit(127);
  }
  pid_ = pid;
  to_child_ = in_pair[1];
  from_child_ = out_pipe[0];
  in_pair[1] = out_pipe[0] = -1;
  close_all();
}

ChildProcess::~ChildProcess() {
  close_fd(to_child_);
  close_fd(from_child_);
  if (!ended_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

bool ChildProcess::write(const std::string& data) {
  if (to_child_ < 0) throw Error(where_, "the child's input is not a pipe");
  for (std::size_t done = 0; done < data.size();) {
    const auto n = ::send(to_child_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::string> ChildProcess::read_line() {
  if (from_child_ < 0) throw Error(where_, "the child's output is not a pipe");
  while (true) {
    const auto end = buffer_.find('\n');
    if (end != std::string::npos) {
      auto line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      return line;
    }
    char chunk[4096];
    const auto n = ::read(from_child_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string ChildProcess::read_all() {
  if (from_child_ < 0) throw Error(where_, "the child's output is not a pipe");
  std::string out = std::move(buffer_);
  buffer_.clear();
  char chunk[4096];
  for (ssize_t n; (n = ::read(from_child_, chunk, sizeof chunk)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(chunk, static_cast<std::size_t>(n));
  }
  return out;
}

std::optional<ExitStatus> ChildProcess::poll() {
  if (ended_) return ended_;
  int status = 0;
  const pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    ended_ = from_wait_status(status);
  } else if (done < 0 && errno != EINTR) {
    throw Error(where_, std::string("waitpid() failed: ") + std::strerror(errno));
  }
  return ended_;
}

ExitStatus ChildProcess::wait() {
  if (ended_) return *ended_;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw Error(where_, std::string("waitpid() failed: ") + std::strerror(errno));
  }
  ended_ = from_wait_status(status);
  return *ended_;
}

ExitStatus ChildProcess::kill() {
  if (!ended_) ::kill(pid_, SIGKILL);
  return wait();
}

}  // namespace epalm
