// The harness of `epalm bench`: each case times our implementation and its
// peer (PyTorch + transformers, run as a Python script) on the same machine,
// shapes, weights and threads, and reports medians, ratios and peak memory.
// A model family adds its cases with a `std::vector<BenchCase> xxx_bench_cases()`
// and one line in bench_command.cpp.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "epalm/core/models/attention_kernel.h"
#include "epalm/core/progress.h"
#include "epalm/core/scratch_dir.h"

namespace epalm::experiments {

struct BenchSettings {
  std::string model;    // a preset (random weights) or a checkpoint directory
  std::string encoder;  // the encoder preset of the eP-ALM cases
  int batch = 0;        // 0: the case's default
  int tokens = 0;       // prompt / sequence tokens; 0: the case's default
  int new_tokens = 0;   // generated tokens; 0: the case's default
  int warmup = 1;
  int repetitions = 5;
  int threads = 0;      // compute threads for ours and the peer (0: LibTorch's default)
  int samples = 0;         // data cases: samples per pass (0: the case's default)
  int loader_threads = 4;  // data cases: our decoding threads and the peer's DataLoader workers
  std::string augment = "off";  // data cases: off (evaluation transforms), crop-flip or rand-augment (training's)
  int variants = 4;             // sweep-fused: the ablation grid's variants (4 or 8)
  c10::ScalarType dtype = c10::kFloat;
  c10::Device device = c10::kCPU;
  models::AttentionKernel attention = models::AttentionKernel::kEager;
  std::uint64_t seed = 0;
  bool peer = true;          // run the Python peer
  std::string python;        // its interpreter
  std::string peer_scripts;  // folder of the peer scripts (tests/bench)
  std::string work_dir;      // for temporary checkpoints and inputs
  bool progress = false;     // progress lines on stderr
};

struct Measurement {
  std::vector<double> times_s;
  double median_s = 0;
  double min_s = 0;
  std::int64_t peak_bytes = 0;   // peak RSS (CPU) or peak allocated (CUDA) during the timed runs
  std::int64_t delta_bytes = 0;  // that peak above the level before them
  std::string memory_kind;       // "RSS" or "CUDA allocated"
  nlohmann::json extra;          // the peer's versions, digests
};

// What a peer's missing number reads as: a double NaN (NAN is a float, and
// json::value would then read the peer's number as a float too).
constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

// "auto", "eager" or "sdpa": the kernel as --attention names it (models::parse_attention_kernel).
std::string attention_label(models::AttentionKernel kernel);

std::vector<double> sorted(std::vector<double> v);
double median(const std::vector<double>& v);

// Runs `once` `warmup` times, then `repetitions` timed times (synchronising a
// CUDA device around each), measuring peak memory over the timed runs.
Measurement measure(const std::function<void()>& once, const BenchSettings& s, Progress& progress,
                    const std::string& label);

// Waits for the work queued on a CUDA device; nothing on the CPU. Every
// timed region of a benchmark ends with it.
void synchronize(c10::Device device);

// The machine's matrix-multiply rate in FLOP/s: the median of
// max(3, s.repetitions) products of two n x n matrices in s.dtype on s.device, with the current
// compute threads, through the library the models' frozen weights use (epalm/core/cpu_matmul.h;
// what bounds a step whose work is GEMMs).
double measure_gemm_rate(const BenchSettings& s, std::int64_t n = 1024);

// The machine's memory rate in bytes/s: the median of max(3, s.repetitions)
// copies of `bytes` (read and written, so 2 x bytes moved each) on s.device,
// with the current compute threads (what bounds work that streams weights
// through small products, as one decoding step does).
double measure_memory_rate(const BenchSettings& s, std::int64_t bytes = std::int64_t{256} << 20);

// Runs `script` (in s.peer_scripts) with s.python and `args`; returns the JSON
// object it prints on stdout as a Measurement. Throws epalm::Error with the
// peer's own error when Python is missing or the script fails.
Measurement run_peer(const BenchSettings& s, const std::string& script, const std::vector<std::string>& args,
                     Progress& progress);

struct BenchResult {
  std::vector<std::pair<std::string, std::string>> settings;  // what ran: shapes, dtype, device, threads, model
  std::int64_t tokens_per_run = 0;  // generated (or processed) tokens, or `unit`s, per timed run
  std::string unit = "tokens";      // what tokens_per_run counts: "tokens", "images"
  bool generation = false;          // the tokens/s ratio is the headline
  std::string peer_implementation = "PyTorch + transformers OPTForCausalLM, eager attention, no_grad";
  std::string ours_label = "epalm (LibTorch)";   // the table's rows
  std::string peer_label = "transformers eager";
  Measurement ours;
  std::optional<Measurement> peer;
  std::string check;  // how the two outputs compare, in words
  bool agree = true;
};

struct BenchCase {
  std::string name;
  std::string summary;
  std::function<BenchResult(const BenchSettings&, Progress&)> run;
  std::string default_model;  // BenchSettings::model unless --model is given
};

// Now in UTC, ISO 8601 (the records' timestamp).
std::string utc_now();
// Writes a benchmark record atomically (temporary file, then rename).
void write_record(const std::string& path, const nlohmann::ordered_json& j);

std::vector<BenchCase> opt_bench_cases();
std::vector<BenchCase> vit_bench_cases();
std::vector<BenchCase> epalm_bench_cases();
std::vector<BenchCase> epalm_eval_bench_cases();
std::vector<BenchCase> sweep_fused_bench_cases();
std::vector<BenchCase> data_bench_cases();
std::vector<BenchCase> metrics_bench_cases();

}  // namespace epalm::experiments
