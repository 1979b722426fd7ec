// Reading (whole, partial, converted, unaligned), writing (layout, atomicity)
// and sharded checkpoints (routing and every inconsistency between index and
// shards), on files made in a temporary directory.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "process.h"

namespace epalm::safetensors {

namespace {

namespace fs = std::filesystem;

// The raw bytes of a tensor, for exact comparisons (NaN-safe, any dtype).
std::string bytes_of(const at::Tensor& tensor) {
  auto cpu = tensor.to(at::kCPU).contiguous();
  return std::string(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Expects `call` to throw epalm::Error at `where` whose reason contains `reason`.
template <typename F>
void expect_error(F call, const std::string& where, const std::string& reason) {
  try {
    call();
    ADD_FAILURE() << "no error; expected " << where << ": ..." << reason;
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), where);
    EXPECT_NE(e.reason().find(reason), std::string::npos) << "reason: " << e.reason();
  }
}

std::vector<std::pair<std::string, at::Tensor>> every_dtype() {
  torch::manual_seed(0);
  auto randn = [](at::IntArrayRef shape) { return torch::randn(shape) * 10; };
  return {
      {"f32", randn({3, 4})},
      {"f16", randn({5}).to(at::kHalf)},
      {"bf16", randn({2, 3}).to(at::kBFloat16)},
      {"f64", randn({2}).to(at::kDouble)},
      {"i64", torch::tensor({std::int64_t{1} << 62, std::int64_t{-5}, std::int64_t{0}})},
      {"i32", torch::randint(-1000, 1000, {4}, at::kInt)},
      {"i16", torch::randint(-1000, 1000, {3}, at::kShort)},
      {"i8", torch::randint(-100, 100, {3}, at::kChar)},
      {"u8", torch::randint(0, 255, {5}, at::kByte)},
      {"u16", torch::randint(0, 60000, {3}, at::kInt).to(at::kUInt16)},
      {"u32", torch::randint(0, 1 << 30, {3}, at::kLong).to(at::kUInt32)},
      {"u64", torch::randint(0, 1 << 30, {3}, at::kLong).to(at::kUInt64)},
      {"bool", torch::tensor({true, false, true})},
      {"e4m3", randn({4}).to(at::kFloat8_e4m3fn)},
      {"e5m2", randn({4}).to(at::kFloat8_e5m2)},
      {"e4m3fnuz", randn({4}).to(at::kFloat8_e4m3fnuz)},
      {"e5m2fnuz", randn({4}).to(at::kFloat8_e5m2fnuz)},
      {"e8m0", torch::rand({4}).add(0.5).to(at::kFloat8_e8m0fnu)},
      {"c64", torch::randn({2}, at::kComplexFloat)},
      {"scalar", torch::tensor(2.5)},
      {"empty", torch::zeros({0, 7})},
  };
}

TEST(SafetensorsFile, WritesAndReadsBackEveryDtype) {
  testing::TempDir dir;
  const auto path = dir.path() + "/all.safetensors";
  const auto tensors = every_dtype();
  write_safetensors(path, tensors, {{"format", "pt"}, {"step", "12"}});

  SafetensorsFile file(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"step", "12"}}));
  EXPECT_EQ(file.names().size(), tensors.size());
  EXPECT_EQ(file.header().header_bytes % 8, 0u);
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    const auto& info = file.info(name);
    EXPECT_EQ(scalar_type_of(info.dtype), tensor.scalar_type());
    EXPECT_EQ(info.shape, tensor.sizes().vec());
    EXPECT_EQ(info.begin % tensor.element_size(), 0u) << "the layout keeps every tensor aligned";
    const auto loaded = file.load(name);
    EXPECT_EQ(loaded.scalar_type(), tensor.scalar_type());
    EXPECT_EQ(loaded.sizes(), tensor.sizes());
    EXPECT_EQ(bytes_of(loaded), bytes_of(tensor));
  }
  // Reference layout: descending dtype, then name.
  EXPECT_EQ(file.names().front(), "u64");
  EXPECT_EQ(file.names().back(), "bool");
}

