#include "engine/testing/int8_reference.h"

#include <algorithm>
#include <cmath>

#include "engine/calibration/calibrator.h"
#include "engine/runtime/plan.h"
#include "gtest/gtest.h"

namespace octet {
namespace testing {
namespace {

const Node* FindNode(const Graph& graph, const std::string& name) {
  for (const Node& node : graph.nodes()) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

// Relu / LeakyRelu / Clip as the graph fused them, in real units.
double ApplyEltwise(const PostOp& op, double v) {
  if (op.eltwise == EltwiseKind::kClip) return std::clamp<double>(v, op.alpha, op.beta);
  EXPECT_EQ(op.eltwise, EltwiseKind::kRelu) << "test reference lacks this post-op";
  return v >= 0.0 ? v : op.alpha * v;
}

}  // namespace

Geometry ConvGeometry(int64_t n, int64_t c, int64_t hw, int64_t oc, int64_t k, int64_t pad,
                      int64_t stride) {
  Geometry g;
  g.n = n;
  g.c = c;
  g.h = g.w = hw;
  g.oc = oc;
  g.kh = g.kw = k;
  g.pad = g.pad_end = pad;
  g.stride = stride;
  return g;
}

Geometry MatrixGeometry(int64_t m, int64_t k, int64_t n) {
  Geometry g;
  g.n = m;
  g.c = k;
  g.oc = n;
  return g;
}

std::vector<double> WindowSum(const Geometry& g,
                              const std::function<double(int64_t, int64_t)>& term) {
  std::vector<double> out(g.output_size(), 0.0);
  int64_t o = 0;
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t oc = 0; oc < g.oc; ++oc) {
      for (int64_t oy = 0; oy < g.oh(); ++oy) {
        for (int64_t ox = 0; ox < g.ow(); ++ox, ++o) {
          double sum = 0.0;
          const int64_t first_c = oc / (g.oc / g.group) * g.group_c();
          for (int64_t c = 0; c < g.group_c(); ++c) {
            for (int64_t ky = 0; ky < g.kh; ++ky) {
              const int64_t y = oy * g.stride - g.pad + ky;
              if (y < 0 || y >= g.h) continue;
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t x = ox * g.stride - g.pad + kx;
                if (x < 0 || x >= g.w) continue;
                sum += term(((n * g.c + first_c + c) * g.h + y) * g.w + x,
                            ((oc * g.group_c() + c) * g.kh + ky) * g.kw + kx);
              }
            }
          }
          out[o] = sum;
        }
      }
    }
  }
  return out;
}

std::optional<QuantizedLayer> ReadQuantizedLayer(const Model& model, const std::string& name) {
  const Graph& graph = model.graph();
  const Node* node = FindNode(graph, name);
  if (node == nullptr || node->precision != Precision::kInt8) {
    ADD_FAILURE() << "no INT8 node '" << name << "' in the quantized graph";
    return std::nullopt;
  }
  QuantizedLayer q;
  const Tensor& w = graph.constant(node->inputs[1]);
  const Tensor& b = graph.constant(node->inputs[2]);
  EXPECT_EQ(w.dtype(), DataType::kInt8);
  EXPECT_EQ(b.dtype(), DataType::kInt32);
  const bool k_major =
      w.shape().size() == 2 && !(node->op_type == "Gemm" && node->attrs.GetInt("transB", 0) != 0);
  if (k_major) {
    const int64_t k = w.shape()[0];
    const int64_t n = w.shape()[1];
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < k; ++i) q.weights.push_back(w.data<int8_t>()[i * n + j]);
    }
  } else {
    q.weights.assign(w.data<int8_t>(), w.data<int8_t>() + w.num_elements());
  }
  q.weight_scales = node->attrs.GetFloats(kWeightScalesAttr);
  q.bias.assign(b.data<int32_t>(), b.data<int32_t>() + b.num_elements());
  q.input = *graph.value(node->inputs[0]).quant;
  q.output = graph.value(node->outputs[0]).quant;
  q.post_ops = node->post_ops;
  return q;
}

int32_t QuantizeLikeReorder(float x, quant::QuantizationParams p) {
  const float q = std::nearbyint(x * (1.0f / p.scale) + static_cast<float>(p.zero_point));
  return static_cast<int32_t>(std::clamp(q, 0.0f, 255.0f));
}

std::vector<int32_t> QuantizeLikeReorder(const Tensor& t, quant::QuantizationParams p) {
  std::vector<int32_t> q;
  for (float x : t.values<float>()) q.push_back(QuantizeLikeReorder(x, p));
  return q;
}

std::vector<double> Dequantize(const std::vector<int32_t>& q, quant::QuantizationParams p) {
  std::vector<double> r;
  for (int32_t v : q) r.push_back(static_cast<double>(p.scale) * (v - p.zero_point));
  return r;
}

std::vector<int32_t> CodesFromProbe(const Tensor& probe, quant::QuantizationParams p) {
  std::vector<int32_t> q;
  int off_grid = 0;
  for (float x : probe.values<float>()) {
    const double steps = x / static_cast<double>(p.scale);
    const double nearest = std::nearbyint(steps);
    if (std::abs(steps - nearest) > 1e-3) ++off_grid;
    q.push_back(static_cast<int32_t>(nearest) + p.zero_point);
  }
  EXPECT_EQ(off_grid, 0) << "probe values off the u8 grid (scale " << p.scale << ", zero point "
                         << p.zero_point << ")";
  return q;
}

