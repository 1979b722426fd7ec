// Pretraining the unimodal models eP-ALM starts from, each on its own
// modality only (the paper's premise): an OPT decoder on text lines alone,
// and ViT / TimeSformer / AST encoders on labelled media alone. Every weight
// trains, through the same model code that later loads them frozen
// (core/models: weights given as tensors that require gradient train), with
// AdamW and a warmup + cosine learning rate. The results are Hugging Face
// checkpoints (config.json + model.safetensors) that OptModel::from_pretrained /
// load_encoder and transformers load alike, plus pretraining.json (what was
// trained on, held-out perplexity or accuracy, timings).
//
// Deterministic: the same inputs and seed give the same checkpoint bytes on
// the same machine (initialisation and batch order come from the seed only;
// no dropout). A checkpoint is written into "<output>.partial" and renamed to
// <output> once complete, so an interrupted run leaves no checkpoint behind.
// The inputs are plain (lines, paths and labels): nothing here knows where
// they come from.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "epalm/core/models/ast.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"

namespace epalm::experiments {

// One report of a training run's progress (every `progress_every` steps and
// at the last step; also once per prepared media chunk with step 0).
struct PretrainingProgress {
  std::string model;   // "decoder", "vit", "timesformer", "ast"
  std::string phase;   // "preparing" (tokenizing, decoding media) or "training"
  std::int64_t step = 0, steps = 0;  // preparing: items done, items in all
  double loss = 0;                   // mean training loss since the previous report
  double rate = 0;                   // steps (preparing: items) per second so far
  double eta_seconds = 0;            // of this phase, at that rate
};
using PretrainingProgressCallback = std::function<void(const PretrainingProgress&)>;
// "pretraining vit: training 120/2500  loss 1.0449  24.0/s  ETA 99 s".
std::string progress_line(const PretrainingProgress& progress);

struct PretrainingSchedule {
  std::int64_t steps = 300;
  std::int64_t batch_size = 32;
  double learning_rate = 1e-3;  // peak, after a linear warmup, then cosine to 10 %
  double warmup_fraction = 0.05;
  double weight_decay = 0.01;  // AdamW, on matrices and embeddings only
  double grad_clip = 1.0;      // global gradient norm; 0: none
  std::uint64_t seed = 0;
  std::int64_t progress_every = 25;
  void validate(const std::string& where) const;  // throws UsageError
};

// ---- the decoder ----

struct DecoderPretraining {
  std::vector<std::string> train_lines, heldout_lines;  // one text each (caption, question, sentence)
  // A GPT-2 format byte-level BPE (vocab.json + merges.txt) with what
  // Tokenizer::from_directory reads beside it (tokenizer_config.json,
  // special_tokens_map.json: OPT's conventions, write_opt_tokenizer_config).
  // It must define BOS, EOS and padding tokens. Its files are copied beside
  // the checkpoint, so the checkpoint directory is the decoder's tokenizer too.
  std::string tokenizer_directory;
  // Special tokens added to the tokenizer for these lines, as eP-ALM adds its
  // answer token "</a>" (TextObjective): each takes the next id after the
  // vocabulary, a row of the embedding the decoder then learns.
  std::vector<std::string> added_special_tokens;
  // The training loss weighs every token after `answer_token` (when set: one
  // of the tokenizer's or of added_special_tokens) `answer_weight` times a
  // token before it: a line's answer is one token among a sentence's, and
  // reading it from what came before is what the lines are there to teach.
  // The held-out perplexity stays unweighted.
  std::string answer_token;
  double answer_weight = 1;
  // The architecture. vocab_size 0: the vocabulary's size plus one spare row
  // (eP-ALM's added "</a>" takes the next free id), rounded up to a multiple
  // of 8 as OPT's; pad/bos/eos ids are taken from the tokenizer.
  models::OptConfig config;
  PretrainingSchedule schedule;
  std::string output_directory;
  PretrainingProgressCallback progress;
};

struct DecoderPretrainingReport {
  std::string output_directory;
  std::int64_t parameters = 0;
  std::int64_t train_lines = 0, train_tokens = 0;  // tokens predicted per epoch
  std::int64_t heldout_lines = 0, heldout_tokens = 0;
  // exp(mean negative log-likelihood) of every held-out token after the
  // first (BOS), the EOS closing each line included.
  double heldout_perplexity = 0;
  // The same tokens under the training tokens' unigram frequencies (add-one
  // smoothed over the tokenizer's vocabulary): the baseline context beats.
  double unigram_perplexity = 0;
  double final_train_loss = 0;  // mean over the last progress interval
  double seconds = 0;
};

// Trains a decoder from random weights on `train_lines` and writes its
// checkpoint. Throws UsageError for bad settings, Error for bad inputs.
DecoderPretrainingReport pretrain_decoder(const DecoderPretraining& settings);

// Writes tokenizer_config.json and special_tokens_map.json into a directory
// holding vocab.json + merges.txt: OPT's conventions (GPT2Tokenizer; "</s>" as
// BOS, EOS and unknown, "<pad>" padding, BOS prepended, no prefix space).
// Throws Error naming vocab.json when it lacks "</s>" or "<pad>".
void write_opt_tokenizer_config(const std::string& directory);

// ---- the encoders ----

struct LabelledMedia {
  std::string path;  // an image, video or audio file (core media.h decodes it)
  std::int64_t label = 0;  // in [0, num_classes)
  std::vector<std::int64_t> labels;  // with several tasks: one per task, in [0, its classes)
};

// One of several classification tasks an encoder learns at once (what is in
// each quadrant, how many shapes, ...): a [CLS] token that serves them all
// describes the whole scene, as the questions about it need.
struct LabelTask {
  std::string name;
  std::int64_t classes = 0;
  std::vector<std::string> class_names;  // empty, or `classes` names
};

// The architecture picks the family: ViT (images), TimeSformer (videos), AST (audio).
using EncoderConfig = std::variant<models::VitConfig, models::TimesformerConfig, models::AstConfig>;
std::string encoder_family_name(const EncoderConfig& config);  // "vit", "timesformer", "ast"

struct EncoderPretraining {
  EncoderConfig config;
  std::vector<LabelledMedia> train, heldout;
  std::int64_t num_classes = 0;
  std::vector<std::string> class_names;  // empty, or num_classes names (config.json's id2label)
  // Several tasks instead of one (num_classes and class_names then unused):
  // the head's outputs are their classes side by side (config.json's
  // id2label "task: class"), the loss the mean of their cross-entropies, the
  // media's `labels` one class per task.
  std::vector<LabelTask> tasks;
  // Random horizontal flips of training images (ViT only; never for videos,
  // whose labels may be directions of motion).
  bool horizontal_flip = false;
  PretrainingSchedule schedule;
  std::string output_directory;
  PretrainingProgressCallback progress;
};

struct EncoderPretrainingReport {
  std::string output_directory;
  std::string family;
  std::int64_t parameters = 0;  // the encoder's, without the head
  std::int64_t train_samples = 0, heldout_samples = 0, num_classes = 0;
  // Argmax of the classifier on the held-out media (with several tasks: the
  // mean over tasks of each task's argmax over its classes).
  double heldout_accuracy = 0;
  double train_accuracy = 0;
  double majority_accuracy = 0;  // held-out accuracy of always answering the commonest training label
  // With several tasks, per task: {name, held-out accuracy, majority accuracy}.
  struct TaskAccuracy {
    std::string task;
    double heldout = 0, majority = 0;
  };
  std::vector<TaskAccuracy> by_task;
  double final_train_loss = 0;
  double preparation_seconds = 0, training_seconds = 0;
};

// Trains an encoder and the classification head transformers puts on it
// (ViT/TimeSformer: a linear layer on the normed [CLS] token; AST: LayerNorm +
// linear on the mean of the normed [CLS] and distillation tokens) from random
// weights, on the media decoded and preprocessed as evaluation does
// (media_inputs.h without training augmentation, at the config's image size,
// frame count, mel bins and length). The checkpoint is transformers'
// *ForImageClassification / *ForVideoClassification / *ForAudioClassification
// (prefixed encoder names + classifier.*); our loaders ignore the head.
EncoderPretrainingReport pretrain_encoder(const EncoderPretraining& settings);

}  // namespace epalm::experiments
