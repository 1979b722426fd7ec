// `epalm bench metrics` as users run it, small: our CIDEr-D, VQA accuracy and
// PTB tokenization against pycocoevalcap (Java) and vqaEval.py in one run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "process.h"

namespace epalm {

namespace {

testing::ProcessResult epalm(std::vector<std::string> args, int timeout = 300) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return testing::run_process(args, timeout);
}

TEST(BenchSmoke, MetricsAgreeWithPycocoevalcapAndVqaEval) {
  testing::TempDir dir;
  const auto record = dir.path() + "/record.json";
  const auto r = epalm({"bench", "metrics", "--batch", "300", "--warmup", "0", "--repetitions", "2", "--output", record});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("scores agree"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 tokenized captions differ"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pycocoevalcap + vqaEval"), std::string::npos) << r.out;
  std::ifstream in(record);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["name"], "metrics");
  EXPECT_EQ(j["predictions_per_run"], 600);
  EXPECT_EQ(j["ours"]["times_s"].size(), 2u);
  EXPECT_EQ(j["peer"]["times_s"].size(), 2u);
  EXPECT_EQ(j["ours"]["digest"]["cider_d"], j["peer"]["digest"]["cider_d"]);
  EXPECT_EQ(j["ours"]["digest"]["vqa_overall"], j["peer"]["digest"]["vqa_overall"]);
  EXPECT_GT(j["peer"]["parts_median_s"]["tokenize"].get<double>(), 0);
  EXPECT_TRUE(j["outputs_agree"].get<bool>());
}

TEST(BenchSmoke, MetricsRejectsModelOptions) {
  const auto r = epalm({"bench", "metrics", "--tokens", "8", "--peer", "off"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--tokens"), std::string::npos) << r.err;
}

}  // namespace

}  // namespace epalm