TEST(SafetensorsFile, LoadsIntoTheRequestedDtype) {
  testing::TempDir dir;
  const auto path = dir.path() + "/w.safetensors";
  const auto half = (torch::randn({4, 3}) * 100).to(at::kHalf);
  const auto ints = torch::arange(-3, 3, at::kLong);
  write_safetensors(path, {{"half", half}, {"ints", ints}});
  SafetensorsFile file(path);
  auto as_float = file.load("half", at::kFloat);
  EXPECT_EQ(as_float.scalar_type(), at::kFloat);
  EXPECT_EQ(bytes_of(as_float), bytes_of(half.to(at::kFloat)));
  EXPECT_EQ(bytes_of(file.load("half", at::kBFloat16)), bytes_of(half.to(at::kBFloat16)));
  EXPECT_EQ(bytes_of(file.load("ints", at::kFloat)), bytes_of(ints.to(at::kFloat)));
  EXPECT_EQ(bytes_of(file.load("ints", at::kBool)), bytes_of(ints.to(at::kBool)));
}

TEST(SafetensorsFile, LoadedTensorsOwnTheirMemory) {
  testing::TempDir dir;
  const auto path = dir.path() + "/w.safetensors";
  const auto weights = torch::randn({8, 8});
  write_safetensors(path, {{"w", weights}});
  at::Tensor loaded;
  {
    SafetensorsFile file(path);
    loaded = file.load("w", at::kFloat);
  }
  fs::remove(path);
  loaded.add_(1);  // writable, and still valid with the file unmapped and gone
  EXPECT_TRUE(torch::equal(loaded, weights + 1));
}

TEST(SafetensorsFile, CopiesUnalignedData) {
  // A header of odd length puts the data area at an odd file offset; the
  // reference writer never does this but other writers may.
  std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}";
  while (header.size() % 8 != 1) header += ' ';
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  const auto values = torch::arange(6, at::kFloat).mul(1.5).reshape({3, 2});
  bytes += header + bytes_of(values);
  testing::TempDir dir;
  SafetensorsFile file(dir.write("odd.safetensors", bytes));
  EXPECT_EQ(file.header().data_start() % 8, 1u);
  EXPECT_TRUE(torch::equal(file.load("w", at::kFloat), values));
  EXPECT_TRUE(torch::equal(file.load("w", at::kDouble), values.to(at::kDouble)));
  EXPECT_TRUE(torch::equal(file.load_rows("w", 1, 3, at::kFloat), values.slice(0, 1, 3)));
}

TEST(SafetensorsFile, LoadsOnlyTheRequestedRows) {
  testing::TempDir dir;
  const auto path = dir.path() + "/w.safetensors";
  const auto table = torch::arange(5 * 4 * 2, at::kFloat).reshape({5, 4, 2});
  const auto half = torch::randn({6, 3}).to(at::kHalf);
  write_safetensors(path, {{"table", table}, {"half", half}, {"scalar", torch::tensor(1.0)}});
  SafetensorsFile file(path);
  auto rows = file.load_rows("table", 1, 3, at::kFloat);
  EXPECT_EQ(rows.sizes(), (std::vector<std::int64_t>{2, 4, 2}));
  EXPECT_TRUE(torch::equal(rows, table.slice(0, 1, 3)));
  EXPECT_TRUE(torch::equal(file.load_rows("table", 4, 5, at::kFloat), table.slice(0, 4, 5)));
  EXPECT_EQ(file.load_rows("table", 2, 2, at::kFloat).sizes(), (std::vector<std::int64_t>{0, 4, 2}));
  EXPECT_EQ(bytes_of(file.load_rows("half", 3, 6, at::kFloat)), bytes_of(half.slice(0, 3, 6).to(at::kFloat)));

  expect_error([&] { file.load_rows("table", 3, 6, at::kFloat); }, path, "tensor 'table': rows [3, 6) are outside its 5 rows");
  expect_error([&] { file.load_rows("table", -1, 2, at::kFloat); }, path, "rows [-1, 2) are outside");
  expect_error([&] { file.load_rows("table", 3, 2, at::kFloat); }, path, "rows [3, 2) are outside");
  expect_error([&] { file.load_rows("scalar", 0, 1, at::kFloat); }, path, "tensor 'scalar' is a scalar and has no rows");
}

