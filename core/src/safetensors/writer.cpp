#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <numeric>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"

namespace epalm::safetensors {

namespace {

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// The temporary file beside the target: unlinked unless committed, so a
// failed write leaves the previous checkpoint (or nothing) in place.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& target) : target_(target) {
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; fd_ < 0; ++attempt) {
      path_ = target + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
      // 0666 under the umask, like any file the user creates.
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && (errno != EEXIST || attempt > 100)) throw Error(target_, system_error("cannot create " + path_));
    }
  }
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  void write(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t written = ::write(fd_, bytes, size);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) throw Error(target_, system_error("cannot write " + path_));
      bytes += written;
      size -= static_cast<std::size_t>(written);
    }
  }

  // Data on disk before the rename, and the rename on disk before returning.
  void commit() {
    if (::fsync(fd_) != 0) throw Error(target_, system_error("cannot fsync " + path_));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw Error(target_, system_error("cannot close " + path_));
    if (::rename(path_.c_str(), target_.c_str()) != 0) throw Error(target_, system_error("cannot rename " + path_));
    committed_ = true;
    auto slash = target_.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : target_.substr(0, slash));
    int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

 private:
  std::string target_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorInfo> layout;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) throw Error(path, "tensor '" + name + "' is undefined");
    auto dtype = dtype_of(tensor.scalar_type());
    if (!dtype) {
      throw Error(path, "tensor '" + name + "' is " + std::string(c10::toString(tensor.scalar_type())) +
                            ", which safetensors cannot store");
    }
    TensorInfo info;
    info.name = name;
    info.dtype = *dtype;
    info.shape = tensor.sizes().vec();
    info.end = static_cast<std::uint64_t>(tensor.numel()) * tensor.element_size();
    layout.push_back(info);
  }

  // The reference layout: descending dtype (so alignment), then name.
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (layout[a].dtype != layout[b].dtype) return layout[a].dtype > layout[b].dtype;
    return layout[a].name < layout[b].name;
  });
  std::vector<TensorInfo> sorted;
  std::uint64_t offset = 0;
  for (auto i : order) {
    TensorInfo info = layout[i];
    info.begin = offset;
    info.end += offset;
    offset = info.end;
    sorted.push_back(info);
  }

  const std::string header = serialize_header(path, sorted, metadata);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(header.size()) >> (8 * i));

  TemporaryFile file(path);
  file.write(length, sizeof length);
  file.write(header.data(), header.size());
  for (auto i : order) {
    // One tensor at a time on the CPU, so a GPU model is never copied whole.
    auto cpu = tensors[i].second.to(at::kCPU).resolve_conj().resolve_neg().contiguous();
    file.write(cpu.data_ptr(), cpu.nbytes());
  }
  file.commit();
}

}  // namespace epalm::safetensors
