// Internal: the optimisation loop every pretraining shares: AdamW (weight
// decay on matrices and embeddings only), linear warmup then cosine decay to
// 10 % of the peak learning rate, global gradient-norm clipping, and progress
// reports with the mean loss, rate and ETA.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "epalm/experiments/pretraining.h"

namespace epalm::experiments::pretraining {

// The learning rate at `step` (0-based) of the schedule.
double learning_rate_at(const PretrainingSchedule& schedule, std::int64_t step);

// Counts items done against a total and reports rate and ETA.
class ProgressMeter {
 public:
  ProgressMeter(std::string model, std::string phase, std::int64_t total, PretrainingProgressCallback callback);
  // Reports `done` items with `loss` (0 when preparing).
  void report(std::int64_t done, double loss = 0) const;
  double seconds() const;

 private:
  std::string model_, phase_;
  std::int64_t total_;
  PretrainingProgressCallback callback_;
  std::chrono::steady_clock::time_point start_;
};

// Runs schedule.steps optimisation steps over `parameters` (leaf tensors that
// require gradient), `loss_at(step)` building each step's loss. Returns the
// mean loss of the last progress interval.
double train(const std::string& model, const PretrainingSchedule& schedule,
             const std::map<std::string, at::Tensor>& parameters,
             const std::function<at::Tensor(std::int64_t step)>& loss_at, const PretrainingProgressCallback& progress);

}  // namespace epalm::experiments::pretraining
