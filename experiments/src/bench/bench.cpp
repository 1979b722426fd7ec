#include "epalm/experiments/bench/bench.h"

#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "epalm/build_config.h"
#include "epalm/core/child_process.h"
#include "epalm/core/error.h"
#include "epalm/core/layers/frozen_linear.h"

#if EPALM_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace epalm::experiments {

namespace fs = std::filesystem;

std::vector<double> sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string attention_label(models::AttentionKernel kernel) {
  switch (kernel) {
    case models::AttentionKernel::kSdpa: return "sdpa";
    case models::AttentionKernel::kEager: return "eager";
    case models::AttentionKernel::kAuto: break;
  }
  return "auto";
}

double median(const std::vector<double>& v) {
  if (v.empty()) return 0;
  const auto s = sorted(v);
  const auto n = s.size();
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

namespace {

std::int64_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream s(line.substr(field.size() + 1));
      std::int64_t kib = 0;
      s >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

// Resets VmHWM to the current RSS (Linux clear_refs "5").
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::string tail_of(const std::string& path, std::size_t max_chars) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  auto text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.size() > max_chars ? "..." + text.substr(text.size() - max_chars) : text;
}

}  // namespace

void synchronize(c10::Device device) {
#if EPALM_HAVE_CUDA
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
#else
  (void)device;
#endif
}

Measurement measure(const std::function<void()>& once, const BenchSettings& s, Progress& progress,
                    const std::string& label) {
  for (int i = 0; i < s.warmup; ++i) {
    progress.say(label + ": warmup " + std::to_string(i + 1) + "/" + std::to_string(s.warmup));
    once();
  }
  synchronize(s.device);
  Measurement m;
  std::int64_t before = 0;
#if EPALM_HAVE_CUDA
  if (s.device.is_cuda()) {
    namespace alloc = c10::cuda::CUDACachingAllocator;
    alloc::resetPeakStats(s.device.index());
    before = alloc::getDeviceStats(s.device.index())
                 .allocated_bytes[static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
                 .current;
    m.memory_kind = "CUDA allocated";
  }
#endif
  if (!s.device.is_cuda()) {
    m.memory_kind = reset_peak_rss() ? "RSS" : "RSS (peak over the process's life)";
    before = status_bytes("VmRSS");
  }
  for (int i = 0; i < s.repetitions; ++i) {
    progress.say(label + ": run " + std::to_string(i + 1) + "/" + std::to_string(s.repetitions));
    synchronize(s.device);
    const auto start = std::chrono::steady_clock::now();
    once();
    synchronize(s.device);
    m.times_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
#if EPALM_HAVE_CUDA
  if (s.device.is_cuda()) {
    namespace alloc = c10::cuda::CUDACachingAllocator;
    m.peak_bytes = alloc::getDeviceStats(s.device.index())
                       .allocated_bytes[static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
                       .peak;
  }
#endif
  if (!s.device.is_cuda()) m.peak_bytes = status_bytes("VmHWM");
  m.delta_bytes = std::max<std::int64_t>(0, m.peak_bytes - before);
  m.median_s = median(m.times_s);
  m.min_s = m.times_s.empty() ? 0 : sorted(m.times_s).front();
  return m;
}

double measure_gemm_rate(const BenchSettings& s, std::int64_t n) {
  const auto options = torch::TensorOptions().dtype(s.dtype).device(s.device);
  // Through the library that multiplies the models' frozen weights (cpu_matmul.h).
  const auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
  layers::frozen_linear(a, b, {});  // warm the kernels and the allocator
  synchronize(s.device);
  std::vector<double> times;
  for (int i = 0; i < std::max(3, s.repetitions); ++i) {
    const auto start = std::chrono::steady_clock::now();
    layers::frozen_linear(a, b, {});
    synchronize(s.device);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / median(times);
}

double measure_memory_rate(const BenchSettings& s, std::int64_t bytes) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(s.device);
  const auto from = torch::randn({bytes / 4}, options);
  auto to = torch::empty_like(from);
  to.copy_(from);  // touch the pages first
  synchronize(s.device);
  std::vector<double> times;
  for (int i = 0; i < std::max(3, s.repetitions); ++i) {
    const auto start = std::chrono::steady_clock::now();
    to.copy_(from);
    synchronize(s.device);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return 2.0 * static_cast<double>(from.numel() * 4) / median(times);  // read once, written once
}

Measurement run_peer(const BenchSettings& s, const std::string& script_name, const std::vector<std::string>& args,
                     Progress& progress) {
  if (s.python.empty() || access(s.python.c_str(), X_OK) != 0) {
    throw Error("--python", "'" + s.python +
                                "' is not an executable Python: the benchmark's peer needs Python with torch and "
                                "transformers (launch/setup makes one; or pass --python, or --peer off)");
  }
  const auto script = (fs::path(s.peer_scripts) / script_name).string();
  if (!fs::is_regular_file(script)) {
    throw Error(script, "peer script not found (set --peer-scripts to the source tree's tests/bench)");
  }
  progress.say("peer: " + script_name + " (transformers, eager)");
  ScratchDir scratch(s.work_dir);
  const auto err_path = scratch.path() + "/stderr";
  std::vector<std::string> argv = {s.python, script};
  argv.insert(argv.end(), args.begin(), args.end());

  ChildOptions options;
  options.in = ChildStream::kNull;
  options.out = ChildStream::kPipe;
  options.err = ChildStream::kFile;
  options.err_file = err_path;
  ChildProcess peer(argv, options, script);
  const auto out = peer.read_all();
  const auto status = peer.wait();
  progress.clear();
  if (!status.ok()) {
    throw Error(script, "peer failed (" + status.describe() + ", " + s.python + "): " + tail_of(err_path, 1500));
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(out.substr(out.find('{')));
  } catch (const std::exception& e) {
    throw Error(script, std::string("peer printed no JSON result: ") + e.what());
  }
  Measurement m;
  m.times_s = j.at("times_s").get<std::vector<double>>();
  m.median_s = median(m.times_s);
  m.min_s = m.times_s.empty() ? 0 : sorted(m.times_s).front();
  if (j.contains("cuda_peak_bytes")) {
    m.memory_kind = "CUDA allocated";
    m.peak_bytes = j["cuda_peak_bytes"].get<std::int64_t>();
    m.delta_bytes = std::max<std::int64_t>(0, m.peak_bytes - j["cuda_before_bytes"].get<std::int64_t>());
  } else {
    m.memory_kind = j.value("peak_rss_reset", false) ? "RSS" : "RSS (peak over the process's life)";
    m.peak_bytes = j.at("peak_rss_bytes").get<std::int64_t>();
    m.delta_bytes = std::max<std::int64_t>(0, m.peak_bytes - j.at("rss_before_bytes").get<std::int64_t>());
  }
  m.extra = {{"versions", j.value("versions", nlohmann::json::object())},
             {"threads", j.value("threads", 0)},
             {"digest", j.value("digest", nlohmann::json::object())}};
  return m;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  return s.str();
}

void write_record(const std::string& path, const nlohmann::ordered_json& j) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw Error(path, "cannot write the benchmark record");
    out << j.dump(2) << "\n";
    if (!out.flush()) throw Error(path, "cannot write the benchmark record");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(path, "cannot write the benchmark record: " + ec.message());
}

}  // namespace epalm::experiments
