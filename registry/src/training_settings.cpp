// Every setting of an eP-ALM run, defined once (see training_settings.h).
#include "epalm/registry/training_settings.h"

#include <limits>
#include <set>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/registry/config.h"
#include "epalm/registry/results_store.h"
#include "epalm/registry/setting_checks.h"

namespace epalm::registry {

namespace {

const std::vector<std::string> kTasks = {"vqa",           "gqa",           "coco-caption", "msrvtt-qa",
                                         "msvd-qa",       "msrvtt-caption", "msvd-caption", "audiocaps"};

}  // namespace

void add_plan_settings(po::options_description& settings) {
  po::options_description plan("Frozen weights across ranks");
  plan.add_options()  //
      ("plan", po::value<std::string>()->default_value("auto")->notifier(one_of("plan", {"auto", "shard", "replicate"})),
       "auto (shard the largest decoder/ViT layers only as far as --memory-budget needs; no budget: none), "
       "shard (every shardable layer) or replicate")  //
      ("memory-budget", po::value<double>()->default_value(0.0)->notifier(at_least<double>("memory-budget", 0.0)),
       "GiB per rank for frozen weights, gather buffers, trainables and activations (0: no limit)")  //
      ("shard-threshold", po::value<std::int64_t>()->default_value(100000)->notifier(at_least<std::int64_t>("shard-threshold", 1)),
       "2-D tensors with fewer elements stay whole on every rank (norms and biases always do)");
  settings.add(plan);
}

void add_collective_settings(po::options_description& settings) {
  settings.add_options()  //
      ("collective-timeout",
       po::value<double>()->default_value(600.0)->notifier(
           within<double>("collective-timeout", 0.001, 1e9, "must be > 0 seconds")),
       "seconds a collective may take across ranks before the job is aborted with a message naming it "
       "(a stuck or dead rank)");
}

void add_training_settings(po::options_description& settings) {
  po::options_description data("Data");
  data.add_options()                                                                                           //
      ("task", po::value<std::string>()->default_value("vqa")->notifier(one_of("task", kTasks)),
       "vqa, gqa, coco-caption, msrvtt-qa, msvd-qa, msrvtt-caption, msvd-caption or audiocaps")  //
      ("data-root", po::value<std::string>()->default_value("data"), "the datasets' root directory")            //
      ("train-split", po::value<std::string>()->default_value("karpathy_train"), "the training split")       //
      ("val-split", po::value<std::string>()->default_value("karpathy_val"), "the validation split")          //
      ("test-split", po::value<std::string>()->default_value("karpathy_test"), "the test split")              //
      ("data-fraction", po::value<double>()->default_value(1.0)->notifier(within<double>("data-fraction", 1e-12, 1.0, "must be in (0, 1]")), "the part of the training split used, (0, 1]")  //
      ("skip-missing-media", po::value<bool>()->default_value(false), "drop samples whose media file is missing")  //
      ("augment", po::value<bool>()->default_value(true),
       "the reference's training augmentations; false lets the frozen-feature cache serve every epoch")  //
      ("rand-augment", po::value<bool>()->default_value(true),
       "with --augment: ALBEF's RandomAugment on images, torchvision's RandAugment on video, as the reference")  //
      ("feature-cache", po::value<std::string>()->default_value(""),
       "directory of the frozen-feature cache (default: $EPALM_HOME/features); 'off' disables it")  //
      ("loader-threads", po::value<int>()->default_value(4)->notifier(at_least<int>("loader-threads", 1)), "media decoding threads");
  po::options_description model("Model");
  model.add_options()                                                                                               //
      ("decoder", po::value<std::string>()->default_value("opt-2.7b"), "OPT checkpoint directory (or a name under --model-dir)")  //
      ("encoder", po::value<std::string>()->default_value("vit-base-patch16-224"),
       "ViT / TimeSformer / AST checkpoint directory (or a name under --model-dir)")                                  //
      ("tokenizer", po::value<std::string>()->default_value(""), "tokenizer directory (default: the decoder's)")  //
      ("model-dir", po::value<std::string>()->default_value("models"), "where model names are looked up")         //
      ("precision", po::value<std::string>()->default_value("auto")->notifier(one_of("precision", {"auto", "fp32", "bf16", "fp16", "float32", "bfloat16", "float16"})),
       "frozen weights' dtype: auto (bf16 on GPU, fp32 on CPU), fp32, bf16, fp16; trainables are fp32")        //
      ("device", po::value<std::string>()->default_value("auto"), "cpu, cuda, cuda:N or auto")                   //
      ("perception", po::value<bool>()->default_value(true),
       "false: the no-perception baseline (no connector, no injected token; the soft prompt and adapters only)")  //
      ("levels", po::value<int>()->default_value(6)->notifier(at_least<int>("levels", 1)), "encoder blocks whose [CLS] token is injected (the last N)")  //
      ("shared-connector", po::value<bool>()->default_value(false), "one linear for every level")                //
      ("start-layer", po::value<int>()->default_value(19)->notifier(at_least<int>("start-layer", 0)), "first decoder layer receiving tokens")                //
      ("end-layer", po::value<int>()->default_value(31)->notifier(at_least<int>("end-layer", 0)), "decoder layers before this one receive tokens")        //
      ("text-step", po::value<int>()->default_value(1)->notifier(at_least<int>("text-step", 1)), "inject only into layers with index % step == 0")        //
      ("prompt-length", po::value<int>()->default_value(10)->notifier(at_least<int>("prompt-length", 0)), "soft prompt tokens (0: none)")                     //
      ("prompt-mlp", po::value<bool>()->default_value(true), "reparameterise the prompt with an MLP")           //
      ("adapters", po::value<std::string>()->default_value("none")->notifier(one_of("adapters", {"none", "ffn", "attention", "both"})), "none, ffn, attention or both")             //
      ("adapter-reduction", po::value<int>()->default_value(4)->notifier(at_least<int>("adapter-reduction", 1)), "adapter bottleneck = hidden / reduction")       //
      ("reference-noncausal-token", po::value<bool>()->default_value(false),
       "the reference's perceptual token that attends to every token (docs/epalm.md, Decisions)")  //
      ("reference-dropout", po::value<double>()->default_value(0.0)->notifier(fraction_below_one("reference-dropout")),
       "the frozen OPT's train-mode dropout the reference trains with (its value: 0.1; 0: none)");
  po::options_description objective("Objective and optimization");
  objective.add_options()                                                                                      //
      ("answer-only-loss", po::value<bool>()->default_value(false), "loss on the answer tokens only")          //
      ("reference-question-mark", po::value<bool>()->default_value(false),
       "append '?' to questions that already end with one, as the reference does")                            //
      ("task-prompt", po::value<std::string>()->default_value(""), "captioning: text before the caption")      //
      ("lr", po::value<double>()->default_value(2e-5)->notifier(at_least<double>("lr", 0.0)), "connector (and adapter) learning rate")                //
      ("prompt-lr", po::value<double>()->default_value(1e-5)->notifier(at_least<double>("prompt-lr", 0.0)), "soft prompt learning rate")                     //
      ("weight-decay", po::value<double>()->default_value(0.02)->notifier(at_least<double>("weight-decay", 0.0)), "AdamW weight decay")                          //
      ("warmup-steps", po::value<std::int64_t>()->default_value(400)->notifier(at_least<std::int64_t>("warmup-steps", 0)), "linear warmup, optimizer steps")       //
      ("warmup-lr", po::value<double>()->default_value(1e-5)->notifier(at_least<double>("warmup-lr", 0.0)), "learning rate at step 0")                       //
      ("min-lr", po::value<double>()->default_value(1e-6)->notifier(at_least<double>("min-lr", 0.0)), "cosine floor")                                     //
      ("reference-fixed-prompt-lr", po::value<bool>()->default_value(false),
       "keep the prompt's learning rate fixed, as the reference's scheduler does")                            //
      ("epochs", po::value<std::int64_t>()->default_value(8)->notifier(at_least<std::int64_t>("epochs", 0)), "passes over the training split")                //
      ("max-steps", po::value<std::int64_t>()->default_value(0)->notifier(at_least<std::int64_t>("max-steps", 0)), "stop after this many optimizer steps (0: epochs decide)")  //
      ("batch-size", po::value<std::int64_t>()->default_value(8)->notifier(at_least<std::int64_t>("batch-size", 1)), "samples per micro-batch and rank")         //
      ("accumulation", po::value<int>()->default_value(1)->notifier(at_least<int>("accumulation", 1)), "micro-batches per optimizer step")                //
      ("clip-norm", po::value<double>()->default_value(0.0)->notifier(at_least<double>("clip-norm", 0.0)), "gradient clipping norm (0: none)")              //
      ("loss", po::value<std::string>()->default_value("reference")->notifier(one_of("loss", {"reference", "token-mean"})),
       "reference (per-sample token sum, batch mean) or token-mean")                                           //
      ("loss-weight", po::value<double>()->default_value(0.1)->notifier(within<double>("loss-weight", std::numeric_limits<double>::min(), std::numeric_limits<double>::max(), "must be > 0")), "loss multiplier (the reference's 0.1)")       //
      ("seed", po::value<std::uint64_t>()->default_value(0), "trainables' initialisation, data order, answers");
  po::options_description output("Output and evaluation");
  output.add_options()                                                                                   //
      ("results", po::value<std::string>()->default_value(registry::default_results_path()),
       "the SQLite results database runs are recorded in (EPALM_RESULTS; EPALM_SPOOL records into a spool file)")  //
      ("output-dir", po::value<std::string>()->default_value("runs/epalm"), "checkpoint and outputs")   //
      ("checkpoint-every", po::value<std::int64_t>()->default_value(0)->notifier(at_least<std::int64_t>("checkpoint-every", 0)), "optimizer steps (0: at the end)")  //
      ("resume", po::value<bool>()->default_value(true), "continue from the output directory's checkpoint")  //
      ("resume-with-changes", po::value<bool>()->default_value(false),
       "resume even where settings that shape the run differ from the checkpoint's (the changes are recorded)")  //
      ("ranks", po::value<int>()->default_value(0),
       "the number of ranks this run must be started with (0: any); as a sweep axis it fills the launcher's "
       "{ranks}, e.g. mpirun -np {ranks}")  //
      ("validate-every", po::value<std::string>()->default_value("never"),
       "generate for --val-split and score it with the task's metric: never, epoch, or every N optimizer steps "
       "(and after the last); the best checkpoint is kept as <output-dir>/best.safetensors")  //
      ("select-by", po::value<std::string>()->default_value(""),
       "the validation score that picks the best checkpoint (default: vqa_accuracy, accuracy or CIDEr)")  //
      ("test-at-end", po::value<bool>()->default_value(false),
       "evaluate the best checkpoint (the last without validation) on --test-split when training ends")  //
      ("num-beams", po::value<int>()->default_value(3)->notifier(at_least<int>("num-beams", 1)), "beam search width at generation (1: greedy)")     //
      ("max-new-tokens", po::value<int>()->default_value(30)->notifier(at_least<int>("max-new-tokens", 1)), "generated tokens at most");
  settings.add(data).add(model).add(objective).add(output);
  add_plan_settings(settings);
  add_collective_settings(settings);
}

namespace {

// The description, built once: every check parses against the same one.
const po::options_description& training_settings_description() {
  static po::options_description settings;
  static const bool built = (add_training_settings(settings), true);
  (void)built;
  return settings;
}

}  // namespace

const std::vector<std::string>& training_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& option : training_settings_description().options()) k.push_back(option->long_name());
    return k;
  }();
  return keys;
}