TEST(SafetensorsFile, LoadsRawByteRanges) {
  testing::TempDir dir;
  const auto path = dir.path() + "/w.safetensors";
  const auto values = torch::arange(10, at::kInt);
  write_safetensors(path, {{"v", values}});
  SafetensorsFile file(path);
  auto bytes = file.load_bytes("v", 8, 20);
  EXPECT_EQ(bytes.scalar_type(), at::kByte);
  EXPECT_EQ(bytes_of(bytes), bytes_of(values).substr(8, 12));
  EXPECT_EQ(bytes_of(bytes.view(at::kInt)), bytes_of(values.slice(0, 2, 5)));
  EXPECT_EQ(file.load_bytes("v", 40, 40).numel(), 0);
  expect_error([&] { file.load_bytes("v", 36, 41); }, path, "tensor 'v': bytes [36, 41) are outside its 40 bytes");
  expect_error([&] { file.load_bytes("v", 5, 4); }, path, "bytes [5, 4) are outside");
}

TEST(SafetensorsFile, RefusesUnknownNamesAndTypesLibTorchLacks) {
  // F6_E2M3 packs 4 elements in 3 bytes: listed and readable raw, not loadable.
  const std::string header = "{\"x\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  testing::TempDir dir;
  const auto path = dir.write("f6.safetensors", bytes + header + "abc");
  SafetensorsFile file(path);
  EXPECT_EQ(file.info("x").dtype, Dtype::kF6_E2M3);
  EXPECT_FALSE(scalar_type_of(Dtype::kF6_E2M3));
  EXPECT_FALSE(scalar_type_of(Dtype::kF4));
  EXPECT_EQ(bytes_of(file.load_bytes("x", 0, 3)), "abc");
  expect_error([&] { file.load("x", at::kFloat); }, path, "tensor 'x': LibTorch has no type for F6_E2M3");
  expect_error([&] { file.load("x"); }, path, "LibTorch has no type for F6_E2M3");
  expect_error([&] { file.info("y"); }, path, "no tensor 'y'");
  expect_error([&] { file.load("y", at::kFloat); }, path, "no tensor 'y'");
  EXPECT_FALSE(file.contains("y"));
}

TEST(SafetensorsFile, ReportsFilesThatCannotBeOpened) {
  testing::TempDir dir;
  expect_error([&] { SafetensorsFile{dir.path() + "/absent.safetensors"}; }, dir.path() + "/absent.safetensors",
               "cannot open: No such file or directory");
  expect_error([&] { SafetensorsFile{dir.path()}; }, dir.path(), "not a regular file");
}

TEST(SafetensorsWriter, WritesNonContiguousTensorsAsTheirValues) {
  testing::TempDir dir;
  const auto path = dir.path() + "/t.safetensors";
  const auto base = torch::arange(12, at::kFloat).reshape({3, 4});
  write_safetensors(path, {{"t", base.t()}, {"strided", base.slice(1, 0, 4, 2)}});
  SafetensorsFile file(path);
  EXPECT_TRUE(torch::equal(file.load("t"), base.t()));
  EXPECT_TRUE(torch::equal(file.load("strided"), base.slice(1, 0, 4, 2)));
}

TEST(SafetensorsWriter, ReplacesAtomicallyAndLeavesNoTemporaryFile) {
  testing::TempDir dir;
  const auto path = dir.path() + "/ckpt.safetensors";
  write_safetensors(path, {{"w", torch::zeros({2})}});
  write_safetensors(path, {{"w", torch::ones({3})}});
  EXPECT_TRUE(torch::equal(SafetensorsFile(path).load("w"), torch::ones({3})));
  EXPECT_EQ(files_in(dir.path()), std::vector<std::string>{"ckpt.safetensors"});

  // A failed write keeps the previous file whole and cleans up after itself.
  const auto before = read_file(path);
  expect_error([&] { write_safetensors(path, {{"w", torch::ones({2})}, {"z", torch::ones({2}, at::kComplexDouble)}}); },
               path, "tensor 'z' is ComplexDouble, which safetensors cannot store");
  expect_error([&] { write_safetensors(path, {{"w", torch::ones({2})}, {"w", torch::ones({2})}}); }, path,
               "tensor 'w' is given twice");
  expect_error([&] { write_safetensors(path, {{"__metadata__", torch::ones({2})}}); }, path,
               "'__metadata__' cannot name a tensor");
  expect_error([&] { write_safetensors(path, {{"u", at::Tensor()}}); }, path, "tensor 'u' is undefined");
  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(files_in(dir.path()), std::vector<std::string>{"ckpt.safetensors"});

  const auto nowhere = dir.path() + "/no/such/dir/x.safetensors";
  expect_error([&] { write_safetensors(nowhere, {{"w", torch::ones({2})}}); }, nowhere, "cannot create");
}

