// The header parser on malformed files (each rejected with the file and the
// reason, never a crash) and the writer's header bytes against the reference's.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "process.h"

namespace epalm::safetensors {

namespace {

std::string length_prefix(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out;
}

// A file: the length of `header`, `header`, then `data_bytes` zero bytes.
std::string file_bytes(const std::string& header, std::size_t data_bytes = 0) {
  return length_prefix(header.size()) + header + std::string(data_bytes, '\0');
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, std::uint64_t begin,
                  std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

struct Malformed {
  const char* label;
  std::string bytes;
  const char* reason;  // a substring of the error's reason
};

std::vector<Malformed> malformed_files() {
  const std::string f32x3 = entry("a", "F32", "[3]", 0, 12);
  return {
      {"empty file", "", "file is 0 bytes, shorter than the 8-byte header length"},
      {"seven bytes", std::string(7, '\0'), "file is 7 bytes, shorter than the 8-byte header length"},
      {"header length beyond the file", length_prefix(100) + "{}", "header length 100 goes beyond the end of the 10-byte file"},
      {"header length above the limit", length_prefix(100'000'001) + "{}", "header length 100000001 exceeds the 100000000-byte limit"},
      {"header length 2^64-1", length_prefix(~0ull) + "{}", "header length 18446744073709551615 exceeds"},
      {"zero header length", length_prefix(0), "header is not a JSON object"},
      {"bad JSON", file_bytes("{\"a\":"), "header is not valid JSON"},
      {"JSON followed by garbage", file_bytes("{}x"), "header is not valid JSON"},
      {"invalid UTF-8", file_bytes("{\"\xff\":1}"), "header is not valid JSON"},
      {"not an object", file_bytes("[1,2]"), "header is not a JSON object (it must start with '{')"},
      {"leading space", file_bytes(" {}"), "header is not a JSON object"},
      {"entry not an object", file_bytes("{\"a\":[1]}"), "tensor 'a': entry is not an object but array"},
      {"missing dtype", file_bytes("{\"a\":{\"shape\":[],\"data_offsets\":[0,0]}}"), "tensor 'a': missing \"dtype\""},
      {"missing shape", file_bytes("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,0]}}"), "tensor 'a': missing \"shape\""},
      {"missing data_offsets", file_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}"), "tensor 'a': missing \"data_offsets\""},
      {"dtype not a string", file_bytes("{\"a\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", 4), "tensor 'a': dtype is not a string"},
      {"unknown dtype", file_bytes("{" + entry("a", "F7", "[1]", 0, 1) + "}", 1), "tensor 'a': unknown dtype 'F7'"},
      {"lowercase dtype", file_bytes("{" + entry("a", "f32", "[1]", 0, 4) + "}", 4), "unknown dtype 'f32'"},
      {"shape not an array", file_bytes("{" + entry("a", "F32", "3", 0, 12) + "}", 12), "tensor 'a': shape is not an array"},
      {"negative dimension", file_bytes("{" + entry("a", "F32", "[2,-1]", 0, 0) + "}"), "tensor 'a': shape[1] is -1, not a non-negative integer"},
      {"fractional dimension", file_bytes("{" + entry("a", "F32", "[2.5]", 0, 0) + "}"), "shape[0] is 2.5, not a non-negative integer"},
      {"dimension beyond u64", file_bytes("{" + entry("a", "U8", "[18446744073709551616]", 0, 0) + "}"), "not a non-negative integer"},
      {"shape product overflow", file_bytes("{" + entry("a", "U8", "[4294967296,4294967296]", 0, 0) + "}"), "overflows the element count"},
      {"dimension above int64 after a zero", file_bytes("{" + entry("a", "U8", "[0,18446744073709551615]", 0, 0) + "}"), "overflows the element count"},
      {"byte count overflow", file_bytes("{" + entry("a", "F64", "[1152921504606846976,4]", 0, 0) + "}"), "overflows the byte count"},
      {"sub-byte elements not filling bytes", file_bytes("{" + entry("a", "F4", "[3]", 0, 1) + "}", 1), "3 F4 elements do not fill whole bytes"},
      {"offsets not a pair", file_bytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1), "data_offsets is not a [begin, end] pair"},
      {"negative offset", file_bytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 1), "data_offsets [-1,0] are not non-negative integers"},
      {"begin after end", file_bytes("{" + entry("a", "U8", "[0]", 4, 2) + "}", 4), "tensor 'a': data_offsets [4, 2] begin after end"},
      {"offsets beyond the data area", file_bytes("{" + f32x3 + "}", 8), "data_offsets [0, 12] go beyond the data area (8 bytes)"},
      {"offsets at 2^64-1", file_bytes("{" + entry("a", "U8", "[1]", 18446744073709551614ull, 18446744073709551615ull) + "}", 1), "go beyond the data area"},
      {"byte size not numel x itemsize", file_bytes("{" + entry("a", "F32", "[3]", 0, 8) + "}", 8), "data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12"},
      {"overlapping ranges", file_bytes("{" + entry("a", "U8", "[8]", 0, 8) + "," + entry("b", "U8", "[8]", 4, 12) + "}", 12), "tensor 'b' [4, 12] overlaps tensor 'a' [0, 8]"},
      {"same range twice", file_bytes("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 0, 4) + "}", 4), "overlaps tensor 'a'"},
      {"empty tensor inside another", file_bytes("{" + entry("a", "U8", "[8]", 0, 8) + "," + entry("b", "U8", "[0]", 4, 4) + "}", 8), "tensor 'b' [4, 4] overlaps tensor 'a'"},
      {"hole between tensors", file_bytes("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 8, 12) + "}", 12), "hole in the data area: bytes [4, 8] belong to no tensor (next is 'b')"},
      {"hole at the start", file_bytes("{" + entry("a", "U8", "[4]", 4, 8) + "}", 8), "hole in the data area: bytes [0, 4]"},
      {"trailing bytes", file_bytes("{" + f32x3 + "}", 16), "trailing bytes: the tensors end at byte 12 of the 16-byte data area"},
      {"trailing bytes without tensors", file_bytes("{}", 1), "trailing bytes: the tensors end at byte 0 of the 1-byte data area"},
      {"duplicate tensor name", file_bytes("{" + entry("a", "U8", "[1]", 0, 1) + "," + entry("a", "U8", "[1]", 1, 2) + "}", 2), "header names 'a' twice"},
      {"metadata not an object", file_bytes("{\"__metadata__\":[\"pt\"]}"), "__metadata__ is not an object but array"},
      {"metadata value not a string", file_bytes("{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}"), "__metadata__ maps strings to strings, but 'step' is number"},
  };
}

// One test for the whole table: each case is its own file, checked on its
// own, without paying a LibTorch process start per case.
TEST(SafetensorsFile, RejectsMalformedFilesNamingTheFileAndTheReason) {
  testing::TempDir dir;
  for (const auto& bad : malformed_files()) {
    SCOPED_TRACE(bad.label);
    const auto path = dir.write("bad.safetensors", bad.bytes);
    try {
      SafetensorsFile file(path);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), path);
      EXPECT_NE(e.reason().find(bad.reason), std::string::npos) << "reason: " << e.reason();
    }
  }
}

