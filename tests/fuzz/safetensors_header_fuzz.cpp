// libFuzzer target for the safetensors header parser (torch-free, built by
// tests/fuzz/run-safetensors-fuzz with clang -fsanitize=fuzzer,address,undefined).
// Any input must either parse or throw epalm::Error; an accepted header must
// tile the data area and survive a serialize/parse round trip unchanged.
// Each input is tried twice: as a whole file, and framed as "JSON\nDATA" with
// the length prefix computed, so mutations of the JSON keep a valid prefix.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/format.h"

namespace {

using epalm::safetensors::Header;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

void check_invariants(const Header& header, std::size_t size) {
  std::uint64_t covered = 0;
  for (std::size_t i = 0; i < header.tensors.size(); ++i) {
    const auto& info = header.tensors[i];
    check(info.begin == covered, "tensors tile the data area");
    check(info.numel() >= 0, "element count fits int64");
    check(info.nbytes() * 8 ==
              static_cast<std::uint64_t>(info.numel()) * epalm::safetensors::dtype_bits(info.dtype),
          "byte size is numel x itemsize");
    check(header.find(info.name) == &info, "index finds every tensor");
    covered = info.end;
  }
  check(header.data_start() + covered == size, "data area ends at the end of the file");
}

std::string length_prefix(std::size_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<std::uint64_t>(n) >> (8 * i));
  return out;
}

void fuzz_file(const std::uint8_t* data, std::size_t size) {
  Header header;
  try {
    header = epalm::safetensors::parse_header("fuzz", data, size);
  } catch (const epalm::Error&) {
    return;
  }
  check_invariants(header, size);

  // What the writer would emit for this header must read back the same.
  const std::string text = epalm::safetensors::serialize_header("fuzz", header.tensors, header.metadata);
  std::string file = length_prefix(text.size()) + text;
  file.append(reinterpret_cast<const char*>(data) + header.data_start(), size - header.data_start());
  const Header again =
      epalm::safetensors::parse_header("round trip", reinterpret_cast<const std::uint8_t*>(file.data()), file.size());
  check(again.metadata == header.metadata, "metadata round-trips");
  check(again.tensors.size() == header.tensors.size(), "tensor count round-trips");
  for (std::size_t i = 0; i < header.tensors.size(); ++i) {
    const auto& a = header.tensors[i];
    const auto& b = again.tensors[i];
    check(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.begin == b.begin && a.end == b.end,
          "tensor entries round-trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_file(data, size);
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  if (newline != std::string::npos) {
    const std::string framed = length_prefix(newline) + input.substr(0, newline) + input.substr(newline + 1);
    fuzz_file(reinterpret_cast<const std::uint8_t*>(framed.data()), framed.size());
  }
  return 0;
}