// --- sharded checkpoints -------------------------------------------------------

struct ShardedDir {
  testing::TempDir dir;
  std::string index_path = dir.path() + "/model.safetensors.index.json";

  std::string shard(const std::string& name, const std::vector<std::pair<std::string, at::Tensor>>& tensors) const {
    write_safetensors(dir.path() + "/" + name, tensors);
    return dir.path() + "/" + name;
  }
  void index(const std::string& json) const { dir.write("model.safetensors.index.json", json); }
};

const char* kIndex =
    R"({"metadata": {"total_size": 40, "total_parameters": 10},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                       "c": "model-00002-of-00002.safetensors"}})";

TEST(SafetensorsCheckpoint, RoutesNamesToTheirShards) {
  ShardedDir d;
  const auto first = d.shard("model-00001-of-00002.safetensors", {{"a", torch::ones({2, 2})}, {"b", torch::zeros({3})}});
  const auto second = d.shard("model-00002-of-00002.safetensors", {{"c", torch::arange(6, at::kFloat).reshape({3, 2})}});
  d.index(kIndex);

  for (const auto& path : {d.dir.path(), d.index_path}) {
    Checkpoint checkpoint(path);
    EXPECT_EQ(checkpoint.path(), d.index_path);
    EXPECT_EQ(checkpoint.files().size(), 2u);
    EXPECT_EQ(checkpoint.names(), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(checkpoint.file_of("b").path(), first);
    EXPECT_EQ(checkpoint.file_of("c").path(), second);
    EXPECT_EQ(checkpoint.info("c").shape, (std::vector<std::int64_t>{3, 2}));
    EXPECT_EQ(checkpoint.shapes().at("a"), (std::vector<std::int64_t>{2, 2}));
    EXPECT_TRUE(torch::equal(checkpoint.load("a", at::kFloat), torch::ones({2, 2})));
    EXPECT_TRUE(torch::equal(checkpoint.load_rows("c", 1, 2, at::kDouble), torch::tensor({{2.0, 3.0}}, at::kDouble)));
    EXPECT_EQ(checkpoint.load_bytes("c", 4, 8).view(at::kFloat).item<float>(), 1.0f);
    EXPECT_FALSE(checkpoint.contains("d"));
    expect_error([&] { checkpoint.load("d", at::kFloat); }, d.index_path, "no tensor 'd' in the checkpoint");
  }
}

TEST(SafetensorsCheckpoint, OpensASingleFileDirectlyOrThroughItsDirectory) {
  testing::TempDir dir;
  const auto path = dir.path() + "/model.safetensors";
  write_safetensors(path, {{"w", torch::ones({2})}});
  dir.write("model.safetensors.index.json", "not even JSON: the single file wins, as in transformers");
  for (const auto& open : {dir.path(), path}) {
    Checkpoint checkpoint(open);
    EXPECT_EQ(checkpoint.path(), path);
    EXPECT_EQ(checkpoint.names(), std::vector<std::string>{"w"});
  }
  testing::TempDir empty;
  expect_error([&] { Checkpoint{empty.path()}; }, empty.path(),
               "checkpoint directory holds neither model.safetensors nor model.safetensors.index.json");
}

TEST(SafetensorsCheckpoint, RejectsAMissingShard) {
  ShardedDir d;
  d.shard("model-00001-of-00002.safetensors", {{"a", torch::ones({2})}, {"b", torch::ones({2})}});
  d.index(kIndex);
  expect_error([&] { Checkpoint{d.dir.path()}; }, d.dir.path() + "/model-00002-of-00002.safetensors",
               "missing shard: model.safetensors.index.json maps tensor 'c' to it");
}

TEST(SafetensorsCheckpoint, RejectsAnIndexNamingATensorItsShardLacks) {
  ShardedDir d;
  d.shard("model-00001-of-00002.safetensors", {{"a", torch::ones({2})}});
  const auto second = d.shard("model-00002-of-00002.safetensors", {{"b", torch::ones({2})}, {"c", torch::ones({2})}});
  d.index(R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors",
                             "c": "model-00002-of-00002.safetensors", "d": "model-00002-of-00002.safetensors"}})");
  expect_error([&] { Checkpoint{d.dir.path()}; }, second,
               "has no tensor 'd', which model.safetensors.index.json maps to it");
}

