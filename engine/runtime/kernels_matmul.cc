// Gemm and MatMul on oneDNN's matmul primitive.
//
// Transposes are expressed as strides of the memory descriptors, never copied. Constant
// weights are packed once (format "any"). Gemm computes alpha * A' * B' + beta * C:
//   - alpha is folded into constant weights, or becomes an output scale for runtime weights;
//   - beta * C is a bias when C is a constant row vector, otherwise a binary-add post-op,
//     placed before the fused activations. The binary post-op cannot scale its operand, so a
//     runtime C with beta != 1 is added as beta * ((alpha / beta) * A' * B' + C): an output
//     scale of 1 / beta and a linear eltwise post-op of beta after the add. beta = 0 drops C.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/runtime/kernels.h"
#include "engine/shape_functions.h"

namespace octet {
namespace runtime {
namespace {

using dnnl::memory;

memory::dims RowMajorStrides(const memory::dims& dims) {
  memory::dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * dims[i + 1];
  }
  return strides;
}

Tensor Scaled(const Tensor& t, float factor) {
  Tensor out = t;
  for (int64_t i = 0; i < out.num_elements(); ++i) out.data<float>()[i] *= factor;
  return out;
}

struct MatMulGeometry {
  memory::desc src_view;      // A's plain bytes seen as [..., M, K]
  memory::desc weights_view;  // B's plain bytes seen as [..., K, N]
  memory::dims dst_dims;      // [..., M, N]
};

MatMulGeometry GemmGeometry(const Node& node, const Shape& a, const Shape& w) {
  const bool trans_a = node.attrs.GetInt("transA", 0) != 0;
  const bool trans_b = node.attrs.GetInt("transB", 0) != 0;
  const int64_t m = trans_a ? a[1] : a[0];
  const int64_t k = trans_a ? a[0] : a[1];
  const int64_t n = trans_b ? w[0] : w[1];
  const auto f32 = memory::data_type::f32;
  return MatMulGeometry{
      memory::desc({m, k}, f32, trans_a ? memory::dims{1, m} : memory::dims{k, 1}),
      memory::desc({k, n}, f32, trans_b ? memory::dims{1, k} : memory::dims{n, 1}),
      {m, n}};
}

absl::StatusOr<MatMulGeometry> BatchedGeometry(const Shape& a_shape, const Shape& w_shape) {
  memory::dims a = a_shape;
  memory::dims w = w_shape;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (w.size() == 1) w.push_back(1);
  const size_t rank = std::max(a.size(), w.size());
  a.insert(a.begin(), rank - a.size(), 1);
  w.insert(w.begin(), rank - w.size(), 1);
  memory::dims dst(rank);
  for (size_t i = 0; i + 2 < rank; ++i) dst[i] = std::max(a[i], w[i]);
  dst[rank - 2] = a[rank - 2];
  dst[rank - 1] = w[rank - 1];
  const auto f32 = memory::data_type::f32;
  return MatMulGeometry{memory::desc(a, f32, RowMajorStrides(a)),
                        memory::desc(w, f32, RowMajorStrides(w)), dst};
}

// A slot with v's plain bytes described by `view`.
absl::StatusOr<int> PlainView(PlanBuilder& b, ValueId v, const memory::desc& view) {
  OCTET_ASSIGN_OR_RETURN(int plain, b.EnsurePlain(v));
  return b.md(plain) == view ? plain : b.ViewSlot(plain, view);
}

}  // namespace

absl::Status BuildMatMul(PlanBuilder& b, const Node& node) {
  const bool gemm = node.op_type == "Gemm";
  const ValueId a = node.inputs[0];
  const ValueId w = node.inputs[1];
  ValueId c = gemm && node.inputs.size() > 2 ? node.inputs[2] : kNoValue;
  const ValueId y = node.outputs[0];
  const Graph& graph = b.graph();
  MatMulGeometry geometry;
  if (gemm) {
    geometry = GemmGeometry(node, b.shape(a), b.shape(w));
  } else {
    OCTET_ASSIGN_OR_RETURN(geometry, BatchedGeometry(b.shape(a), b.shape(w)));
  }
  const auto f32 = memory::data_type::f32;
  const size_t rank = geometry.dst_dims.size();
  const int64_t n = geometry.dst_dims[rank - 1];
  const float alpha = gemm ? node.attrs.GetFloat("alpha", 1.0f) : 1.0f;
  const float beta = gemm ? node.attrs.GetFloat("beta", 1.0f) : 1.0f;
  const bool constant_weights = graph.IsConstant(w);
  if (beta == 0.0f) c = kNoValue;

  // beta * C: a bias when it is a constant that varies along N only.
  bool c_as_bias = false;
  if (c != kNoValue && graph.IsConstant(c)) {
    const Shape& cs = b.shape(c);
    const int64_t count = graph.constant(c).num_elements();
    c_as_bias = count == 1 || (count == n && cs.back() == n);
  }
  const bool rescale_runtime_c = c != kNoValue && !graph.IsConstant(c) && beta != 1.0f;
  if (c_as_bias && alpha != 1.0f && !constant_weights) {
    c_as_bias = false;  // the bias would be scaled by alpha's output scale; add C after it
  }

  dnnl::primitive_attr attr = BaseAttr();
  float output_scale = constant_weights ? 1.0f : alpha;  // alpha is folded into constant weights
  if (rescale_runtime_c) output_scale /= beta;
  if (output_scale != 1.0f) attr.set_output_scales(0, {output_scale});
  dnnl::post_ops ops;
  memory::desc c_view;
  if (c != kNoValue && !c_as_bias) {
    memory::dims c_dims = b.shape(c);
    c_dims.insert(c_dims.begin(), rank - c_dims.size(), 1);
    c_view = memory::desc(c_dims, f32, RowMajorStrides(c_dims));
    ops.append_binary(dnnl::algorithm::binary_add, c_view);
    if (rescale_runtime_c) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, beta, 0.0f);
  }
  for (const PostOp& op : node.post_ops) AppendEltwise(ops, op);
  attr.set_post_ops(ops);

