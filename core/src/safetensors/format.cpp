#include "epalm/core/safetensors/format.h"

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "epalm/core/error.h"

namespace epalm::safetensors {

namespace {

using json = nlohmann::json;

struct DtypeSpec {
  Dtype dtype;
  const char* name;
  int bits;
};

// In enum order, so kDtypes[int(d)] describes d.
constexpr std::array<DtypeSpec, 22> kDtypes{{
    {Dtype::kBool, "BOOL", 8},
    {Dtype::kF4, "F4", 4},
    {Dtype::kF6_E2M3, "F6_E2M3", 6},
    {Dtype::kF6_E3M2, "F6_E3M2", 6},
    {Dtype::kU8, "U8", 8},
    {Dtype::kI8, "I8", 8},
    {Dtype::kF8_E5M2, "F8_E5M2", 8},
    {Dtype::kF8_E4M3, "F8_E4M3", 8},
    {Dtype::kF8_E8M0, "F8_E8M0", 8},
    {Dtype::kF8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {Dtype::kF8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    {Dtype::kI16, "I16", 16},
    {Dtype::kU16, "U16", 16},
    {Dtype::kF16, "F16", 16},
    {Dtype::kBF16, "BF16", 16},
    {Dtype::kI32, "I32", 32},
    {Dtype::kU32, "U32", 32},
    {Dtype::kF32, "F32", 32},
    {Dtype::kC64, "C64", 64},
    {Dtype::kF64, "F64", 64},
    {Dtype::kI64, "I64", 64},
    {Dtype::kU64, "U64", 64},
}};

const DtypeSpec& spec_of(Dtype dtype) { return kDtypes.at(static_cast<std::size_t>(dtype)); }

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string range_text(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// A JSON value for an error message, cut short: the input may be huge.
std::string excerpt(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 64 ? text.substr(0, 61) + "..." : text;
}

// A JSON number that is a non-negative integer (nlohmann keeps those unsigned;
// negatives are number_integer, fractions and out-of-range values number_float).
std::optional<std::uint64_t> as_count(const json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  return value.get<std::uint64_t>();
}

// Validates one tensor entry against the dtype/shape/size rules; the layout
// across tensors is checked afterwards.
TensorInfo parse_entry(const std::string& where, const std::string& name, const json& entry,
                       std::uint64_t data_size) {
  const std::string tensor = "tensor '" + name + "': ";
  if (!entry.is_object()) throw Error(where, tensor + "entry is not an object but " + entry.type_name());
  auto field = [&](const char* key) -> const json& {
    auto found = entry.find(key);
    if (found == entry.end()) throw Error(where, tensor + "missing \"" + key + "\"");
    return *found;
  };
  const json& dtype = field("dtype");
  const json& shape = field("shape");
  const json& offsets = field("data_offsets");

  TensorInfo info;
  info.name = name;
  if (!dtype.is_string()) throw Error(where, tensor + "dtype is not a string");
  auto known = dtype_from_name(dtype.get<std::string>());
  if (!known) throw Error(where, tensor + "unknown dtype '" + dtype.get<std::string>() + "'");
  info.dtype = *known;

  if (!shape.is_array()) throw Error(where, tensor + "shape is not an array");
  // Like the reference, the running product must not overflow, even when a
  // later dimension is 0.
  constexpr auto kMaxElements = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t numel = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    auto dim = as_count(shape[i]);
    if (!dim) throw Error(where, tensor + "shape[" + std::to_string(i) + "] is " + excerpt(shape[i]) +
                                     ", not a non-negative integer");
    if (*dim > kMaxElements || (*dim != 0 && numel > kMaxElements / *dim)) {
      throw Error(where, tensor + "shape " + excerpt(shape) + " overflows the element count");
    }
    numel *= *dim;
    info.shape.push_back(static_cast<std::int64_t>(*dim));
  }

  if (!offsets.is_array() || offsets.size() != 2) throw Error(where, tensor + "data_offsets is not a [begin, end] pair");
  auto begin = as_count(offsets[0]);
  auto end = as_count(offsets[1]);
  if (!begin || !end) throw Error(where, tensor + "data_offsets " + excerpt(offsets) + " are not non-negative integers");
  info.begin = *begin;
  info.end = *end;
  const std::string range = "data_offsets " + range_text(info.begin, info.end);
  if (info.begin > info.end) throw Error(where, tensor + range + " begin after end");
  if (info.end > data_size) {
    throw Error(where, tensor + range + " go beyond the data area (" + std::to_string(data_size) + " bytes)");
  }

  const auto bits = static_cast<std::uint64_t>(dtype_bits(info.dtype));
  if (numel > std::numeric_limits<std::uint64_t>::max() / bits) {
    throw Error(where, tensor + "shape " + shape_text(info.shape) + " overflows the byte count");
  }
  if (numel * bits % 8 != 0) {
    throw Error(where, tensor + std::to_string(numel) + " " + dtype_name(info.dtype) + " elements do not fill whole bytes");
  }
  const std::uint64_t nbytes = numel * bits / 8;
  if (info.nbytes() != nbytes) {
    throw Error(where, tensor + range + " hold " + std::to_string(info.nbytes()) + " bytes but shape " +
                           shape_text(info.shape) + " of " + dtype_name(info.dtype) + " needs " + std::to_string(nbytes));
  }
  return info;
}

std::map<std::string, std::string> parse_metadata(const std::string& where, const json& value) {
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;  // the reference reads null as "no metadata"
  if (!value.is_object()) throw Error(where, "__metadata__ is not an object but " + std::string(value.type_name()));
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      throw Error(where, "__metadata__ maps strings to strings, but '" + key + "' is " + item.type_name());
    }
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

// The tensors, sorted by offset, must tile [0, data_size) exactly: the
// reference rejects overlaps, holes and trailing bytes.
void check_layout(const std::string& where, const std::vector<TensorInfo>& sorted, std::uint64_t data_size) {
  std::uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& info : sorted) {
    if (info.begin < covered) {
      throw Error(where, "tensor '" + info.name + "' " + range_text(info.begin, info.end) + " overlaps tensor '" +
                             previous->name + "' " + range_text(previous->begin, previous->end));
    }
    if (info.begin > covered) {
      throw Error(where, "hole in the data area: bytes " + range_text(covered, info.begin) +
                             " belong to no tensor (next is '" + info.name + "')");
    }
    covered = info.end;
    previous = &info;
  }
  if (covered != data_size) {
    throw Error(where, "trailing bytes: the tensors end at byte " + std::to_string(covered) + " of the " +
                           std::to_string(data_size) + "-byte data area");
  }
}

}  // namespace

const char* dtype_name(Dtype dtype) { return spec_of(dtype).name; }

int dtype_bits(Dtype dtype) { return spec_of(dtype).bits; }

std::optional<Dtype> dtype_from_name(const std::string& name) {
  for (const auto& spec : kDtypes) {
    if (name == spec.name) return spec.dtype;
  }
  return std::nullopt;
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto dim : shape) n *= dim;  // validated against overflow when parsed
  return n;
}

const TensorInfo* Header::find(const std::string& name) const {
  auto found = index.find(name);
  return found == index.end() ? nullptr : &tensors[found->second];
}

Header parse_header(const std::string& where, const std::uint8_t* data, std::size_t size) {
  if (size < 8) {
    throw Error(where, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  Header header;
  for (int i = 7; i >= 0; --i) header.header_bytes = header.header_bytes << 8 | data[i];
  const std::uint64_t n = header.header_bytes;
  if (n > kMaxHeaderBytes) {
    throw Error(where, "header length " + std::to_string(n) + " exceeds the " + std::to_string(kMaxHeaderBytes) +
                           "-byte limit");
  }
  if (n > size - 8) {
    throw Error(where, "header length " + std::to_string(n) + " goes beyond the end of the " + std::to_string(size) +
                           "-byte file");
  }
  const std::uint8_t* text = data + 8;
  if (n == 0 || text[0] != '{') throw Error(where, "header is not a JSON object (it must start with '{')");

  // nlohmann keeps the last of duplicate keys; a shadowed tensor must not go
  // unnoticed, so count the top-level keys as they are parsed.
  std::set<std::string> seen;
  std::string duplicate;
  json root;
  try {
    root = json::parse(text, text + n, [&](int depth, json::parse_event_t event, json& parsed) {
      if (event == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second &&
          duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
      return true;
    });
  } catch (const json::exception& e) {
    throw Error(where, std::string("header is not valid JSON: ") + e.what());
  }
  if (!root.is_object()) throw Error(where, "header is not a JSON object (it must start with '{')");
  if (!duplicate.empty()) throw Error(where, "header names '" + duplicate + "' twice");

  const std::uint64_t data_size = size - 8 - n;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      header.metadata = parse_metadata(where, value);
    } else {
      header.tensors.push_back(parse_entry(where, key, value, data_size));
    }
  }
  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  check_layout(where, header.tensors, data_size);
  for (std::size_t i = 0; i < header.tensors.size(); ++i) header.index[header.tensors[i].name] = i;
  return header;
}

std::string serialize_header(const std::string& where, const std::vector<TensorInfo>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps insertion order: metadata first, then tensors by
  // offset, each as {"dtype", "shape", "data_offsets"} like the reference.
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  if (!metadata.empty()) root["__metadata__"] = metadata;
  std::set<std::string> names;
  for (const auto& info : tensors) {
    if (info.name == "__metadata__") throw Error(where, "'__metadata__' cannot name a tensor");
    if (!names.insert(info.name).second) throw Error(where, "tensor '" + info.name + "' is given twice");
    root[info.name] = {{"dtype", dtype_name(info.dtype)}, {"shape", info.shape}, {"data_offsets", {info.begin, info.end}}};
  }
  std::string text;
  try {
    text = root.dump();
  } catch (const nlohmann::ordered_json::exception& e) {
    throw Error(where, std::string("tensor names and metadata must be UTF-8: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace epalm::safetensors