TEST(SafetensorsCheckpoint, RejectsATensorInTwoShards) {
  ShardedDir d;
  d.shard("model-00001-of-00002.safetensors", {{"a", torch::ones({2})}, {"b", torch::ones({2})}});
  const auto second = d.shard("model-00002-of-00002.safetensors", {{"b", torch::ones({2})}, {"c", torch::ones({2})}});
  d.index(kIndex);
  expect_error([&] { Checkpoint{d.dir.path()}; }, second,
               "tensor 'b' is also in shard " + d.dir.path() + "/model-00001-of-00002.safetensors");
}

TEST(SafetensorsCheckpoint, RejectsAShardHoldingTensorsTheIndexDoesNotList) {
  ShardedDir d;
  const auto first = d.shard("model-00001-of-00002.safetensors",
                             {{"a", torch::ones({2})}, {"b", torch::ones({2})}, {"stray", torch::ones({1})}});
  d.shard("model-00002-of-00002.safetensors", {{"c", torch::ones({2})}});
  d.index(kIndex);
  expect_error([&] { Checkpoint{d.dir.path()}; }, first,
               "holds tensor 'stray', which model.safetensors.index.json does not list");
}

TEST(SafetensorsCheckpoint, RejectsMalformedIndexes) {
  ShardedDir d;
  d.shard("model-00001-of-00002.safetensors", {{"a", torch::ones({2})}});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"weight_map": {"a": "model-00001-of-00002.safetensors",)", "checkpoint index is not valid JSON"},
      {"", "checkpoint index is not valid JSON"},
      {R"(["model-00001-of-00002.safetensors"])", "checkpoint index has no \"weight_map\" object"},
      {R"({"metadata": {}})", "checkpoint index has no \"weight_map\" object"},
      {R"({"weight_map": ["a"]})", "checkpoint index has no \"weight_map\" object"},
      {R"({"weight_map": {"a": 1}})", "weight_map['a'] is not a file name"},
      {R"({"weight_map": {"a": "../model-00001-of-00002.safetensors"}})",
       "weight_map['a'] is '../model-00001-of-00002.safetensors', not a file beside the index"},
      {R"({"weight_map": {"a": ".."}})", "not a file beside the index"},
  };
  for (const auto& [json, reason] : cases) {
    SCOPED_TRACE(json);
    d.index(json);
    expect_error([&] { Checkpoint{d.dir.path()}; }, d.index_path, reason);
  }
}

TEST(SafetensorsCheckpoint, NamesACorruptShard) {
  ShardedDir d;
  d.shard("model-00001-of-00002.safetensors", {{"a", torch::ones({2})}, {"b", torch::ones({2})}});
  const auto second = d.dir.write("model-00002-of-00002.safetensors", "short");
  d.index(kIndex);
  expect_error([&] { Checkpoint{d.dir.path()}; }, second, "shorter than the 8-byte header length");
}

TEST(SafetensorsFile, LoadsOntoTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  testing::TempDir dir;
  const auto path = dir.path() + "/w.safetensors";
  const auto half = torch::randn({6, 4}).to(at::kHalf);
  write_safetensors(path, {{"w", half.to(at::kCUDA)}});
  SafetensorsFile file(path);
  auto on_gpu = file.load("w", at::kFloat, at::Device(at::kCUDA, 0));
  EXPECT_TRUE(on_gpu.is_cuda());
  EXPECT_EQ(bytes_of(on_gpu), bytes_of(half.to(at::kFloat)));
  EXPECT_EQ(bytes_of(file.load_rows("w", 2, 5, at::kHalf, at::Device(at::kCUDA, 0))), bytes_of(half.slice(0, 2, 5)));
}

}  // namespace

}  // namespace epalm::safetensors