  memory::dims bias_dims(rank, 1);
  bias_dims[rank - 1] = n;
  const memory::desc bias_md = c_as_bias ? PlainMd(bias_dims, f32) : memory::desc();
  const memory::desc weights_md =
      constant_weights ? memory::desc(geometry.weights_view.dims(), f32, memory::format_tag::any)
                       : geometry.weights_view;
  const memory::desc dst_md(geometry.dst_dims, f32, memory::format_tag::any);
  dnnl::matmul::primitive_desc pd(
      dnnl::matmul::desc(geometry.src_view, weights_md, bias_md, dst_md), attr, CpuEngine());

  OCTET_ASSIGN_OR_RETURN(int src, PlainView(b, a, geometry.src_view));
  int weights = -1;
  if (!constant_weights) {
    OCTET_ASSIGN_OR_RETURN(weights, PlainView(b, w, geometry.weights_view));
  } else if (alpha == 1.0f) {
    OCTET_ASSIGN_OR_RETURN(weights, b.EnsureLayout(w, pd.weights_desc(), &geometry.weights_view));
  } else {
    OCTET_ASSIGN_OR_RETURN(weights,
                           b.AddDerivedConstant(Scaled(graph.constant(w), alpha), pd.weights_desc(),
                                                &geometry.weights_view));
  }
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}};
  if (c_as_bias) {
    const Tensor& ct = graph.constant(c);
    Tensor bias(DataType::kFloat32, bias_dims);
    for (int64_t i = 0; i < n; ++i) {
      bias.data<float>()[i] = beta * ct.data<float>()[ct.num_elements() == 1 ? 0 : i];
    }
    OCTET_ASSIGN_OR_RETURN(int bias_slot, b.AddDerivedConstant(std::move(bias), pd.bias_desc()));
    args.push_back({DNNL_ARG_BIAS, bias_slot});
  } else if (c != kNoValue) {
    int c_slot = -1;
    if (beta != 1.0f && !rescale_runtime_c) {
      OCTET_ASSIGN_OR_RETURN(
          c_slot, b.AddDerivedConstant(Scaled(graph.constant(c), beta), c_view, &c_view));
    } else {
      OCTET_ASSIGN_OR_RETURN(c_slot, PlainView(b, c, c_view));
    }
    args.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, c_slot});
  }
  int dst = b.NewArenaSlot(pd.dst_desc());
  args.push_back({DNNL_ARG_DST, dst});
  b.AddPrimitive(node.name, dnnl::matmul(pd), std::move(args), true,
                 pd.scratchpad_desc().get_size());
  if (geometry.dst_dims != b.shape(y)) {  // vector operands: drop the unit dims
    if (!IsPlain(pd.dst_desc())) {
      const int plain = b.NewArenaSlot(PlainMd(geometry.dst_dims, f32));
      OCTET_RETURN_IF_ERROR(b.AddReorder(node.name + " plain", dst, plain));
      dst = plain;
    }
    dst = b.ViewSlot(dst, PlainMd(b.shape(y)));
  }
  b.Bind(y, dst);
  return absl::OkStatus();
}

}  // namespace runtime
}  // namespace octet
