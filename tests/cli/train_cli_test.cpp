// `epalm train`, `generate` and `eval` as users run them: tiny frozen models
// with their own tokenizer (tests/cli/make_train_fixtures.py), the VQA and COCO fixtures in their real
// formats (tests/parity/make_data_fixtures.py), the real binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "epalm/build_config.h"
#include "process.h"
#include "train_cli_fixtures.h"

namespace epalm {

namespace {

namespace fs = std::filesystem;
using testing::config;
using testing::data_root;
using testing::epalm;
using testing::models;
using testing::mpirun_prefix;

double last_loss(const std::string& out) {
  std::smatch m;
  static const std::regex pattern("last loss ([0-9.eE+-]+)");
  return std::regex_search(out, m, pattern) ? std::stod(m[1]) : -1;
}

// The tensors (trainables and optimizer state) that differ between the
// checkpoints in two output folders, bit for bit (tests/cli/compare_checkpoints.py).
std::string differing_tensors(const std::string& a, const std::string& b) {
  const auto compared = testing::run_process(
      {EPALM_PYTHON, COMPARE_CHECKPOINTS, a + "/checkpoint.safetensors", b + "/checkpoint.safetensors"}, 120);
  if (compared.exit_code != 0) return compared.out + compared.err;
  return "";
}

// One process and two ranks computing the same thing bit for bit: each side
// runs its micro-batches of one sample with one compute thread (the GEMM
// kernels' results depend on how many threads split them), and the two
// per-sample gradients meet in one addition either way: the one process's
// second micro-batch added to the first's gradient, or a 2-rank all-reduce
// (fl(a + b) = fl(b + a)). A batch of two in one process would run other
// kernels and sum in another order; tests/mpi/sharded_epalm_mpi_test.cpp
// compares that within the bound its arithmetic derives.
std::map<std::string, std::string> one_thread(const std::string& log_level = "warn") {
  return {{"EPALM_LOG_LEVEL", log_level}, {"OMP_NUM_THREADS", "1"}};
}

testing::ProcessResult one_process_of_two_micro_batches(const std::vector<std::string>& args) {
  std::vector<std::string> argv{EPALM_EXECUTABLE};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* arg : {"--batch-size", "1", "--accumulation", "2"}) argv.push_back(arg);
  return testing::run_process(argv, 300, one_thread());
}

testing::ProcessResult two_ranks_of_one_sample(const std::vector<std::string>& args,
                                               const std::string& log_level = "warn") {
  std::vector<std::string> argv{EPALM_EXECUTABLE};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* arg : {"--batch-size", "1"}) argv.push_back(arg);
  argv = mpirun_prefix(argv);
  // Open MPI passes the launcher's environment to ranks on this host; -x says so explicitly.
  argv.insert(argv.begin() + 1, {"-x", "OMP_NUM_THREADS"});
  return testing::run_process(argv, 300, one_thread(log_level));
}

}  // namespace

