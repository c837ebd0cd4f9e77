#include "engine/testing/reference_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace octet {
namespace testing {
namespace reference_kernels {
namespace {

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

// The multi-index of element `linear` of a row-major tensor of `shape`.
std::vector<int64_t> Unravel(int64_t linear, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    index[i] = linear % shape[i];
    linear /= shape[i];
  }
  return index;
}

// Linear offset in `shape` of the output multi-index `out_index` (right-aligned, NumPy
// broadcasting: a dimension of 1 always reads index 0).
int64_t BroadcastOffset(const std::vector<int64_t>& out_index, const Shape& shape) {
  const size_t skip = out_index.size() - shape.size();
  const std::vector<int64_t> strides = Strides(shape);
  int64_t offset = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    offset += (shape[i] == 1 ? 0 : out_index[i + skip]) * strides[i];
  }
  return offset;
}

Shape BroadcastShape(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    out[i] = std::max(da, db);
  }
  return out;
}

int64_t PooledSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end,
                   bool ceil_mode) {
  const int64_t span = in + pad_begin + pad_end - kernel;
  return (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
}

enum class PoolKind { kMax, kAverage };

Tensor Pool2D(const Tensor& x, const PoolParams& p, PoolKind kind) {
  const Shape& s = x.shape();
  const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  const int64_t oh =
      PooledSize(h, p.kernel[0], p.strides[0], p.pads_begin[0], p.pads_end[0], p.ceil_mode);
  const int64_t ow =
      PooledSize(w, p.kernel[1], p.strides[1], p.pads_begin[1], p.pads_end[1], p.ceil_mode);
  Tensor y(DataType::kFloat32, {n, c, oh, ow});
  const float* src = x.data<float>();
  float* dst = y.data<float>();
  for (int64_t b = 0; b < n * c; ++b) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t h0 = i * p.strides[0] - p.pads_begin[0];
        const int64_t w0 = j * p.strides[1] - p.pads_begin[1];
        const int64_t h1 = h0 + p.kernel[0];
        const int64_t w1 = w0 + p.kernel[1];
        // The divisor with count_include_pad: the window clipped to the padded input only.
        const int64_t padded_count =
            (std::min(h1, h + p.pads_end[0]) - h0) * (std::min(w1, w + p.pads_end[1]) - w0);
        double sum = 0.0;
        double max = -std::numeric_limits<double>::infinity();
        int64_t count = 0;
        for (int64_t hh = std::max<int64_t>(h0, 0); hh < std::min(h1, h); ++hh) {
          for (int64_t ww = std::max<int64_t>(w0, 0); ww < std::min(w1, w); ++ww) {
            const double v = src[(b * h + hh) * w + ww];
            sum += v;
            max = std::max(max, v);
            ++count;
          }
        }
        double out = max;
        if (kind == PoolKind::kAverage) {
          out = sum / static_cast<double>(p.count_include_pad ? padded_count : count);
        }
        dst[(b * oh + i) * ow + j] = static_cast<float>(out);
      }
    }
  }
  return y;
}

}  // namespace

Tensor Conv2D(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvParams& p) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const int64_t n = xs[0], ic = xs[1], ih = xs[2], iw = xs[3];
  const int64_t oc = ws[0], icg = ws[1], kh = ws[2], kw = ws[3];
  const int64_t ocg = oc / p.group;
  const int64_t oh =
      (ih + p.pads_begin[0] + p.pads_end[0] - ((kh - 1) * p.dilations[0] + 1)) / p.strides[0] + 1;
  const int64_t ow =
      (iw + p.pads_begin[1] + p.pads_end[1] - ((kw - 1) * p.dilations[1] + 1)) / p.strides[1] + 1;
  Tensor y(DataType::kFloat32, {n, oc, oh, ow});
  const float* src = x.data<float>();
  const float* wei = w.data<float>();
  float* dst = y.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < oc; ++o) {
      const int64_t g = o / ocg;
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          double acc = bias != nullptr ? bias->data<float>()[o] : 0.0;
          for (int64_t ci = 0; ci < icg; ++ci) {
            const int64_t channel = g * icg + ci;
            for (int64_t a = 0; a < kh; ++a) {
              const int64_t hh = i * p.strides[0] - p.pads_begin[0] + a * p.dilations[0];
              if (hh < 0 || hh >= ih) continue;
              for (int64_t c = 0; c < kw; ++c) {
                const int64_t ww = j * p.strides[1] - p.pads_begin[1] + c * p.dilations[1];
                if (ww < 0 || ww >= iw) continue;
                acc += static_cast<double>(src[((b * ic + channel) * ih + hh) * iw + ww]) *
                       wei[((o * icg + ci) * kh + a) * kw + c];
              }
            }
          }
          dst[((b * oc + o) * oh + i) * ow + j] = static_cast<float>(acc);
        }
      }
    }
  }
  return y;
}

