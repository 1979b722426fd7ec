// Parity with the Python peers, both directions: files written by
// safetensors/transformers (tests/parity/make_safetensors_fixtures.py, a CTest
// fixture) load here to the same bytes, and files written here load in Python
// (tests/parity/check_written_safetensors.py) to the same values and bytes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/models/state_dict.h"
#include "process.h"

namespace epalm::safetensors {

namespace {

const std::string kFixtures = EPALM_SAFETENSORS_FIXTURES;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + path + " (run ctest, which generates it first)");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

std::string bytes_of(const at::Tensor& tensor) {
  auto cpu = tensor.to(at::kCPU).contiguous();
  return std::string(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes());
}

models::TensorShapes shapes_of(const nlohmann::json& object) {
  models::TensorShapes shapes;
  for (const auto& [name, shape] : object.items()) shapes[name] = shape.get<std::vector<std::int64_t>>();
  return shapes;
}

TEST(SafetensorsParity, EveryDtypeLoadsAsPythonWroteIt) {
  const auto manifest = read_json(kFixtures + "/dtypes.json");
  SafetensorsFile file(kFixtures + "/dtypes.safetensors");
  const auto metadata = manifest["metadata"].get<std::map<std::string, std::string>>();
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.names().size(), manifest["tensors"].size());
  for (const auto& [name, expected] : manifest["tensors"].items()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(file.info(name).shape, expected["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(bytes_of(file.load(name)), read_file(kFixtures + "/dtypes/" + name + ".raw"));
    const auto f32_path = kFixtures + "/dtypes/" + name + ".f32";
    if (std::ifstream(f32_path)) {
      EXPECT_EQ(bytes_of(file.load(name, at::kFloat)), read_file(f32_path));
    }
  }
}

TEST(SafetensorsParity, ShardedTransformersCheckpointLoadsTensorByTensor) {
  const auto manifest = read_json(kFixtures + "/opt.json");
  Checkpoint sharded(kFixtures + "/opt-sharded");
  Checkpoint single(kFixtures + "/opt-single");
  EXPECT_EQ(sharded.files().size(), manifest["shards"].get<std::size_t>());
  EXPECT_EQ(single.files().size(), 1u);
  ASSERT_EQ(sharded.names().size(), manifest["tensors"].size());
  EXPECT_EQ(sharded.names(), single.names());
  for (const auto& [name, expected] : manifest["tensors"].items()) {
    SCOPED_TRACE(name);
    const auto shard = expected["shard"].get<std::string>();
    const auto& path = sharded.file_of(name).path();
    EXPECT_EQ(path.substr(path.size() - shard.size()), shard);
    EXPECT_EQ(sharded.info(name).dtype, Dtype::kF16);
    const auto raw = read_file(kFixtures + "/opt/" + name + ".raw");
    EXPECT_EQ(bytes_of(sharded.load(name, at::kHalf)), raw);
    EXPECT_EQ(bytes_of(single.load(name, at::kHalf)), raw);
  }
  // fp16 -> fp32 is exact, so the float load is the stored values.
  const auto embed = sharded.load("model.decoder.embed_tokens.weight", at::kFloat);
  EXPECT_EQ(embed.scalar_type(), at::kFloat);
  EXPECT_TRUE(torch::equal(embed.to(at::kHalf), sharded.load("model.decoder.embed_tokens.weight")));
}

TEST(SafetensorsParity, PartialLoadsAreSlicesOfWhatPythonWrote) {
  const std::string name = "model.decoder.embed_tokens.weight";
  const auto raw = read_file(kFixtures + "/opt/" + name + ".raw");
  Checkpoint checkpoint(kFixtures + "/opt-sharded");
  const auto& info = checkpoint.info(name);
  const auto row_bytes = static_cast<std::size_t>(info.shape[1]) * 2;
  auto rows = checkpoint.load_rows(name, 10, 20, at::kHalf);
  EXPECT_EQ(rows.sizes(), (std::vector<std::int64_t>{10, info.shape[1]}));
  EXPECT_EQ(bytes_of(rows), raw.substr(10 * row_bytes, 10 * row_bytes));
  EXPECT_EQ(bytes_of(checkpoint.load_bytes(name, 3, 101)), raw.substr(3, 98));
}

TEST(SafetensorsParity, TransformersStateDictNamesResolveAgainstTheCheckpoint) {
  const auto manifest = read_json(kFixtures + "/opt.json");
  Checkpoint checkpoint(kFixtures + "/opt-sharded");
  // OPTModel's names ("decoder.*") in a checkpoint saved from OPTForCausalLM
  // ("model.decoder.*", lm_head dropped as tied).
  const auto base = models::match_state_dict(shapes_of(manifest["base_model"]), checkpoint.shapes(),
                                     {{"model."}, {{"decoder.embed_tokens.weight", "lm_head.weight"}}, {}});
  EXPECT_TRUE(base.complete()) << base.describe();
  EXPECT_TRUE(base.unexpected.empty()) << base.describe();
  // OPTForCausalLM's own names include the tied head, found under the embedding.
  const auto causal = models::match_state_dict(shapes_of(manifest["causal_lm"]), checkpoint.shapes(),
                                       {{}, {{"model.decoder.embed_tokens.weight", "lm_head.weight"}}, {}});
  EXPECT_TRUE(causal.complete()) << causal.describe();
  EXPECT_EQ(causal.source.at("lm_head.weight"), "model.decoder.embed_tokens.weight");
}

// The tensors check_written_safetensors.py rebuilds: arange(n) * 0.25 + 1 in
// float64, cast; plus a transposed view and negative integers.
std::vector<std::pair<std::string, at::Tensor>> written_tensors() {
  const std::vector<std::tuple<std::string, at::ScalarType, std::vector<std::int64_t>>> specs = {
      {"w.f32", at::kFloat, {3, 4}}, {"w.f16", at::kHalf, {5}},      {"w.bf16", at::kBFloat16, {2, 3}},
      {"w.f64", at::kDouble, {}},    {"w.i64", at::kLong, {4}},      {"w.i32", at::kInt, {2, 2}},
      {"w.i16", at::kShort, {3}},    {"w.i8", at::kChar, {3}},       {"w.u8", at::kByte, {7}},
      {"w.bool", at::kBool, {3}},    {"w.empty", at::kFloat, {0, 4}}};
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, dtype, shape] : specs) {
    const auto n = c10::multiply_integers(shape);
    tensors.emplace_back(name, torch::arange(n, at::kDouble).mul(0.25).add(1).reshape(shape).to(dtype));
  }
  tensors.emplace_back("w.transposed", torch::arange(12, at::kDouble).mul(0.25).add(1).reshape({3, 4}).t().to(at::kFloat));
  tensors.emplace_back("w.negative", torch::arange(6, at::kLong).sub(3));
  return tensors;
}

TEST(SafetensorsParity, FilesWeWriteLoadInPythonToTheSameValuesAndBytes) {
  testing::TempDir dir;
  const auto path = dir.path() + "/ours.safetensors";
  write_safetensors(path, written_tensors(), {{"format", "pt"}, {"epalm", "write_safetensors"}});
  const auto result = testing::run_process({EPALM_PYTHON, EPALM_CHECK_WRITTEN, path}, 120);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("check_written_safetensors: ok"), std::string::npos) << result.out << result.err;
}

}  // namespace

}  // namespace epalm::safetensors
