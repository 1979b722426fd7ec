// pretrain_encoder: a ViT, TimeSformer or AST encoder and transformers'
// classification head trained on labelled media alone, through the
// encoder's own forward, saved as the *ForClassification checkpoint.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "epalm/core/error.h"
#include "epalm/experiments/pretraining.h"
#include "pretraining/batch_order.h"
#include "pretraining/checkpoint_directory.h"
#include "pretraining/encoder_family.h"
#include "pretraining/initial_weights.h"
#include "pretraining/media_tensors.h"
#include "pretraining/report_json.h"
#include "pretraining/training_loop.h"

namespace epalm::experiments {

namespace {

using pretraining::EncoderFamily;

// The tasks learned: the settings' tasks, or the one task of num_classes.
std::vector<LabelTask> tasks_of(const EncoderPretraining& s) {
  if (!s.tasks.empty()) return s.tasks;
  return {{"label", s.num_classes, s.class_names}};
}

// One item's class per task.
std::vector<std::int64_t> item_labels(const LabelledMedia& item, bool several) {
  return several ? item.labels : std::vector<std::int64_t>{item.label};
}

void check_labels(const std::vector<LabelledMedia>& items, const std::vector<LabelTask>& tasks, bool several,
                  const std::string& where) {
  for (const auto& item : items) {
    const auto labels = item_labels(item, several);
    if (labels.size() != tasks.size()) {
      throw Error(item.path, std::to_string(labels.size()) + " labels for " + std::to_string(tasks.size()) +
                                 " tasks (" + where + ")");
    }
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      if (labels[t] < 0 || labels[t] >= tasks[t].classes) {
        throw Error(item.path, "label " + std::to_string(labels[t]) + (several ? " of task " + tasks[t].name : "") +
                                   " is outside [0, " + std::to_string(tasks[t].classes) + ") (" + where + ")");
      }
    }
  }
}

// [N, tasks] class indices.
at::Tensor labels_of(const std::vector<LabelledMedia>& items, bool several) {
  std::vector<std::int64_t> labels;
  for (const auto& item : items) {
    for (auto l : item_labels(item, several)) labels.push_back(l);
  }
  const auto n = static_cast<std::int64_t>(items.size());
  return torch::tensor(labels, torch::kLong).view({n, static_cast<std::int64_t>(labels.size()) / std::max<std::int64_t>(n, 1)});
}

// The head's outputs of task t: its classes, side by side with the others'.
at::Tensor task_logits(const at::Tensor& logits, const std::vector<std::int64_t>& offsets, std::size_t t) {
  return logits.slice(1, offsets[t], offsets[t + 1]);
}

// The mean over tasks of their cross-entropies (one task: its cross-entropy).
at::Tensor task_loss(const at::Tensor& logits, const at::Tensor& labels, const std::vector<std::int64_t>& offsets) {
  const auto tasks = offsets.size() - 1;
  auto loss = torch::nn::functional::cross_entropy(task_logits(logits, offsets, 0), labels.select(1, 0));
  for (std::size_t t = 1; t < tasks; ++t) {
    loss = loss + torch::nn::functional::cross_entropy(task_logits(logits, offsets, t), labels.select(1, static_cast<std::int64_t>(t)));
  }
  return tasks == 1 ? loss : loss / static_cast<double>(tasks);
}

// Per task, the share of `inputs` the model labels right.
std::vector<double> accuracy(const EncoderFamily& family, const models::Encoder& encoder,
                             const std::map<std::string, at::Tensor>& head, const at::Tensor& inputs,
                             const at::Tensor& labels, const std::vector<std::int64_t>& offsets) {
  torch::NoGradGuard no_grad;
  constexpr std::int64_t kBatch = 64;
  std::vector<std::int64_t> right(offsets.size() - 1, 0);
  for (std::int64_t start = 0; start < inputs.size(0); start += kBatch) {
    const auto end = std::min(inputs.size(0), start + kBatch);
    const auto logits = family.logits(encoder.forward(inputs.slice(0, start, end)), head);
    for (std::size_t t = 0; t < right.size(); ++t) {
      const auto predicted = task_logits(logits, offsets, t).argmax(1);
      right[t] += (predicted == labels.slice(0, start, end).select(1, static_cast<std::int64_t>(t))).sum().item<std::int64_t>();
    }
  }
  std::vector<double> out;
  for (auto r : right) out.push_back(static_cast<double>(r) / static_cast<double>(inputs.size(0)));
  return out;
}

double mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

}  // namespace

