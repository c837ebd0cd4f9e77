#include "engine/reference_ops.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/shape_functions.h"

namespace octet {
namespace reference {
namespace {

std::vector<int64_t> RowMajorStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

// Calls fn(linear output index, per-input linear indices) over every output element.
template <typename Fn>
void ForEachIndex(const Shape& out, const std::vector<std::vector<int64_t>>& in_strides, Fn fn) {
  const int rank = static_cast<int>(out.size());
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  std::vector<int64_t> idx(rank, 0);
  std::vector<int64_t> offsets(in_strides.size(), 0);
  for (int64_t linear = 0; linear < total; ++linear) {
    fn(linear, offsets);
    for (int d = rank - 1; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < in_strides.size(); ++k) offsets[k] += in_strides[k][d];
      if (idx[d] < out[d]) break;
      for (size_t k = 0; k < in_strides.size(); ++k) offsets[k] -= in_strides[k][d] * out[d];
      idx[d] = 0;
    }
  }
}

// Strides of `shape` seen through broadcasting to `out` (0 on broadcast axes).
std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  std::vector<int64_t> own = RowMajorStrides(shape);
  const size_t offset = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    strides[i + offset] = shape[i] == 1 ? 0 : own[i];
  }
  return strides;
}

template <typename T>
T Apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::kAdd:
      return a + b;
    case BinaryOp::kSub:
      return a - b;
    case BinaryOp::kMul:
      return a * b;
    case BinaryOp::kDiv:
      return b == T(0) && std::is_integral_v<T> ? T(0) : a / b;
  }
  return a;
}

template <typename T>
Tensor BinaryTyped(BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor out(a.dtype(), out_shape);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  ForEachIndex(out_shape,
               {BroadcastStrides(a.shape(), out_shape), BroadcastStrides(b.shape(), out_shape)},
               [&](int64_t i, const std::vector<int64_t>& off) {
                 po[i] = Apply<T>(op, pa[off[0]], pb[off[1]]);
               });
  return out;
}

}  // namespace

Tensor Transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  const Shape& in = x.shape();
  Shape out_shape(in.size());
  std::vector<int64_t> in_strides = RowMajorStrides(in);
  std::vector<int64_t> gather(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    out_shape[i] = in[perm[i]];
    gather[i] = in_strides[perm[i]];
  }
  Tensor out(x.dtype(), out_shape);
  const size_t elem = DataTypeSize(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  ForEachIndex(out_shape, {gather}, [&](int64_t i, const std::vector<int64_t>& off) {
    std::memcpy(dst + i * elem, src + off[0] * elem, elem);
  });
  return out;
}

absl::StatusOr<Tensor> Binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) {
    return absl::InvalidArgumentError("operands have different element types");
  }
  OCTET_ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(a.shape(), b.shape()));
  switch (a.dtype()) {
    case DataType::kFloat32:
      return BinaryTyped<float>(op, a, b, out_shape);
    case DataType::kInt64:
      return BinaryTyped<int64_t>(op, a, b, out_shape);
    default:
      return absl::UnimplementedError(
          absl::StrCat("constant arithmetic on ", DataTypeName(a.dtype())));
  }
}

}  // namespace reference
}  // namespace octet