Header parse(const std::string& bytes) {
  return parse_header("mem", reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

TEST(SafetensorsHeader, SortsTensorsByOffsetWhateverTheJsonOrder) {
  const auto header = parse(file_bytes("{" + entry("late", "F16", "[2,3]", 8, 20) + ",\"__metadata__\":{\"format\":\"pt\"}," +
                                       entry("early", "I64", "[1]", 0, 8) + "," + entry("none", "BF16", "[0,5]", 20, 20) +
                                       "}   ",
                                       20));
  ASSERT_EQ(header.tensors.size(), 3u);
  EXPECT_EQ(header.tensors[0].name, "early");
  EXPECT_EQ(header.tensors[1].name, "late");
  EXPECT_EQ(header.tensors[2].name, "none");
  const TensorInfo* late = header.find("late");
  ASSERT_NE(late, nullptr);
  EXPECT_EQ(late->dtype, Dtype::kF16);
  EXPECT_EQ(late->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(late->numel(), 6);
  EXPECT_EQ(late->begin, 8u);
  EXPECT_EQ(late->nbytes(), 12u);
  EXPECT_EQ(header.find("none")->numel(), 0);
  EXPECT_EQ(header.find("missing"), nullptr);
  EXPECT_EQ(header.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(header.data_start(), 8 + header.header_bytes);
}

TEST(SafetensorsHeader, AcceptsScalarsNullMetadataUnknownFieldsAndSubByteTypes) {
  const auto header = parse(file_bytes("{\"__metadata__\":null," + entry("s", "F32", "[]", 0, 4) + "," +
                                       "\"x\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[4,7],\"extra\":1}}",
                                       7));
  EXPECT_TRUE(header.metadata.empty());
  EXPECT_EQ(header.find("s")->numel(), 1);
  EXPECT_EQ(header.find("x")->dtype, Dtype::kF6_E2M3);
}

TEST(SafetensorsHeader, KnowsEveryDtypeOfTheFormat) {
  const std::vector<std::pair<std::string, int>> dtypes = {
      {"BOOL", 8},         {"F4", 4},           {"F6_E2M3", 6},     {"F6_E3M2", 6}, {"U8", 8},   {"I8", 8},
      {"F8_E5M2", 8},      {"F8_E4M3", 8},      {"F8_E8M0", 8},     {"F8_E4M3FNUZ", 8},          {"F8_E5M2FNUZ", 8},
      {"I16", 16},         {"U16", 16},         {"F16", 16},        {"BF16", 16},   {"I32", 32}, {"U32", 32},
      {"F32", 32},         {"C64", 64},         {"F64", 64},        {"I64", 64},    {"U64", 64}};
  for (std::size_t i = 0; i < dtypes.size(); ++i) {
    auto dtype = dtype_from_name(dtypes[i].first);
    ASSERT_TRUE(dtype) << dtypes[i].first;
    EXPECT_EQ(static_cast<std::size_t>(*dtype), i) << "reference order";
    EXPECT_EQ(dtype_name(*dtype), dtypes[i].first);
    EXPECT_EQ(dtype_bits(*dtype), dtypes[i].second) << dtypes[i].first;
  }
  EXPECT_FALSE(dtype_from_name("F8"));
}

// Byte-for-byte what the reference writes (safetensors tensor.rs tests
// test_empty, test_serialization, test_serialization_forced_alignement).
TEST(SafetensorsHeader, SerializesLikeTheReference) {
  EXPECT_EQ(serialize_header("mem", {}, {}), "{}      ");
  EXPECT_EQ(serialize_header("mem", {}, {{"framework", "pt"}}), "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
  TensorInfo attn{"attn.0", Dtype::kF32, {1, 2, 3}, 0, 24};
  EXPECT_EQ(serialize_header("mem", {attn}, {}), "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}");
  attn.name = "attn0";
  attn.shape = {1, 1, 2, 3};
  EXPECT_EQ(serialize_header("mem", {attn}, {}),
            "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ");
}

TEST(SafetensorsHeader, SerializedHeadersParseBack) {
  const std::vector<TensorInfo> tensors = {{"w", Dtype::kBF16, {2, 2}, 0, 8}, {"é \"q\"", Dtype::kBool, {}, 8, 9}};
  const auto text = serialize_header("mem", tensors, {{"format", "pt"}, {"note", "ünïcode"}});
  EXPECT_EQ(text.size() % 8, 0u);
  const auto header = parse(length_prefix(text.size()) + text + std::string(9, '\0'));
  ASSERT_EQ(header.tensors.size(), 2u);
  EXPECT_EQ(header.tensors[1].name, "é \"q\"");
  EXPECT_EQ(header.tensors[1].dtype, Dtype::kBool);
  EXPECT_EQ(header.tensors[0].shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(header.metadata.at("note"), "ünïcode");
}

TEST(SafetensorsHeader, SerializeRejectsDuplicateReservedAndNonUtf8Names) {
  const TensorInfo a{"a", Dtype::kU8, {1}, 0, 1};
  const TensorInfo reserved{"__metadata__", Dtype::kU8, {1}, 1, 2};
  const TensorInfo bad{"\xff", Dtype::kU8, {1}, 1, 2};
  EXPECT_THROW(serialize_header("out.safetensors", {a, a}, {}), Error);
  EXPECT_THROW(serialize_header("out.safetensors", {a, reserved}, {}), Error);
  try {
    serialize_header("out.safetensors", {a, bad}, {});
    FAIL() << "accepted a name that is not UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "out.safetensors");
    EXPECT_NE(e.reason().find("UTF-8"), std::string::npos) << e.reason();
  }
}

}  // namespace

}  // namespace epalm::safetensors