TEST(TrainCli, TrainsResumesAndAnswers) {
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  auto r = epalm({"train", "--config", cfg, "--max-steps", "3", "--feature-cache", "off"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained 3 steps"), std::string::npos) << r.out;
  // The share is of every parameter: trainables, frozen decoder and encoder.
  std::smatch counts;
  ASSERT_TRUE(std::regex_search(r.out, counts, std::regex("trainable parameters: ([0-9]+) \\(([0-9.]+)% of all "
                                                          "([0-9]+): frozen decoder ([0-9]+), frozen encoder ([0-9]+)\\)")))
      << r.out;
  const auto trainable = std::stoll(counts[1]), all = std::stoll(counts[3]);
  EXPECT_EQ(all, trainable + std::stoll(counts[4]) + std::stoll(counts[5]));
  EXPECT_GT(std::stoll(counts[5]), 0);
  // Printed to 6 significant digits: within half a unit of the 6th, at most 5e-6 of the value.
  const double share = 100.0 * static_cast<double>(trainable) / static_cast<double>(all);
  EXPECT_NEAR(std::stod(counts[2]), share, 5e-6 * share);
  const auto checkpoint = dir.path() + "/run/checkpoint.safetensors";
  ASSERT_TRUE(fs::exists(checkpoint));
  EXPECT_GT(last_loss(r.out), 0);

  // The run is in the results store: its loss history and its checkpoint.
  std::smatch id;
  ASSERT_TRUE(std::regex_search(r.out, id, std::regex("run ([0-9a-f-]+): trained"))) << r.out;
  auto shown = epalm({"runs", "show", id[1], "--results", dir.path() + "/results.sqlite"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("finished"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("loss"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("checkpoint.safetensors"), std::string::npos) << shown.out;

  // The same directory again: the run is complete, nothing more to train.
  r = epalm({"train", "--config", cfg, "--max-steps", "3", "--feature-cache", "off"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(resumed)"), std::string::npos) << r.out;

  const auto image = data_root() + "/COCO/images/val2014";
  std::string first_image;
  for (const auto& entry : fs::directory_iterator(image)) first_image = entry.path().string();
  ASSERT_FALSE(first_image.empty());
  r = epalm({"generate", "--checkpoint", checkpoint, "--media", first_image, "--question", "What is it?",
             "--num-beams", "2", "--max-new-tokens", "4", "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;

  // Evaluation on the fixture's test split: official-format predictions and
  // the VQA accuracy, recorded in the store.
  r = epalm({"eval", checkpoint, "--split", "karpathy_test", "--num-beams", "1", "--max-new-tokens", "3", "--device",
             "cpu", "--results", dir.path() + "/results.sqlite"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("accuracy "), std::string::npos) << r.out;
  const auto predictions = dir.path() + "/run/predictions-karpathy_test.json";
  ASSERT_TRUE(fs::exists(predictions));
  std::ifstream in(predictions);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"question_id\""), std::string::npos) << text;

  // Two ranks each answer their shard; rank 0 gathers and scores the same split.
  auto two = testing::run_process(
      mpirun_prefix({EPALM_EXECUTABLE, "eval", checkpoint, "--split", "karpathy_test", "--num-beams", "1",
                     "--max-new-tokens", "3", "--device", "cpu", "--results", dir.path() + "/results.sqlite",
                     "--predictions", dir.path() + "/two.json"}),
      300, {{"EPALM_LOG_LEVEL", "warn"}});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  std::ifstream in_two(dir.path() + "/two.json");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in_two)), std::istreambuf_iterator<char>()), text);
  EXPECT_EQ(r.out.substr(r.out.find('\n')), two.out.substr(two.out.find('\n'))) << r.out << two.out;

  // A question-answering checkpoint needs a question; a missing file is named.
  r = epalm({"generate", "--checkpoint", checkpoint, "--media", first_image, "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = epalm({"generate", "--checkpoint", checkpoint, "--media", dir.path() + "/none.jpg", "--question", "Q?",
             "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("none.jpg"), std::string::npos) << r.err;
}

TEST(TrainCli, TheFeatureCacheServesLaterEpochsWithTheSameLosses) {
  testing::TempDir dir;
  const auto cfg = config(dir, "coco-caption", "train", "augment = false\nepochs = 2\n");
  auto cached = epalm({"train", "--config", cfg, "--feature-cache", dir.path() + "/cache"});
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  EXPECT_NE(cached.out.find("frozen-feature cache: "), std::string::npos) << cached.out;
  EXPECT_EQ(cached.out.find(" 0 hits"), std::string::npos) << cached.out;
  auto plain = epalm({"train", "--config", cfg, "--feature-cache", "off", "--output-dir", dir.path() + "/plain"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_DOUBLE_EQ(last_loss(cached.out), last_loss(plain.out)) << cached.out << plain.out;

  // A caption checkpoint is scored with the captioning metrics.
  const auto eval = epalm({"eval", dir.path() + "/run/checkpoint.safetensors", "--split", "test", "--num-beams", "1",
                           "--max-new-tokens", "4", "--device", "cpu", "--results", dir.path() + "/results.sqlite"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  for (const char* metric : {"BLEU-4 ", "ROUGE_L ", "CIDEr ", "SPICE skipped"}) {
    EXPECT_NE(eval.out.find(metric), std::string::npos) << metric << eval.out;
  }
}

TEST(TrainCli, TwoRanksEqualOneAtTheSameGlobalBatch) {
  testing::TempDir dir;
  const auto cfg = config(dir, "gqa", "train", "epochs = 3\naugment = false\nfeature-cache = off\n");
  const auto one = one_process_of_two_micro_batches({"train", "--config", cfg, "--output-dir", dir.path() + "/one"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const auto two = two_ranks_of_one_sample({"train", "--config", cfg, "--output-dir", dir.path() + "/two"});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.out.find("trained 3 steps"), std::string::npos) << two.out;
  ASSERT_GT(last_loss(one.out), 0);
  EXPECT_EQ(last_loss(two.out), last_loss(one.out)) << one.out << two.out;
  EXPECT_EQ(differing_tensors(dir.path() + "/two", dir.path() + "/one"), "");
}

// --plan shard under mpirun: every decoder layer and ViT block held 1/N per
// rank (the fixtures' matrices are tiny, hence --shard-threshold 1), adapters
// inside the sharded layers; the same losses, trainables and optimizer state
// as one process with the whole models, bit for bit (gathering a weight
// copies it exactly), and its checkpoint answers with the whole models.
TEST(TrainCli, ShardedRanksEqualOneAtTheSameGlobalBatch) {
  testing::TempDir dir;
  const auto cfg = config(dir, "gqa", "train", "epochs = 3\naugment = false\nfeature-cache = off\nadapters = both\n");
  const auto one = one_process_of_two_micro_batches(
      {"train", "--config", cfg, "--plan", "replicate", "--output-dir", dir.path() + "/one"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto two = two_ranks_of_one_sample({"train", "--config", cfg, "--plan", "shard", "--shard-threshold", "1",
                                      "--output-dir", dir.path() + "/two"},
                                      "info");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.out.find("trained 3 steps"), std::string::npos) << two.out;
  EXPECT_NE(two.err.find("frozen weights on 2 rank(s): decoder layers sharded 0-3, encoder blocks sharded 0-2"),
            std::string::npos)
      << two.err;
  ASSERT_GT(last_loss(one.out), 0);
  EXPECT_EQ(last_loss(two.out), last_loss(one.out)) << one.out << two.out;
  EXPECT_EQ(differing_tensors(dir.path() + "/two", dir.path() + "/one"), "");

  // The sharded run's checkpoint names the whole models' fingerprint: generate
  // takes it with the whole models, and --plan shard on one rank answers alike.
  std::string image;
  for (const auto& entry : fs::directory_iterator(data_root() + "/COCO/images/val2014")) image = entry.path().string();
  const std::vector<std::string> ask{"generate", "--checkpoint", dir.path() + "/two/checkpoint.safetensors", "--media",
                                     image, "--question", "What is it?", "--num-beams", "2", "--max-new-tokens", "4",
                                     "--device", "cpu"};
  const auto whole = epalm(ask);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  auto sharded_args = ask;
  for (const char* arg : {"--plan", "shard", "--shard-threshold", "1"}) sharded_args.push_back(arg);
  const auto sharded = epalm(sharded_args);
  ASSERT_EQ(sharded.exit_code, 0) << sharded.err;
  EXPECT_EQ(sharded.out, whole.out);

  // eval likewise: the same predictions with the layers sharded on one rank.
  std::vector<std::string> predictions;
  for (const char* plan : {"replicate", "shard"}) {
    const auto file = dir.path() + "/predictions-" + plan + ".json";
    const auto r = epalm({"eval", dir.path() + "/two/checkpoint.safetensors", "--split", "testdev", "--num-beams", "1",
                          "--max-new-tokens", "3", "--device", "cpu", "--plan", plan, "--shard-threshold", "1",
                          "--predictions", file, "--results", dir.path() + "/results.sqlite"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(file);
    predictions.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  EXPECT_FALSE(predictions[0].empty());
  EXPECT_EQ(predictions[1], predictions[0]);
}

TEST(TrainCli, BadPlansAreNamed) {
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  auto r = epalm({"train", "--config", cfg, "--plan", "halves", "--max-steps", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--plan"), std::string::npos) << r.err;
  r = epalm({"train", "--config", cfg, "--memory-budget", "-1", "--max-steps", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--memory-budget"), std::string::npos) << r.err;
  // A budget below what the run needs even fully sharded (it shards only layers).
  r = epalm({"train", "--config", cfg, "--memory-budget", "0.00001", "--max-steps", "1", "--feature-cache", "off"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--memory-budget"), std::string::npos) << r.err;
}

// The reference's dropout inside sharded layers: backward recomputes each
// layer with the generators as forward left them, so the masks, losses and
// trainables are those of the whole models.
TEST(TrainCli, ShardedLayersDrawTheSameDropoutMasks) {
  testing::TempDir dir;
  const auto cfg = config(dir, "gqa", "train",
                          "max-steps = 3\naugment = false\nfeature-cache = off\nadapters = both\nreference-dropout = 0.1\n");
  std::map<std::string, double> loss;
  for (const char* plan : {"replicate", "shard"}) {
    const auto r = epalm({"train", "--config", cfg, "--plan", plan, "--shard-threshold", "1", "--output-dir",
                          dir.path() + "/" + plan});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    loss[plan] = last_loss(r.out);
  }
  const auto plain = epalm({"train", "--config", cfg, "--reference-dropout", "0", "--output-dir", dir.path() + "/plain"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_GT(loss["replicate"], 0);
  EXPECT_NE(last_loss(plain.out), loss["replicate"]) << "dropout changes the losses";
  // One process: the sharded layers gather the same bytes and run the same
  // operations, so the runs agree bit for bit.
  EXPECT_EQ(loss["shard"], loss["replicate"]);
  EXPECT_EQ(differing_tensors(dir.path() + "/shard", dir.path() + "/replicate"), "");
}

TEST(TrainCli, EveryRegisteredExperimentIsATrainingConfiguration) {
  const auto list = epalm({"experiments", "list", "--format", "csv"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::istringstream lines(list.out);
  std::string line;
  std::getline(lines, line);  // header
  int checked = 0;
  while (std::getline(lines, line)) {
    const auto name = line.substr(0, line.find(','));
    if (name.empty()) continue;
    const auto r = epalm({"train", "--experiment", name, "--print-config"});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("experiment = " + name), std::string::npos) << r.out;
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(TrainCli, BadInputIsNamed) {
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train");
  auto r = epalm({"train", "--config", cfg, "--data-root", dir.path() + "/nowhere", "--max-steps", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
  r = epalm({"train", "--config", cfg, "--adapters", "sideways"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--adapters"), std::string::npos) << r.err;
  r = epalm({"train", "--config", cfg, "--levels", "9", "--max-steps", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("levels"), std::string::npos) << r.err;
  ASSERT_EQ(epalm({"train", "--config", cfg, "--max-steps", "1", "--feature-cache", "off"}).exit_code, 0);
  r = epalm({"eval", dir.path() + "/run/checkpoint.safetensors", "--frame-sampling", "sideways", "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sideways"), std::string::npos) << r.err;
}

}  // namespace epalm
