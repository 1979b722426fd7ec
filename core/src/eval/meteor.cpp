#include "epalm/core/meteor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "epalm/core/error.h"

namespace epalm::eval {

namespace fs = std::filesystem;

namespace {

// A child process fed and read line by line, as pycocoevalcap's Popen. Its
// stdin is a socket so that writing to a dead child fails (MSG_NOSIGNAL)
// instead of raising SIGPIPE in the caller.
class LineProcess {
 public:
  LineProcess(const std::vector<std::string>& argv, const std::string& cwd, const std::string& where) : where_(where) {
    int in[2], out[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || pipe2(out, O_CLOEXEC) != 0) {
      throw Error(where_, "cannot create the pipes to the tool");
    }
    pid_ = fork();
    if (pid_ < 0) throw Error(where_, "fork() failed");
    if (pid_ == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      const int null_fd = open("/dev/null", O_WRONLY);
      if (null_fd >= 0) dup2(null_fd, STDERR_FILENO);
      close(in[0]);
      close(in[1]);
      close(out[0]);
      close(out[1]);
      exec_in(cwd, argv);
    }
    close(in[0]);
    close(out[1]);
    to_child_ = in[1];
    from_child_ = out[0];
  }
  ~LineProcess() {
    if (to_child_ >= 0) close(to_child_);
    if (from_child_ >= 0) close(from_child_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  LineProcess(const LineProcess&) = delete;
  LineProcess& operator=(const LineProcess&) = delete;

  void write_line(const std::string& line) {
    std::string data = line + "\n";
    for (std::size_t done = 0; done < data.size();) {
      const auto n = ::send(to_child_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error(where_, "the tool stopped reading its input (did it start? is Java working?)");
      done += static_cast<std::size_t>(n);
    }
  }
  std::string read_line() {
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
      if (n <= 0) throw Error(where_, "the tool ended without answering (did it start? is Java working?)");
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  std::string where_;
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  std::string buffer_;
};

std::string strip(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") + 1 - begin);
}

double parse_score(const std::string& line, const std::string& where) {
  const auto text = strip(line);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) throw Error(where, "expected a score, got '" + line + "'");
  return value;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

}  // namespace

JavaTool find_meteor(const std::string& jar) {
  return find_java_tool("METEOR", jar, "EPALM_METEOR_JAR",
                        "meteor-1.5.jar, e.g. pycocoevalcap's site-packages/pycocoevalcap/meteor/meteor-1.5.jar");
}

std::optional<CorpusScores> meteor(const std::vector<CaptionExample>& tokenized, const JavaTool& tool) {
  if (!tool.available()) return std::nullopt;
  if (tokenized.empty()) throw Error("caption predictions", "there are none to score");
  const auto jar = fs::absolute(tool.jar);
  LineProcess p({tool.java, "-jar", "-Xmx2G", jar.string(), "-", "-", "-stdio", "-l", "en", "-norm"},
                jar.parent_path().string(), jar.string());
  std::string eval_line = "EVAL";
  for (const auto& e : tokenized) {
    if (e.references.empty()) throw Error("captions of image " + e.image_id, "there are no references");
    auto hypothesis = e.prediction;
    replace_all(hypothesis, "|||", "");
    // Python's str.replace('  ', ' '): one pass, non-overlapping
    std::string single;
    for (std::size_t i = 0; i < hypothesis.size(); ++i) {
      if (hypothesis[i] == ' ' && i + 1 < hypothesis.size() && hypothesis[i + 1] == ' ') {
        single += ' ';
        ++i;
      } else {
        single += hypothesis[i];
      }
    }
    std::string line = "SCORE";
    for (const auto& r : e.references) line += " ||| " + r;
    line += " ||| " + single;
    p.write_line(line);
    eval_line += " ||| " + strip(p.read_line());
  }
  p.write_line(eval_line);
  CorpusScores scores;
  for (std::size_t i = 0; i < tokenized.size(); ++i) scores.per_example.push_back(parse_score(p.read_line(), jar));
  scores.mean = parse_score(p.read_line(), jar);
  return scores;
}

}  // namespace epalm::eval
