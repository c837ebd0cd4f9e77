// Tensors as the engine's public API sees them: a data type, a shape and row-major bytes.
//
// `Tensor` owns its bytes (64-byte aligned, zero-initialised); `TensorView` borrows bytes
// that the caller keeps alive for the duration of the call it is passed to. Inside the
// runtime, activations live in oneDNN's blocked layouts; tensors at the API boundary are
// always dense and row-major ("plain").
//
//   Tensor t(DataType::kFloat32, {2, 3});
//   t.data<float>()[0] = 1.0f;
//   TensorView v = t.view();
//
// Neither class is synchronised: share a Tensor across threads only for reading.
#ifndef OCTET_ENGINE_TENSOR_H_
#define OCTET_ENGINE_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace octet {

enum class DataType { kFloat32, kUInt8, kInt8, kInt32, kInt64 };

// Bytes per element.
size_t DataTypeSize(DataType dtype);
// "float32", "uint8", ...
std::string DataTypeName(DataType dtype);
absl::StatusOr<DataType> ParseDataType(const std::string& name);

// Dimensions, outermost first. A negative dimension means "not known yet" (a batch dimension
// before the batch size is chosen); only declared model shapes use it.
using Shape = std::vector<int64_t>;

// Product of the dimensions; 1 for a scalar. Fails on negative dims or overflow.
absl::StatusOr<int64_t> NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);

// Borrowed, read-only, row-major tensor bytes.
struct TensorView {
  DataType dtype = DataType::kFloat32;
  Shape shape;
  const void* data = nullptr;

  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data);
  }
};

class Tensor {
 public:
  Tensor() = default;
  // Zero-initialised. `shape` must have non-negative dims.
  Tensor(DataType dtype, Shape shape);
  // Copies `values` (their count must equal the shape's element count).
  template <typename T>
  static Tensor FromVector(DataType dtype, Shape shape, const std::vector<T>& values);
  // Deep copy of a view.
  static Tensor CopyOf(const TensorView& view);

  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t num_elements() const { return num_elements_; }
  size_t byte_size() const { return num_elements_ * DataTypeSize(dtype_); }

  void* raw_data() { return bytes_.get(); }
  const void* raw_data() const { return bytes_.get(); }
  template <typename T>
  T* data() {
    return static_cast<T*>(raw_data());
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(raw_data());
  }
  template <typename T>
  absl::Span<const T> values() const {
    return absl::MakeConstSpan(data<T>(), num_elements_);
  }

  TensorView view() const { return TensorView{dtype_, shape_, raw_data()}; }

  // Same bytes, new shape with the same element count.
  void Reshape(Shape shape);

 private:
  struct FreeDeleter {
    void operator()(void* p) const;
  };

  DataType dtype_ = DataType::kFloat32;
  Shape shape_;
  int64_t num_elements_ = 0;
  std::unique_ptr<void, FreeDeleter> bytes_;
};

template <typename T>
Tensor Tensor::FromVector(DataType dtype, Shape shape, const std::vector<T>& values) {
  Tensor t(dtype, std::move(shape));
  std::copy(values.begin(), values.begin() + std::min<int64_t>(values.size(), t.num_elements()),
            t.data<T>());
  return t;
}

}  // namespace octet

#endif  // OCTET_ENGINE_TENSOR_H_