std::string training_setting_problem(const std::string& key, const std::string& value) {
  const auto& settings = training_settings_description();
  if (settings.find_nothrow(key, false) == nullptr) return "is no training setting";
  std::istringstream in(key + " = " + value + "\n");
  try {
    po::variables_map vm;
    po::store(po::parse_config_file(in, settings), vm);
    po::notify(vm);  // the ranges and choices
  } catch (const po::error& e) {
    return po_error_message(e);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

const std::set<std::string>& fusable_keys() {
  static const std::set<std::string> keys = {
      // what trains
      "perception", "levels", "shared-connector", "start-layer", "end-layer", "text-step", "prompt-length",
      "prompt-mlp", "adapters", "adapter-reduction", "reference-noncausal-token", "reference-dropout",
      // how it trains
      "lr", "prompt-lr", "weight-decay", "warmup-steps", "warmup-lr", "min-lr", "reference-fixed-prompt-lr",
      "clip-norm", "loss", "loss-weight",
      // where it writes and how it is validated
      "output-dir", "checkpoint-every", "validate-every", "select-by", "test-at-end", "num-beams", "max-new-tokens",
      "experiment"};
  return keys;
}

std::string fusion_conflict(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b) {
  std::set<std::string> keys;
  for (const auto& [key, value] : a) keys.insert(key);
  for (const auto& [key, value] : b) keys.insert(key);
  for (const auto& key : keys) {
    if (fusable_keys().count(key) != 0) continue;
    const auto in_a = a.find(key), in_b = b.find(key);
    const auto value_a = in_a == a.end() ? std::string("(unset)") : in_a->second;
    const auto value_b = in_b == b.end() ? std::string("(unset)") : in_b->second;
    if (value_a != value_b) {
      return "setting '" + key + "' differs (" + value_a + " vs " + value_b +
             "): fused variants share the data stream and the frozen models";
    }
  }
  return "";
}

}  // namespace epalm::registry