Tensor Gemm(const Tensor& a, const Tensor& b, const Tensor* c, bool trans_a, bool trans_b,
            float alpha, float beta) {
  const int64_t m = trans_a ? a.shape()[1] : a.shape()[0];
  const int64_t k = trans_a ? a.shape()[0] : a.shape()[1];
  const int64_t n = trans_b ? b.shape()[0] : b.shape()[1];
  Tensor y(DataType::kFloat32, {m, n});
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t l = 0; l < k; ++l) {
        const float av = trans_a ? a.data<float>()[l * m + i] : a.data<float>()[i * k + l];
        const float bv = trans_b ? b.data<float>()[j * k + l] : b.data<float>()[l * n + j];
        acc += static_cast<double>(av) * bv;
      }
      double out = alpha * acc;
      if (c != nullptr) out += beta * c->data<float>()[BroadcastOffset({i, j}, c->shape())];
      y.data<float>()[i * n + j] = static_cast<float>(out);
    }
  }
  return y;
}

Tensor MatMul(const Tensor& a_in, const Tensor& b_in) {
  Shape a = a_in.shape();
  Shape b = b_in.shape();
  const bool a_vector = a.size() == 1;
  const bool b_vector = b.size() == 1;
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  const int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  const Shape batch = BroadcastShape(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  Shape out = batch;
  out.push_back(m);
  out.push_back(n);
  Shape a_batch(a.begin(), a.end() - 2);
  Shape b_batch(b.begin(), b.end() - 2);
  int64_t batches = 1;
  for (int64_t d : batch) batches *= d;
  Tensor y(DataType::kFloat32, out);
  for (int64_t bi = 0; bi < batches; ++bi) {
    const std::vector<int64_t> index = Unravel(bi, batch);
    const float* pa = a_in.data<float>() + BroadcastOffset(index, a_batch) * m * k;
    const float* pb = b_in.data<float>() + BroadcastOffset(index, b_batch) * k * n;
    float* py = y.data<float>() + bi * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (int64_t l = 0; l < k; ++l) acc += static_cast<double>(pa[i * k + l]) * pb[l * n + j];
        py[i * n + j] = static_cast<float>(acc);
      }
    }
  }
  Shape final_shape = batch;
  if (!a_vector) final_shape.push_back(m);
  if (!b_vector) final_shape.push_back(n);
  y.Reshape(final_shape);
  return y;
}

Tensor MaxPool2D(const Tensor& x, const PoolParams& p) { return Pool2D(x, p, PoolKind::kMax); }

Tensor AveragePool2D(const Tensor& x, const PoolParams& p) {
  return Pool2D(x, p, PoolKind::kAverage);
}

Tensor GlobalAveragePool(const Tensor& x) {
  const Shape& s = x.shape();
  const int64_t spatial = s[2] * s[3];
  Tensor y(DataType::kFloat32, {s[0], s[1], 1, 1});
  for (int64_t b = 0; b < s[0] * s[1]; ++b) {
    double sum = 0.0;
    for (int64_t i = 0; i < spatial; ++i) sum += x.data<float>()[b * spatial + i];
    y.data<float>()[b] = static_cast<float>(sum / spatial);
  }
  return y;
}

Tensor Softmax(const Tensor& x, int axis) {
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t len = s[axis];
  Tensor y(DataType::kFloat32, s);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      auto at = [&](int64_t i) { return (o * len + i) * inner + in; };
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < len; ++i) max = std::max<double>(max, x.data<float>()[at(i)]);
      double sum = 0.0;
      for (int64_t i = 0; i < len; ++i) sum += std::exp(x.data<float>()[at(i)] - max);
      for (int64_t i = 0; i < len; ++i) {
        y.data<float>()[at(i)] = static_cast<float>(std::exp(x.data<float>()[at(i)] - max) / sum);
      }
    }
  }
  return y;
}

Tensor SoftmaxCoerced2D(const Tensor& x, int axis) {
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < x.shape().size(); ++i)
    (static_cast<int>(i) < axis ? outer : inner) *= x.shape()[i];
  Tensor flat = x;
  flat.Reshape({outer, inner});
  Tensor y = Softmax(flat, 1);
  y.Reshape(x.shape());
  return y;
}

Tensor Concat(const std::vector<const Tensor*>& inputs, int axis) {
  Shape out = inputs[0]->shape();
  out[axis] = 0;
  for (const Tensor* t : inputs) out[axis] += t->shape()[axis];
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= out[i];
  for (size_t i = axis + 1; i < out.size(); ++i) inner *= out[i];
  Tensor y(DataType::kFloat32, out);
  float* dst = y.data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor* t : inputs) {
      const int64_t block = t->shape()[axis] * inner;
      std::copy_n(t->data<float>() + o * block, block, dst);
      dst += block;
    }
  }
  return y;
}