EncoderPretrainingReport pretrain_encoder(const EncoderPretraining& s) {
  const EncoderFamily family(s.config);
  const std::string where = family.name() + " pretraining";
  s.schedule.validate(where);
  const bool several = !s.tasks.empty();
  const auto tasks = tasks_of(s);
  std::vector<std::int64_t> offsets = {0};  // task t's outputs: [offsets[t], offsets[t + 1])
  std::vector<std::string> class_names;     // the head's, all tasks
  for (const auto& task : tasks) {
    const auto what = several ? "task '" + task.name + "'" : std::string("the task");
    if (task.classes < 2) throw UsageError(where, what + " needs at least 2 classes, not " + std::to_string(task.classes));
    if (!task.class_names.empty()) {
      if (static_cast<std::int64_t>(task.class_names.size()) != task.classes) {
        throw UsageError(where, std::to_string(task.class_names.size()) + " class names for " +
                                    std::to_string(task.classes) + " classes (" + what + ")");
      }
      if (std::set<std::string>(task.class_names.begin(), task.class_names.end()).size() != task.class_names.size()) {
        throw UsageError(where, "class names repeat (" + what + ")");
      }
      for (const auto& name : task.class_names) class_names.push_back(several ? task.name + ": " + name : name);
    } else if (several) {
      for (std::int64_t c = 0; c < task.classes; ++c) class_names.push_back(task.name + ": " + std::to_string(c));
    }
    offsets.push_back(offsets.back() + task.classes);
  }
  const auto num_classes = offsets.back();
  if (s.train.empty()) throw UsageError(where, "no training media");
  if (s.heldout.empty()) throw UsageError(where, "no held-out media (the accuracy needs some)");
  if (s.horizontal_flip && family.name() != "vit") {
    throw UsageError(where, "horizontal flips are for images only");
  }
  check_labels(s.train, tasks, several, where);
  check_labels(s.heldout, tasks, several, where);

  // Decode and preprocess every file once; training reads the tensors.
  const auto settings = family.media_settings();
  const auto total = static_cast<std::int64_t>(s.train.size() + s.heldout.size());
  pretraining::ProgressMeter preparing(family.name(), "preparing", total, s.progress);
  const auto train_inputs = pretraining::prepare_media(s.train, settings, preparing, 0);
  const auto heldout_inputs =
      pretraining::prepare_media(s.heldout, settings, preparing, static_cast<std::int64_t>(s.train.size()));
  const auto train_labels = labels_of(s.train, several);
  const auto heldout_labels = labels_of(s.heldout, several);
  const double preparation_seconds = preparing.seconds();

  auto weights = pretraining::initial_weights(family.encoder_shapes(), s.schedule.seed);
  // Position embeddings start from sine-cosine tables rather than noise of
  // std 0.02, which is small beside a patch's embedding: the models then know
  // where each patch, frame and time slice is from the first step, and the
  // questions are about where things are (EncoderFamily::position_layouts).
  {
    torch::NoGradGuard no_grad;
    for (const auto& [name, layout] : family.position_layouts()) {
      auto& t = weights.at(name);
      t.copy_(pretraining::sincos_position_table(layout, family.hidden_size()).view_as(t));
    }
  }
  auto head = pretraining::initial_weights(family.head_shapes(num_classes), s.schedule.seed + 1);
  const auto encoder = family.build(weights);
  std::map<std::string, at::Tensor> parameters = head;
  for (const auto& [name, t] : weights) parameters[family.checkpoint_prefix() + name] = t;

  pretraining::BatchOrder order(s.train.size(), s.schedule.seed);
  const auto start = std::chrono::steady_clock::now();
  const double final_loss = pretraining::train(
      family.name(), s.schedule, parameters,
      [&](std::int64_t) {
        const auto picks = order.next(s.schedule.batch_size);
        std::vector<std::int64_t> rows(picks.begin(), picks.end());
        const auto index = torch::tensor(rows, torch::kLong);
        auto inputs = train_inputs.index_select(0, index);
        if (s.horizontal_flip) {
          std::vector<std::int64_t> flipped;
          for (std::int64_t i = 0; i < inputs.size(0); ++i) {
            if (order.random().coin()) flipped.push_back(i);
          }
          if (!flipped.empty()) {
            const auto f = torch::tensor(flipped, torch::kLong);
            inputs.index_copy_(0, f, inputs.index_select(0, f).flip({-1}));  // [B, 3, H, W]: along the width
          }
        }
        const auto logits = family.logits(encoder->forward(inputs), head);
        return task_loss(logits, train_labels.index_select(0, index), offsets);
      },
      s.progress);
  const double training_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EncoderPretrainingReport r;
  r.output_directory = s.output_directory;
  r.family = family.name();
  for (const auto& [name, t] : weights) r.parameters += t.numel();
  r.train_samples = static_cast<std::int64_t>(s.train.size());
  r.heldout_samples = static_cast<std::int64_t>(s.heldout.size());
  r.num_classes = num_classes;
  const auto heldout = accuracy(family, *encoder, head, heldout_inputs, heldout_labels, offsets);
  r.heldout_accuracy = mean(heldout);
  r.train_accuracy = mean(accuracy(family, *encoder, head, train_inputs, train_labels, offsets));
  std::vector<double> majority;
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    const auto column = static_cast<std::int64_t>(t);
    const auto commonest =
        torch::bincount(train_labels.select(1, column), {}, tasks[t].classes).argmax().item<std::int64_t>();
    majority.push_back((heldout_labels.select(1, column) == commonest).to(torch::kDouble).mean().item<double>());
    if (several) r.by_task.push_back({tasks[t].name, heldout[t], majority[t]});
  }
  r.majority_accuracy = mean(majority);
  r.final_train_loss = final_loss;
  r.preparation_seconds = preparation_seconds;
  r.training_seconds = training_seconds;

  pretraining::CheckpointDirectory out(s.output_directory);
  std::vector<std::pair<std::string, at::Tensor>> tensors(parameters.begin(), parameters.end());
  out.write_weights(tensors);
  out.write_text("config.json", family.config_json(num_classes, class_names).dump(2) + "\n");
  const nlohmann::json report = {{"model", family.name()},
                                 {"trained_on", "labelled media only"},
                                 {"parameters", r.parameters},
                                 {"train_samples", r.train_samples},
                                 {"heldout_samples", r.heldout_samples},
                                 {"num_classes", r.num_classes},
                                 {"heldout_accuracy", r.heldout_accuracy},
                                 {"train_accuracy", r.train_accuracy},
                                 {"majority_accuracy", r.majority_accuracy},
                                 {"final_train_loss", r.final_train_loss},
                                 {"schedule", pretraining::schedule_json(s.schedule)},
                                 {"preparation_seconds", r.preparation_seconds},
                                 {"training_seconds", r.training_seconds}};
  auto written = report;
  for (const auto& t : r.by_task) {
    written["tasks"].push_back({{"task", t.task}, {"heldout_accuracy", t.heldout}, {"majority_accuracy", t.majority}});
  }
  out.write_text("pretraining.json", written.dump(2) + "\n");
  out.commit();
  return r;
}

}  // namespace epalm::experiments
