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

void check_labels(const std::vector<LabelledMedia>& items, std::int64_t classes, const std::string& where) {
  for (const auto& item : items) {
    if (item.label < 0 || item.label >= classes) {
      throw Error(item.path, "label " + std::to_string(item.label) + " is outside [0, " + std::to_string(classes) +
                                 ") (" + where + ")");
    }
  }
}

at::Tensor labels_of(const std::vector<LabelledMedia>& items) {
  std::vector<std::int64_t> labels;
  for (const auto& item : items) labels.push_back(item.label);
  return torch::tensor(labels, torch::kLong);
}

// The share of `inputs` the model labels right.
double accuracy(const EncoderFamily& family, const models::Encoder& encoder,
                const std::map<std::string, at::Tensor>& head, const at::Tensor& inputs, const at::Tensor& labels) {
  torch::NoGradGuard no_grad;
  constexpr std::int64_t kBatch = 64;
  std::int64_t right = 0;
  for (std::int64_t start = 0; start < inputs.size(0); start += kBatch) {
    const auto end = std::min(inputs.size(0), start + kBatch);
    const auto predicted = family.logits(encoder.forward(inputs.slice(0, start, end)), head).argmax(1);
    right += (predicted == labels.slice(0, start, end)).sum().item<std::int64_t>();
  }
  return static_cast<double>(right) / static_cast<double>(inputs.size(0));
}

}  // namespace

EncoderPretrainingReport pretrain_encoder(const EncoderPretraining& s) {
  const EncoderFamily family(s.config);
  const std::string where = family.name() + " pretraining";
  s.schedule.validate(where);
  if (s.num_classes < 2) throw UsageError(where, "needs at least 2 classes, not " + std::to_string(s.num_classes));
  if (!s.class_names.empty()) {
    if (static_cast<std::int64_t>(s.class_names.size()) != s.num_classes) {
      throw UsageError(where, std::to_string(s.class_names.size()) + " class names for " +
                                  std::to_string(s.num_classes) + " classes");
    }
    if (std::set<std::string>(s.class_names.begin(), s.class_names.end()).size() != s.class_names.size()) {
      throw UsageError(where, "class names repeat");
    }
  }
  if (s.train.empty()) throw UsageError(where, "no training media");
  if (s.heldout.empty()) throw UsageError(where, "no held-out media (the accuracy needs some)");
  if (s.horizontal_flip && family.name() != "vit") {
    throw UsageError(where, "horizontal flips are for images only");
  }
  check_labels(s.train, s.num_classes, where);
  check_labels(s.heldout, s.num_classes, where);

  // Decode and preprocess every file once; training reads the tensors.
  const auto settings = family.media_settings();
  const auto total = static_cast<std::int64_t>(s.train.size() + s.heldout.size());
  pretraining::ProgressMeter preparing(family.name(), "preparing", total, s.progress);
  const auto train_inputs = pretraining::prepare_media(s.train, settings, preparing, 0);
  const auto heldout_inputs =
      pretraining::prepare_media(s.heldout, settings, preparing, static_cast<std::int64_t>(s.train.size()));
  const auto train_labels = labels_of(s.train);
  const auto heldout_labels = labels_of(s.heldout);
  const double preparation_seconds = preparing.seconds();

  auto weights = pretraining::initial_weights(family.encoder_shapes(), s.schedule.seed);
  auto head = pretraining::initial_weights(family.head_shapes(s.num_classes), s.schedule.seed + 1);
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
        return torch::nn::functional::cross_entropy(logits, train_labels.index_select(0, index));
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
  r.num_classes = s.num_classes;
  r.heldout_accuracy = accuracy(family, *encoder, head, heldout_inputs, heldout_labels);
  r.train_accuracy = accuracy(family, *encoder, head, train_inputs, train_labels);
  const auto commonest = torch::bincount(train_labels, {}, s.num_classes).argmax().item<std::int64_t>();
  r.majority_accuracy = (heldout_labels == commonest).to(torch::kDouble).mean().item<double>();
  r.final_train_loss = final_loss;
  r.preparation_seconds = preparation_seconds;
  r.training_seconds = training_seconds;

  pretraining::CheckpointDirectory out(s.output_directory);
  std::vector<std::pair<std::string, at::Tensor>> tensors(parameters.begin(), parameters.end());
  out.write_weights(tensors);
  out.write_text("config.json", family.config_json(s.num_classes, s.class_names).dump(2) + "\n");
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
  out.write_text("pretraining.json", report.dump(2) + "\n");
  out.commit();
  return r;
}

}  // namespace epalm::experiments