Tensor Pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode,
           float value) {
  const Shape& in = x.shape();
  const int rank = static_cast<int>(in.size());
  Shape out(rank);
  for (int i = 0; i < rank; ++i) out[i] = in[i] + pads[i] + pads[i + rank];
  const std::vector<int64_t> in_strides = Strides(in);
  Tensor y(DataType::kFloat32, out);
  for (int64_t linear = 0; linear < y.num_elements(); ++linear) {
    const std::vector<int64_t> index = Unravel(linear, out);
    int64_t offset = 0;
    bool inside = true;
    for (int d = 0; d < rank; ++d) {
      int64_t i = index[d] - pads[d];
      if (i < 0 || i >= in[d]) {
        if (mode == "edge") {
          i = std::clamp<int64_t>(i, 0, in[d] - 1);
        } else if (mode == "reflect") {
          i = i < 0 ? -i : 2 * (in[d] - 1) - i;
        } else {
          inside = false;
        }
      }
      offset += i * in_strides[d];
    }
    y.data<float>()[linear] = inside ? x.data<float>()[offset] : value;
  }
  return y;
}

Tensor Transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  const Shape& in = x.shape();
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[perm[i]];
  const std::vector<int64_t> in_strides = Strides(in);
  Tensor y(DataType::kFloat32, out);
  for (int64_t linear = 0; linear < y.num_elements(); ++linear) {
    const std::vector<int64_t> index = Unravel(linear, out);
    int64_t offset = 0;
    for (size_t i = 0; i < in.size(); ++i) offset += index[i] * in_strides[perm[i]];
    y.data<float>()[linear] = x.data<float>()[offset];
  }
  return y;
}

Tensor BatchNorm(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean,
                 const Tensor& var, float epsilon) {
  const Shape& s = x.shape();
  int64_t inner = 1;
  for (size_t i = 2; i < s.size(); ++i) inner *= s[i];
  Tensor y(DataType::kFloat32, s);
  for (int64_t linear = 0; linear < x.num_elements(); ++linear) {
    const int64_t c = (linear / inner) % s[1];
    const double normalized =
        (x.data<float>()[linear] - static_cast<double>(mean.data<float>()[c])) /
        std::sqrt(static_cast<double>(var.data<float>()[c]) + epsilon);
    y.data<float>()[linear] =
        static_cast<float>(normalized * scale.data<float>()[c] + bias.data<float>()[c]);
  }
  return y;
}

Tensor Add(const Tensor& a, const Tensor& b) {
  const Shape out = BroadcastShape(a.shape(), b.shape());
  Tensor y(DataType::kFloat32, out);
  for (int64_t linear = 0; linear < y.num_elements(); ++linear) {
    const std::vector<int64_t> index = Unravel(linear, out);
    y.data<float>()[linear] = a.data<float>()[BroadcastOffset(index, a.shape())] +
                              b.data<float>()[BroadcastOffset(index, b.shape())];
  }
  return y;
}

Tensor Relu(const Tensor& x) { return Clip(x, 0.0f, std::numeric_limits<float>::infinity()); }

Tensor Clip(const Tensor& x, float lo, float hi) {
  Tensor y = x;
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    y.data<float>()[i] = std::min(std::max(y.data<float>()[i], lo), hi);
  }
  return y;
}

}  // namespace reference_kernels

::testing::AssertionResult AllClose(const Tensor& actual, const Tensor& expected,
                                    double tolerance) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << ShapeToString(actual.shape())
                                         << ", expected " << ShapeToString(expected.shape());
  }
  if (actual.dtype() != DataType::kFloat32 || expected.dtype() != DataType::kFloat32) {
    return ::testing::AssertionFailure() << "AllClose compares float32 tensors only";
  }
  int mismatches = 0;
  std::string first;
  double worst = 0.0;
  for (int64_t i = 0; i < actual.num_elements(); ++i) {
    const double a = actual.data<float>()[i];
    const double e = expected.data<float>()[i];
    const double error = std::abs(a - e) / std::max(1.0, std::abs(e));
    if (!(error <= tolerance)) {  // also catches NaN
      if (mismatches++ == 0) first = absl::StrCat("element ", i, ": ", a, " vs expected ", e);
      worst = std::max(worst, error);
    }
  }
  if (mismatches > 0) {
    return ::testing::AssertionFailure()
           << mismatches << " of " << actual.num_elements() << " elements differ by more than "
           << tolerance << " (worst relative error " << worst << "); first " << first;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace testing
}  // namespace octet
