// Where worlds live and how they appear there: a folder per (generator
// version, seed, sizes) under $EPALM_HOME/toy-world, generated into a hidden
// temporary sibling and renamed into place under an exclusive lock, so ranks
// and sweep workers that start together generate it once and never see half
// a world.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/core/home.h"
#include "world_writer.h"

namespace epalm::experiments::toy {

namespace {

namespace fs = std::filesystem;

struct SizeField {
  const char* name;
  int WorldSizes::*field;
  int min, max;
  bool even;
};

const std::vector<SizeField>& size_fields() {
  static const std::vector<SizeField> fields = {
      {"train-images", &WorldSizes::train_images, 1, 1000000, false},
      {"val-images", &WorldSizes::val_images, 1, 1000000, false},
      {"test-images", &WorldSizes::test_images, 1, 1000000, false},
      {"train-videos", &WorldSizes::train_videos, 1, 1000000, false},
      {"val-videos", &WorldSizes::val_videos, 1, 1000000, false},
      {"test-videos", &WorldSizes::test_videos, 1, 1000000, false},
      {"train-audio", &WorldSizes::train_audio, 1, 1000000, false},
      {"val-audio", &WorldSizes::val_audio, 1, 1000000, false},
      {"test-audio", &WorldSizes::test_audio, 1, 1000000, false},
      {"pretrain-images", &WorldSizes::pretrain_images, 1, 1000000, false},
      {"pretrain-videos", &WorldSizes::pretrain_videos, 1, 1000000, false},
      {"pretrain-audio", &WorldSizes::pretrain_audio, 1, 1000000, false},
      {"image-size", &WorldSizes::image_size, 32, 1024, true},
      {"video-size", &WorldSizes::video_size, 48, 512, true},
      {"video-frames", &WorldSizes::video_frames, 4, 256, false},
      {"audio-ms", &WorldSizes::audio_ms, 1300, 60000, false},
      {"vocab-size", &WorldSizes::vocab_size, 260, 65536, false},
  };
  return fields;
}

const char* const kManifest = "world.json";

Json manifest_of(const WorldSpec& spec) {
  Json sizes = Json::object();
  for (const auto& [name, value] : size_values(spec.sizes)) sizes[name] = value;
  return {{"generator", "epalm toy world"}, {"version", kGeneratorVersion}, {"seed", spec.seed},
          {"key", world_key(spec)}, {"sizes", sizes}};
}

// The counts when `directory` holds this spec's world, nothing when it holds
// no world; an Error when it holds something else.
bool read_existing(const WorldSpec& spec, const std::string& directory, WorldInfo& info) {
  const auto path = directory + "/" + kManifest;
  if (!fs::exists(path)) {
    std::error_code ec;
    if (fs::exists(directory) && !fs::is_empty(directory, ec)) {
      throw Error(directory, "exists and is not a toy world (no world.json); choose another directory");
    }
    return false;
  }
  Json found;
  try {
    std::ifstream in(path);
    found = Json::parse(in);
  } catch (const std::exception& e) {
    throw Error(path, std::string("not a toy world manifest: ") + e.what());
  }
  const auto want = manifest_of(spec);
  for (const char* key : {"generator", "version", "seed", "sizes"}) {
    if (!found.contains(key) || found[key] != want[key]) {
      throw Error(path, std::string("holds another world (its ") + key + " is " +
                            (found.contains(key) ? found[key].dump() : "missing") + ", wanted " + want[key].dump() +
                            "); remove it or choose another directory");
    }
  }
  info.root = fs::absolute(directory).lexically_normal().string();
  info.key = world_key(spec);
  if (found.contains("counts")) {
    for (const auto& [name, n] : found["counts"].items()) info.counts[name] = n.get<int>();
  }
  return true;
}

// An exclusive flock on `path`, released by the destructor.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw Error(path, "cannot open the lock file");
    if (::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      throw Error(path, "cannot lock");
    }
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

WorldSizes parse_sizes(const std::string& text, WorldSizes base) {
  std::istringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const auto name = item.substr(0, eq);
    const SizeField* field = nullptr;
    std::string known;
    for (const auto& f : size_fields()) {
      if (name == f.name) field = &f;
      known += (known.empty() ? "" : ", ") + std::string(f.name);
    }
    if (field == nullptr) throw UsageError("--sizes", "unknown size '" + name + "' (sizes: " + known + ")");
    const auto value = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    char* end = nullptr;
    const long parsed = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0') throw UsageError("--sizes", name + " must be an integer, not '" + value + "'");
    if (parsed < field->min || parsed > field->max) {
      throw UsageError("--sizes", name + " must be in [" + std::to_string(field->min) + ", " +
                                      std::to_string(field->max) + "], not " + value);
    }
    base.*(field->field) = static_cast<int>(parsed);
  }
  check_sizes(base);
  return base;
}

std::map<std::string, int> size_values(const WorldSizes& sizes) {
  std::map<std::string, int> out;
  for (const auto& f : size_fields()) out[f.name] = sizes.*(f.field);
  return out;
}

void check_sizes(const WorldSizes& sizes) {
  for (const auto& f : size_fields()) {
    const int v = sizes.*(f.field);
    if (v < f.min || v > f.max) {
      throw UsageError("--sizes", std::string(f.name) + " must be in [" + std::to_string(f.min) + ", " +
                                      std::to_string(f.max) + "], not " + std::to_string(v));
    }
    if (f.even && v % 2 != 0) throw UsageError("--sizes", std::string(f.name) + " must be even, not " + std::to_string(v));
  }
}

std::string world_key(const WorldSpec& spec) {
  auto key = "v" + std::to_string(kGeneratorVersion) + "-seed" + std::to_string(spec.seed);
  if (size_values(spec.sizes) == size_values(WorldSizes{})) return key;
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a over "name=value;" in name order
  for (const auto& [name, value] : size_values(spec.sizes)) {
    for (const char c : name + "=" + std::to_string(value) + ";") {
      hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    }
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08llx", static_cast<unsigned long long>(hash & 0xffffffffULL));
  return key + "-" + hex;
}

std::string default_world_home() { return epalm_home() + "/toy-world"; }

WorldInfo ensure_world_at(const WorldSpec& spec, const std::string& directory) {
  check_sizes(spec.sizes);
  if (directory.empty()) throw UsageError("--output", "is empty");
  WorldInfo info;
  if (read_existing(spec, directory, info)) return info;

  const fs::path target = fs::absolute(directory).lexically_normal();
  const fs::path parent = target.parent_path();
  make_directories(parent.string());
  const auto name = target.filename().string();
  FileLock lock((parent / ("." + name + ".lock")).string());
  if (read_existing(spec, directory, info)) return info;  // another process made it while we waited

  const auto started = std::chrono::steady_clock::now();
  std::random_device entropy;
  const fs::path temporary = parent / ("." + name + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(entropy()));
  make_directories(temporary.string());
  try {
    info.counts = write_world_files(spec, temporary.string());
    auto manifest = manifest_of(spec);
    manifest["counts"] = info.counts;
    write_json((temporary / kManifest).string(), manifest);
    std::error_code ec;
    fs::remove(target, ec);  // an empty directory given as --output
    fs::rename(temporary, target);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    throw;
  }
  info.root = target.string();
  info.key = world_key(spec);
  info.generated = true;
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return info;
}

WorldInfo ensure_world(const WorldSpec& spec, const std::string& home) {
  return ensure_world_at(spec, home + "/" + world_key(spec));
}

}  // namespace epalm::experiments::toy
