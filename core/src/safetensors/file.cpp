#include <torch/torch.h>

#include <cstring>

#include "epalm/core/error.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "safetensors/mapped_file.h"

namespace epalm::safetensors {

namespace {

struct TypePair {
  Dtype dtype;
  c10::ScalarType type;
};

// F4 has no element-for-element LibTorch type (Float4_e2m1fn_x2 packs two per
// byte, so shapes would differ); F6 has none at all.
constexpr TypePair kTypePairs[] = {
    {Dtype::kBool, c10::ScalarType::Bool},
    {Dtype::kU8, c10::ScalarType::Byte},
    {Dtype::kI8, c10::ScalarType::Char},
    {Dtype::kF8_E5M2, c10::ScalarType::Float8_e5m2},
    {Dtype::kF8_E4M3, c10::ScalarType::Float8_e4m3fn},
    {Dtype::kF8_E8M0, c10::ScalarType::Float8_e8m0fnu},
    {Dtype::kF8_E4M3FNUZ, c10::ScalarType::Float8_e4m3fnuz},
    {Dtype::kF8_E5M2FNUZ, c10::ScalarType::Float8_e5m2fnuz},
    {Dtype::kI16, c10::ScalarType::Short},
    {Dtype::kU16, c10::ScalarType::UInt16},
    {Dtype::kF16, c10::ScalarType::Half},
    {Dtype::kBF16, c10::ScalarType::BFloat16},
    {Dtype::kI32, c10::ScalarType::Int},
    {Dtype::kU32, c10::ScalarType::UInt32},
    {Dtype::kF32, c10::ScalarType::Float},
    {Dtype::kC64, c10::ScalarType::ComplexFloat},
    {Dtype::kF64, c10::ScalarType::Double},
    {Dtype::kI64, c10::ScalarType::Long},
    {Dtype::kU64, c10::ScalarType::UInt64},
};

std::string tensor_text(const std::string& name) { return "tensor '" + name + "'"; }

}  // namespace

std::optional<c10::ScalarType> scalar_type_of(Dtype dtype) {
  for (const auto& pair : kTypePairs) {
    if (pair.dtype == dtype) return pair.type;
  }
  return std::nullopt;
}

std::optional<Dtype> dtype_of(c10::ScalarType type) {
  for (const auto& pair : kTypePairs) {
    if (pair.type == type) return pair.dtype;
  }
  return std::nullopt;
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : path_(path), mapping_(std::make_shared<const MappedFile>(path)) {
  header_ = parse_header(path_, mapping_->data(), mapping_->size());
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  for (const auto& info : header_.tensors) names.push_back(info.name);
  return names;
}

models::TensorShapes SafetensorsFile::shapes() const {
  models::TensorShapes shapes;
  for (const auto& info : header_.tensors) shapes[info.name] = info.shape;
  return shapes;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const TensorInfo* info = header_.find(name);
  if (!info) throw Error(path_, "no " + tensor_text(name));
  return *info;
}

namespace {

// Copies `shape` elements of `info`'s type starting `offset` bytes into the
// data area, converted to `dtype` on `device`. Reads nothing else.
at::Tensor copy_out(const std::string& path, const std::uint8_t* data_area, const TensorInfo& info, std::uint64_t offset,
                    at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) {
  auto stored = scalar_type_of(info.dtype);
  if (!stored) {
    throw Error(path, tensor_text(info.name) + ": LibTorch has no type for " + dtype_name(info.dtype) +
                          " (load_bytes reads it raw)");
  }
  const auto target = at::TensorOptions().dtype(dtype).device(device);
  if (c10::multiply_integers(shape) == 0) return at::empty(shape, target);

  const std::uint8_t* bytes = data_area + info.begin + offset;
  const auto stored_options = at::TensorOptions().dtype(*stored);
  // from_blob needs element alignment; the reference writer guarantees it,
  // hand-made files (odd header length) may not, so those go through a copy.
  const bool aligned = reinterpret_cast<std::uintptr_t>(bytes) % c10::elementSize(*stored) == 0;
  at::Tensor source;
  if (aligned) {
    source = at::from_blob(const_cast<std::uint8_t*>(bytes), shape, stored_options);
  } else {
    source = at::empty(shape, stored_options);
    std::memcpy(source.data_ptr(), bytes, source.nbytes());
  }
  // copy=aligned: a view of the mapping must never escape. Off the CPU, move
  // the stored type and convert there, so no converted copy is made on the host.
  if (device.is_cpu()) return source.to(dtype, /*non_blocking=*/false, /*copy=*/aligned);
  return source.to(device, *stored, /*non_blocking=*/false, /*copy=*/aligned).to(dtype);
}

}  // namespace

at::Tensor SafetensorsFile::load(const std::string& name, c10::ScalarType dtype, c10::Device device) const {
  const auto& tensor = info(name);
  return copy_out(path_, mapping_->data() + header_.data_start(), tensor, 0, tensor.shape, dtype, device);
}

at::Tensor SafetensorsFile::load(const std::string& name) const {
  const auto& tensor = info(name);
  auto stored = scalar_type_of(tensor.dtype);
  // copy_out names the missing type.
  return load(name, stored.value_or(c10::ScalarType::Byte), c10::kCPU);
}

at::Tensor SafetensorsFile::load_rows(const std::string& name, std::int64_t begin, std::int64_t end,
                                      c10::ScalarType dtype, c10::Device device) const {
  const auto& tensor = info(name);
  if (tensor.shape.empty()) throw Error(path_, tensor_text(name) + " is a scalar and has no rows");
  const std::int64_t rows = tensor.shape[0];
  if (begin < 0 || begin > end || end > rows) {
    throw Error(path_, tensor_text(name) + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                           ") are outside its " + std::to_string(rows) + " rows");
  }
  std::vector<std::int64_t> shape = tensor.shape;
  shape[0] = end - begin;
  const std::uint64_t row_bytes = rows == 0 ? 0 : tensor.nbytes() / static_cast<std::uint64_t>(rows);
  return copy_out(path_, mapping_->data() + header_.data_start(), tensor, static_cast<std::uint64_t>(begin) * row_bytes,
                  shape, dtype, device);
}

at::Tensor SafetensorsFile::load_bytes(const std::string& name, std::uint64_t begin, std::uint64_t end) const {
  const auto& tensor = info(name);
  if (begin > end || end > tensor.nbytes()) {
    throw Error(path_, tensor_text(name) + ": bytes [" + std::to_string(begin) + ", " + std::to_string(end) +
                           ") are outside its " + std::to_string(tensor.nbytes()) + " bytes");
  }
  auto out = at::empty({static_cast<std::int64_t>(end - begin)}, at::TensorOptions().dtype(at::kByte));
  if (end > begin) std::memcpy(out.data_ptr(), mapping_->data() + header_.data_start() + tensor.begin + begin, end - begin);
  return out;
}

}  // namespace epalm::safetensors
