// The safetensors file format without LibTorch: dtypes, the parsed and
// validated header, and the header the writer emits. Torch-free so the parser
// can be fuzzed on its own (tests/fuzz). Spec: docs/models.md.
//
//   bytes 0..8        N, little-endian u64
//   bytes 8..8+N      JSON: {"__metadata__": {str: str}?, name: {dtype, shape, data_offsets}...}
//   bytes 8+N..EOF    the data area; data_offsets are relative to its start
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace epalm::safetensors {

// Every dtype the format defines, in the reference's order (ascending
// alignment): the writer lays tensors out by descending dtype, then name.
enum class Dtype {
  kBool,
  kF4,
  kF6_E2M3,
  kF6_E3M2,
  kU8,
  kI8,
  kF8_E5M2,
  kF8_E4M3,
  kF8_E8M0,
  kF8_E4M3FNUZ,
  kF8_E5M2FNUZ,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kC64,
  kF64,
  kI64,
  kU64,
};

// The header's spelling ("F32", "BF16", ...).
const char* dtype_name(Dtype dtype);
// The dtype spelled `name`, or nothing for an unknown spelling.
std::optional<Dtype> dtype_from_name(const std::string& name);
// Bits per element: 4 and 6 for the sub-byte floats, BOOL is a byte.
int dtype_bits(Dtype dtype);

// The header's limit in the reference implementation.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // byte range in the data area, end one past
  std::uint64_t end = 0;

  std::int64_t numel() const;
  std::uint64_t nbytes() const { return end - begin; }
};

struct Header {
  std::uint64_t header_bytes = 0;              // N
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::vector<TensorInfo> tensors;              // ascending data offsets
  std::map<std::string, std::size_t> index;     // name -> position in `tensors`

  std::uint64_t data_start() const { return 8 + header_bytes; }  // file offset of the data area
  const TensorInfo* find(const std::string& name) const;          // null when absent
};

// Parses and validates a whole file held in [data, data + size): the length
// prefix, the JSON, every entry, and that the tensors tile the data area from
// 0 to the end of the file with no overlap, hole or trailing byte. Throws
// epalm::Error(where, reason) on the first problem.
Header parse_header(const std::string& where, const std::uint8_t* data, std::size_t size);

// The writer's JSON header for `tensors` (in the order given, offsets as
// given), padded with spaces to a multiple of 8 bytes as the reference pads it.
// Throws epalm::Error(where, ...) for a name that is not valid UTF-8.
std::string serialize_header(const std::string& where, const std::vector<TensorInfo>& tensors,
                             const std::map<std::string, std::string>& metadata);

}  // namespace epalm::safetensors
