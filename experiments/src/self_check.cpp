#include "epalm/experiments/self_check.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include "epalm/core/error.h"
#include "epalm/core/runtime_info.h"

namespace epalm::experiments {

namespace {

// One pre-LayerNorm self-attention block with a ReLU MLP, as in an OPT layer.
struct Block {
  torch::Tensor ln, qkv, out, fc1, fc2;

  Block(int width, const torch::TensorOptions& options) {
    auto init = [&](int64_t rows, int64_t cols) { return torch::randn({rows, cols}, options) / std::sqrt(cols); };
    ln = torch::ones({width}, options);
    qkv = init(3 * width, width);
    out = init(width, width);
    fc1 = init(4 * width, width);
    fc2 = init(width, 4 * width);
  }

  torch::Tensor forward(const torch::Tensor& x) const {
    const int64_t width = x.size(-1);
    auto h = torch::layer_norm(x, {width}, ln);
    auto parts = torch::linear(h, qkv).chunk(3, -1);
    auto attention = torch::scaled_dot_product_attention(parts[0], parts[1], parts[2], {}, 0.0, /*is_causal=*/true);
    auto y = x + torch::linear(attention, out);
    return y + torch::linear(torch::relu(torch::linear(torch::layer_norm(y, {width}, ln), fc1)), fc2);
  }
};

double flops_per_forward(const SelfCheckSettings& s) {
  const double t = static_cast<double>(s.batch) * s.tokens;
  const double w = s.width;
  return 2 * t * w * w * (3 + 1 + 8) + 2 * 2 * t * s.tokens * w / 2;  // matmuls + causal attention
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

}  // namespace

SelfCheckResult run_self_check(const SelfCheckSettings& s, const distributed::World& world) {
  if (s.batch < 1 || s.tokens < 1 || s.width < 8 || s.width % 8 != 0 || s.iterations < 1) {
    throw UsageError("self-check", "batch, tokens and iterations must be >= 1 and width a positive multiple of 8");
  }
  const auto& topology = world.topology();
  const auto device = resolve_device(s.device, topology.local_rank);
  int threads = s.threads;
  if (threads == 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads = std::max(1, cores / std::max(1, topology.local_world));
  }
  set_compute_threads(threads);

  torch::NoGradGuard no_grad;
  // Parameters and inputs come from one CPU generator, so every rank and
  // device starts from the same numbers.
  torch::manual_seed(s.seed);
  auto cpu = torch::TensorOptions().dtype(torch::kFloat32);
  Block block(s.width, cpu);
  auto x = torch::randn({s.batch, s.tokens, s.width}, cpu);
  for (auto* t : {&block.ln, &block.qkv, &block.out, &block.fc1, &block.fc2, &x}) *t = t->to(device);

  const double checksum = block.forward(x).to(torch::kFloat64).sum().item<double>();
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  sync();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < s.iterations; ++i) block.forward(x);
  sync();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double ms = 1e3 * seconds / s.iterations;
  const double gflops = flops_per_forward(s) / (seconds / s.iterations) / 1e9;
  spdlog::info("self-check: {} forward passes on {} in {:.1f} ms each ({:.1f} GFLOP/s)", s.iterations, device.str(), ms,
               gflops);

  SelfCheckResult result;
  const double lo = world.all_reduce_min(checksum);
  const double hi = world.all_reduce_max(checksum);
  result.relative_spread = (hi - lo) / std::max(std::abs(hi), 1e-30);
  // Same numbers, same kernels: ranks on the same kind of device agree to
  // rounding; thread counts may reorder reductions.
  result.ranks_agree = result.relative_spread <= 1e-5;

  std::ostringstream row;
  row << topology.rank << '\t' << topology.host << '\t' << topology.local_rank << '\t' << device.str() << '\t'
      << threads << '\t' << fixed(checksum, 6) << '\t' << fixed(ms, 2) << '\t' << fixed(gflops, 1);
  result.per_rank =
      analysis::Table({"rank", "host", "local rank", "device", "threads", "checksum", "ms/forward", "GFLOP/s"});
  for (const auto& line : world.gather_text(row.str())) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, '\t');) cells.push_back(cell);
    result.per_rank.add_row(cells);
  }
  return result;
}

}  // namespace epalm::experiments
