#include "pretraining/training_loop.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "epalm/core/error.h"

namespace epalm::experiments {

void PretrainingSchedule::validate(const std::string& where) const {
  if (steps < 1) throw UsageError(where, "steps must be positive, not " + std::to_string(steps));
  if (batch_size < 1) throw UsageError(where, "batch size must be positive, not " + std::to_string(batch_size));
  if (!(learning_rate > 0)) throw UsageError(where, "learning rate must be positive");
  if (!(warmup_fraction >= 0 && warmup_fraction < 1)) throw UsageError(where, "warmup fraction must be in [0, 1)");
  if (!(weight_decay >= 0)) throw UsageError(where, "weight decay must be >= 0");
  if (!(grad_clip >= 0)) throw UsageError(where, "gradient clip must be >= 0");
  if (progress_every < 1) throw UsageError(where, "progress interval must be positive");
}

std::string progress_line(const PretrainingProgress& p) {
  char line[200];
  std::snprintf(line, sizeof line, "pretraining %s: %s %lld/%lld  loss %.4f  %.1f/s  ETA %.0f s", p.model.c_str(),
                p.phase.c_str(), static_cast<long long>(p.step), static_cast<long long>(p.steps), p.loss, p.rate,
                p.eta_seconds);
  return line;
}

namespace pretraining {

double learning_rate_at(const PretrainingSchedule& s, std::int64_t step) {
  const auto warmup = static_cast<std::int64_t>(std::ceil(s.warmup_fraction * static_cast<double>(s.steps)));
  if (step < warmup) return s.learning_rate * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double span = static_cast<double>(std::max<std::int64_t>(1, s.steps - warmup));
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
  constexpr double kFloor = 0.1;  // the last steps still move the weights a little
  return s.learning_rate * (kFloor + (1 - kFloor) * 0.5 * (1 + std::cos(M_PI * progress)));
}

ProgressMeter::ProgressMeter(std::string model, std::string phase, std::int64_t total,
                             PretrainingProgressCallback callback)
    : model_(std::move(model)),
      phase_(std::move(phase)),
      total_(total),
      callback_(std::move(callback)),
      start_(std::chrono::steady_clock::now()) {}

double ProgressMeter::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressMeter::report(std::int64_t done, double loss) const {
  if (!callback_) return;
  PretrainingProgress p;
  p.model = model_;
  p.phase = phase_;
  p.step = done;
  p.steps = total_;
  p.loss = loss;
  const double elapsed = seconds();
  p.rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  p.eta_seconds = p.rate > 0 ? static_cast<double>(total_ - done) / p.rate : 0;
  callback_(p);
}

double train(const std::string& model, const PretrainingSchedule& s,
             const std::map<std::string, at::Tensor>& parameters,
             const std::function<at::Tensor(std::int64_t step)>& loss_at, const PretrainingProgressCallback& progress) {
  // Weight decay on matrices and embeddings; none on biases and LayerNorms
  // (GPT-2 / OPT / ViT practice).
  std::vector<at::Tensor> decayed, plain, all;
  for (const auto& [name, t] : parameters) {
    (t.dim() >= 2 ? decayed : plain).push_back(t);
    all.push_back(t);
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(s.learning_rate).weight_decay(s.weight_decay)));
  groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(s.learning_rate).weight_decay(0.0)));
  torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(s.learning_rate));

  ProgressMeter meter(model, "training", s.steps, progress);
  double interval_loss = 0, last_mean = 0;
  std::int64_t interval_steps = 0;
  for (std::int64_t step = 0; step < s.steps; ++step) {
    const double lr = learning_rate_at(s, step);
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    optimizer.zero_grad();
    const auto loss = loss_at(step);
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      throw Error(model + " pretraining", "the loss became " + std::to_string(value) + " at step " +
                                              std::to_string(step + 1) + " (lower the learning rate)");
    }
    loss.backward();
    if (s.grad_clip > 0) torch::nn::utils::clip_grad_norm_(all, s.grad_clip);
    optimizer.step();
    interval_loss += value;
    ++interval_steps;
    if ((step + 1) % s.progress_every == 0 || step + 1 == s.steps) {
      last_mean = interval_loss / static_cast<double>(interval_steps);
      meter.report(step + 1, last_mean);
      interval_loss = 0;
      interval_steps = 0;
    }
  }
  return last_mean;
}

}  // namespace pretraining
}  // namespace epalm::experiments
