#include "engine/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace octet {
namespace {
constexpr size_t kAlignment = 64;  // a cache line and an AVX-512 vector
}  // namespace

size_t DataTypeSize(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
    case DataType::kInt32:
      return 4;
    case DataType::kUInt8:
    case DataType::kInt8:
      return 1;
    case DataType::kInt64:
      return 8;
  }
  return 0;
}

std::string DataTypeName(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
      return "float32";
    case DataType::kUInt8:
      return "uint8";
    case DataType::kInt8:
      return "int8";
    case DataType::kInt32:
      return "int32";
    case DataType::kInt64:
      return "int64";
  }
  return "unknown";
}

absl::StatusOr<DataType> ParseDataType(const std::string& name) {
  for (DataType t : {DataType::kFloat32, DataType::kUInt8, DataType::kInt8, DataType::kInt32,
                     DataType::kInt64}) {
    if (DataTypeName(t) == name) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown data type '", name, "'"));
}

absl::StatusOr<int64_t> NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(shape), " has a negative dimension"));
    }
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(shape), " has too many elements"));
    }
    n *= d;
  }
  return n;
}

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

void Tensor::FreeDeleter::operator()(void* p) const { std::free(p); }

Tensor::Tensor(DataType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  num_elements_ = 1;
  for (int64_t d : shape_) num_elements_ *= d;
  size_t bytes = byte_size();
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  bytes_.reset(std::aligned_alloc(kAlignment, rounded));
  std::memset(bytes_.get(), 0, rounded);
}

Tensor Tensor::CopyOf(const TensorView& view) {
  Tensor t(view.dtype, view.shape);
  if (t.byte_size() > 0) std::memcpy(t.raw_data(), view.data, t.byte_size());
  return t;
}

Tensor::Tensor(const Tensor& other) {
  if (other.bytes_ != nullptr) *this = CopyOf(other.view());
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this == &other) return *this;
  *this = other.bytes_ != nullptr ? CopyOf(other.view()) : Tensor();
  return *this;
}

void Tensor::Reshape(Shape shape) { shape_ = std::move(shape); }

}  // namespace octet