std::vector<double> ToDouble(const Tensor& t) {
  return std::vector<double>(t.values<float>().begin(), t.values<float>().end());
}

std::vector<double> ExactOutput(const Geometry& g, const QuantizedLayer& q,
                                const std::vector<int32_t>& x_q,
                                const std::vector<double>* residual) {
  const std::vector<double> acc = WindowSum(g, [&](int64_t xi, int64_t wi) {
    return static_cast<double>(x_q[xi] - q.input.zero_point) * q.weights[wi];
  });
  std::vector<double> out(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t oc = g.channel_of(static_cast<int64_t>(i));
    double v = static_cast<double>(q.input.scale) * q.weight_scales[oc] * (acc[i] + q.bias[oc]);
    for (const PostOp& op : q.post_ops) {
      v = op.kind == PostOp::Kind::kSum ? v + (*residual)[i] : ApplyEltwise(op, v);
    }
    out[i] = v;
  }
  return out;
}

std::vector<int32_t> ToCodes(const std::vector<double>& v, quant::QuantizationParams p) {
  std::vector<int32_t> q;
  for (double x : v) {
    const double code = std::nearbyint(x / p.scale) + p.zero_point;
    q.push_back(static_cast<int32_t>(std::clamp(code, 0.0, 255.0)));
  }
  return q;
}

std::vector<double> ErrorBound(const Geometry& g, const QuantizedLayer& q,
                               const std::vector<float>& w, const std::vector<double>& v,
                               const std::vector<double>& e) {
  const std::vector<double> bound = WindowSum(g, [&](int64_t xi, int64_t wi) {
    const double s_w = q.weight_scales[wi / (g.group_c() * g.kh * g.kw)];
    return std::abs(w[wi]) * e[xi] + (std::abs(v[xi]) + e[xi]) * s_w / 2;
  });
  const std::vector<double> magnitude = WindowSum(
      g, [&](int64_t xi, int64_t wi) { return std::abs(w[wi]) * (std::abs(v[xi]) + e[xi]); });
  std::vector<double> out(bound.size());
  for (size_t i = 0; i < bound.size(); ++i) {
    const int64_t oc = g.channel_of(static_cast<int64_t>(i));
    out[i] = bound[i] + q.input.scale * q.weight_scales[oc] / 2 + 1e-5 * (magnitude[i] + 1.0);
  }
  return out;
}

Deviation Compare(const std::vector<double>& a, const std::vector<double>& b,
                  const std::vector<double>& tolerance) {
  Deviation d;
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = std::abs(a[i] - b[i]);
    d.max_abs = std::max(d.max_abs, diff);
    d.worst_ratio = std::max(d.worst_ratio, diff / tolerance[i]);
    if (!(diff <= tolerance[i])) ++d.outside;
  }
  return d;
}

StepDeviation CompareCodes(const std::vector<int32_t>& actual,
                           const std::vector<int32_t>& expected) {
  StepDeviation d;
  for (size_t i = 0; i < actual.size(); ++i) {
    const int steps = std::abs(actual[i] - expected[i]);
    d.max_steps = std::max(d.max_steps, steps);
    d.off_by_one += steps == 1;
  }
  return d;
}

std::shared_ptr<const Model> QuantizeForTest(const Model& fp32, const Tensor& inputs,
                                             const PrecisionPlan& plan,
                                             const QuantizationOptions& options) {
  calibration::CalibrationOptions calibration;
  calibration.threads = 1;
  auto table = calibration::Calibrate(fp32, {inputs}, calibration);
  EXPECT_TRUE(table.ok()) << table.status();
  if (!table.ok()) return nullptr;
  auto model = fp32.Quantize(calibration::RangesFromTable(*table), plan, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

std::shared_ptr<const Model> LoadFp32(const OnnxModelBuilder& builder) {
  auto model = Model::FromBytes(builder.Serialize());
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

std::optional<dnnl::memory::data_type> DstTypeOf(const Model& model, const Shape& input_shape,
                                                 const std::string& name) {
  auto plan = model.GetPlan({input_shape}, 1);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (!plan.ok()) return std::nullopt;
  for (const runtime::Step& step : (*plan)->steps) {
    if (step.name != name) continue;
    for (const auto& [arg, slot] : step.args) {
      if (arg == DNNL_ARG_DST) return (*plan)->slots[slot].md.data_type();
    }
  }
  return std::nullopt;
}

bool HasStep(const Model& model, const Shape& input_shape, const std::string& name) {
  auto plan = model.GetPlan({input_shape}, 1);
  if (!plan.ok()) return false;
  for (const runtime::Step& step : (*plan)->steps) {
    if (step.name == name) return true;
  }
  return false;
}

Tensor IdentityWeights(int64_t c, bool conv) {
  Tensor t(DataType::kFloat32, conv ? Shape{c, c, 1, 1} : Shape{c, c});
  for (int64_t i = 0; i < c; ++i) t.data<float>()[i * c + i] = 1.0f;
  return t;
}

std::vector<float> Values(const Tensor& t) {
  return std::vector<float>(t.values<float>().begin(), t.values<float>().end());
}

std::vector<float> Transposed(const Tensor& t) {
  const int64_t k = t.shape()[0];
  const int64_t n = t.shape()[1];
  std::vector<float> out;
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < k; ++i) out.push_back(t.data<float>()[i * n + j]);
  }
  return out;
}

}  // namespace testing
}  // namespace octet
