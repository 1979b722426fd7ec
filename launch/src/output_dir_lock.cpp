#include "output_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "epalm/core/error.h"

namespace epalm::cli {

namespace fs = std::filesystem;

OutputDirLock::OutputDirLock(const std::string& output_dir) {
  std::error_code ec;
  fs::create_directories(output_dir, ec);
  if (ec) throw Error(output_dir, "cannot create the output directory: " + ec.message());
  const auto path = (fs::path(output_dir) / ".epalm-lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path, std::string("cannot open the output directory's lock: ") + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    if (error != EWOULDBLOCK) throw Error(path, std::string("cannot lock the output directory: ") + std::strerror(error));
    std::ifstream in(path);
    std::stringstream holder;
    holder << in.rdbuf();
    auto who = holder.str();
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    throw Error(output_dir, "the output directory is in use by another run (" + (who.empty() ? "unknown" : who) +
                                "); wait for it to end or stop it, or give another --output-dir");
  }
  // Holding the lock, nothing else writes here: a checkpoint's temporary file
  // is what a killed run left mid-write (the checkpoint itself is replaced
  // atomically, so it is whole).
  for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
    if (entry.path().filename().string().find(".safetensors.tmp-") == std::string::npos) continue;
    spdlog::warn("removing {}: a checkpoint write a killed run left unfinished", entry.path().string());
    fs::remove(entry.path(), ec);
  }
  // Who holds it, for the message another run prints.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const auto who = "epalm train, pid " + std::to_string(::getpid()) + " on " + host + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const auto written = ::pwrite(fd_, who.data(), who.size(), 0);
  }
}

OutputDirLock::~OutputDirLock() {
  if (fd_ >= 0) ::close(fd_);  // drops the lock; the file stays (removing it would race a new holder)
}

}  // namespace epalm::cli
