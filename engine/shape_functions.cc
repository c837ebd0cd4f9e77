#include "engine/shape_functions.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "engine/window_geometry.h"

namespace octet {

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError(absl::StrCat("shapes ", ShapeToString(a), " and ",
                                                     ShapeToString(b), " do not broadcast"));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= std::max(rank, 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("axis ", axis, " is out of range for rank ", rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

std::vector<int64_t> ToInt64Vector(const Tensor& t) {
  std::vector<int64_t> out(t.num_elements());
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    switch (t.dtype()) {
      case DataType::kInt64:
        out[i] = t.data<int64_t>()[i];
        break;
      case DataType::kInt32:
        out[i] = t.data<int32_t>()[i];
        break;
      case DataType::kFloat32:
        out[i] = static_cast<int64_t>(t.data<float>()[i]);
        break;
      case DataType::kUInt8:
        out[i] = t.data<uint8_t>()[i];
        break;
      case DataType::kInt8:
        out[i] = t.data<int8_t>()[i];
        break;
    }
  }
  return out;
}

absl::StatusOr<Shape> ReshapeTarget(const Shape& input, const std::vector<int64_t>& target,
                                    bool allow_zero) {
  OCTET_ASSIGN_OR_RETURN(int64_t total, NumElements(input));
  Shape out(target.size());
  int infer_axis = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == -1) {
      if (infer_axis >= 0) return absl::InvalidArgumentError("more than one -1 in the shape");
      infer_axis = static_cast<int>(i);
      continue;
    }
    if (d == 0 && !allow_zero) {
      if (i >= input.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("0 at position ", i, " copies an input dimension that does not exist"));
      }
      d = input[i];
    }
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat("invalid dimension ", d));
    // A target whose product overflows cannot match the input's (representable) element count.
    if (d != 0 && known > std::numeric_limits<int64_t>::max() / d) {
      return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", ShapeToString(input),
                                                     " to [", absl::StrJoin(target, ","),
                                                     "]: too many elements"));
    }
    out[i] = d;
    known *= d;
  }
  if (infer_axis >= 0) {
    if (known == 0 || total % known != 0) {
      return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", ShapeToString(input),
                                                     " to [", absl::StrJoin(target, ","), "]"));
    }
    out[infer_axis] = total / known;
    known *= out[infer_axis];
  }
  if (known != total) {
    return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", ShapeToString(input), " (",
                                                   total, " elements) to ", ShapeToString(out),
                                                   " (", known, " elements)"));
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> AxesOf(const Graph& graph, const Node& node) {
  if (node.attrs.Has("axes")) return node.attrs.GetInts("axes");
  if (node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
    if (!graph.IsConstant(node.inputs[1])) {
      return absl::UnimplementedError("axes must be a constant");
    }
    return ToInt64Vector(graph.constant(node.inputs[1]));
  }
  return std::vector<int64_t>{};
}

absl::StatusOr<std::vector<int64_t>> PadAmounts(const Graph& graph, const Node& node, int rank) {
  std::vector<int64_t> pads;
  if (node.attrs.Has("pads")) {
    pads = node.attrs.GetInts("pads");
  } else if (node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
    if (!graph.IsConstant(node.inputs[1])) {
      return absl::UnimplementedError("pads must be a constant");
    }
    pads = ToInt64Vector(graph.constant(node.inputs[1]));
  }
  if (pads.size() != static_cast<size_t>(2 * rank)) {
    return absl::InvalidArgumentError(
        absl::StrCat("pads has ", pads.size(), " entries, expected ", 2 * rank));
  }
  return pads;
}

namespace shape_fn {
namespace {

absl::Status RequireRank(const Shape& s, size_t min_rank, const char* what) {
  if (s.size() < min_rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has shape ", ShapeToString(s), ", expected rank >= ", min_rank));
  }
  return absl::OkStatus();
}

void SetOutput(ShapeContext& ctx, Shape shape, DataType type) {
  ctx.outputs.assign(1, std::move(shape));
  ctx.output_types.assign(1, type);
}

}  // namespace

absl::Status SameAsInput(ShapeContext& ctx) {
  SetOutput(ctx, ctx.inputs[0], ctx.input_type(0));
  return absl::OkStatus();
}

namespace {

// Before opset 7, B broadcasts to A only with broadcast=1, its dims aligned with A's starting
// at `axis` (by default, with A's trailing dims). The runtime implements NumPy broadcasting,
// which agrees for the trailing alignment, the form converters emitted; other alignments are
// refused. From opset 7 the attributes do not exist.
absl::Status CheckLegacyBroadcast(const ShapeContext& ctx) {
  const Attributes& attrs = ctx.node.attrs;
  if (ctx.graph.opset() >= 7) {
    if (attrs.Has("broadcast") || attrs.Has("axis")) {
      return absl::InvalidArgumentError("attributes broadcast and axis exist only before opset 7");
    }
    return absl::OkStatus();
  }
  const Shape& a = ctx.inputs[0];
  const Shape& b = ctx.inputs[1];
  if (attrs.GetInt("broadcast", 0) == 0) {
    if (a != b) {
      return absl::InvalidArgumentError(absl::StrCat("shapes ", ShapeToString(a), " and ",
                                                     ShapeToString(b),
                                                     " differ and broadcast is not set"));
    }
    return absl::OkStatus();
  }
  const int rank = static_cast<int>(a.size());
  if (attrs.Has("axis")) {
    OCTET_ASSIGN_OR_RETURN(int axis, NormalizeAxis(attrs.GetInt("axis", 0), rank));
    if (axis + static_cast<int>(b.size()) != rank) {
      return absl::UnimplementedError(absl::StrCat("legacy broadcast of ", ShapeToString(b),
                                                   " at axis ", axis, " of ", ShapeToString(a),
                                                   " is supported only onto the trailing dims"));
    }
  }
  // Broadcasting was unidirectional: the result has A's shape.
  auto out = BroadcastShapes(a, b);
  if (!out.ok() || *out != a) {
    return absl::InvalidArgumentError(
        absl::StrCat("B ", ShapeToString(b), " does not broadcast to A ", ShapeToString(a)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Broadcast(ShapeContext& ctx) {
  OCTET_RETURN_IF_ERROR(CheckLegacyBroadcast(ctx));
  if (ctx.input_type(0) != ctx.input_type(1)) {
    return absl::InvalidArgumentError(absl::StrCat("operands have different types (",
                                                   DataTypeName(ctx.input_type(0)), ", ",
                                                   DataTypeName(ctx.input_type(1)), ")"));
  }
  OCTET_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(ctx.inputs[0], ctx.inputs[1]));
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

namespace {

// The output shape of a convolution of x by w (Conv and QLinearConv), checking the bias shape
// when there is one.
absl::StatusOr<Shape> ConvOutputShape(const Node& node, const Shape& x, const Shape& w,
                                      const Shape* bias) {
  OCTET_RETURN_IF_ERROR(RequireRank(x, 3, "input X"));
  if (w.size() != x.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("weights have shape ", ShapeToString(w), ", expected rank ", x.size()));
  }
  const int64_t group = node.attrs.GetInt("group", 1);
  if (group < 1 || x[1] % group != 0 || w[0] % group != 0) {
    return absl::InvalidArgumentError(absl::StrCat("group ", group, " does not divide ", x[1],
                                                   " input channels and ", w[0],
                                                   " output channels"));
  }
  if (w[1] * group != x[1]) {
    return absl::InvalidArgumentError(absl::StrCat("input has ", x[1], " channels but weights ",
                                                   ShapeToString(w), " with group ", group,
                                                   " expect ", w[1] * group));
  }
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (node.attrs.Has("kernel_shape") && node.attrs.GetInts("kernel_shape") != kernel) {
    return absl::InvalidArgumentError("kernel_shape disagrees with the weights' shape");
  }
  if (bias != nullptr && (bias->size() != 1 || (*bias)[0] != w[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat("bias has shape ", ShapeToString(*bias), ", expected [", w[0], "]"));
  }
  OCTET_ASSIGN_OR_RETURN(WindowGeometry g,
                         ResolveWindow(node, std::vector<int64_t>(x.begin() + 2, x.end()), kernel));
  Shape out = {x[0], w[0]};
  out.insert(out.end(), g.output.begin(), g.output.end());
  return out;
}

// numpy.matmul's output shape (MatMul and QLinearMatMul).
absl::StatusOr<Shape> MatMulOutputShape(Shape a, Shape b) {
  if (a.empty() || b.empty()) return absl::InvalidArgumentError("operands must not be scalars");
  const Shape a_declared = a;
  const Shape b_declared = b;
  const bool a_vector = a.size() == 1;
  const bool b_vector = b.size() == 1;
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  if (a[a.size() - 1] != b[b.size() - 2]) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inner dimensions differ: ", ShapeToString(a_declared), " x ", ShapeToString(b_declared)));
  }
  OCTET_ASSIGN_OR_RETURN(
      Shape batch, BroadcastShapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2)));
  Shape out = batch;
  if (!a_vector) out.push_back(a[a.size() - 2]);
  if (!b_vector) out.push_back(b.back());
  return out;
}

}  // namespace

absl::Status Conv(ShapeContext& ctx) {
  OCTET_ASSIGN_OR_RETURN(Shape out, ConvOutputShape(ctx.node, ctx.inputs[0], ctx.inputs[1],
                                                    ctx.HasInput(2) ? &ctx.inputs[2] : nullptr));
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Pool(ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  OCTET_RETURN_IF_ERROR(RequireRank(x, 3, "input X"));
  if (!ctx.node.attrs.Has("kernel_shape")) {
    return absl::InvalidArgumentError("kernel_shape is required");
  }
  if (ctx.node.attrs.GetInt("storage_order", 0) != 0) {
    return absl::UnimplementedError("storage_order=1 (column major) is not supported");
  }
  OCTET_ASSIGN_OR_RETURN(WindowGeometry g,
                         ResolveWindow(ctx.node, std::vector<int64_t>(x.begin() + 2, x.end()),
                                       ctx.node.attrs.GetInts("kernel_shape")));
  Shape out = {x[0], x[1]};
  out.insert(out.end(), g.output.begin(), g.output.end());
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status GlobalPool(ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  OCTET_RETURN_IF_ERROR(RequireRank(x, 3, "input X"));
  Shape out = x;
  std::fill(out.begin() + 2, out.end(), 1);
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Gemm(ShapeContext& ctx) {
  const Shape& a = ctx.inputs[0];
  const Shape& b = ctx.inputs[1];
  if (a.size() != 2 || b.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("A ", ShapeToString(a), " and B ", ShapeToString(b), " must be 2-D"));
  }
  const bool trans_a = ctx.node.attrs.GetInt("transA", 0) != 0;
  const bool trans_b = ctx.node.attrs.GetInt("transB", 0) != 0;
  const int64_t m = trans_a ? a[1] : a[0];
  const int64_t k = trans_a ? a[0] : a[1];
  const int64_t kb = trans_b ? b[1] : b[0];
  const int64_t n = trans_b ? b[0] : b[1];
  if (k != kb) {
    return absl::InvalidArgumentError(
        absl::StrCat("inner dimensions differ: A ", ShapeToString(a), ", B ", ShapeToString(b),
                     trans_a ? " (transA)" : "", trans_b ? " (transB)" : ""));
  }
  if (ctx.HasInput(2)) {
    OCTET_ASSIGN_OR_RETURN(Shape c, BroadcastShapes(ctx.inputs[2], {m, n}));
    if (c != Shape{m, n}) {
      return absl::InvalidArgumentError(absl::StrCat("C ", ShapeToString(ctx.inputs[2]),
                                                     " does not broadcast to [", m, ",", n, "]"));
    }
  }
  SetOutput(ctx, {m, n}, ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status MatMul(ShapeContext& ctx) {
  OCTET_ASSIGN_OR_RETURN(Shape out, MatMulOutputShape(ctx.inputs[0], ctx.inputs[1]));
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status BatchNorm(ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  OCTET_RETURN_IF_ERROR(RequireRank(x, 2, "input X"));
  if (ctx.node.attrs.GetInt("training_mode", 0) != 0) {
    return absl::UnimplementedError("training_mode=1 is not supported (inference only)");
  }
  // Before opset 7, is_test=0 (the default) normalised with the batch's own statistics.
  if (ctx.graph.opset() < 7 && ctx.node.attrs.GetInt("is_test", 0) == 0) {
    return absl::UnimplementedError("is_test=0 (training mode) is not supported (inference only)");
  }
  if (ctx.node.attrs.GetInt("spatial", 1) != 1) {
    return absl::UnimplementedError("spatial=0 is not supported");
  }
  for (size_t i = 1; i < 5; ++i) {
    if (ctx.inputs[i] != Shape{x[1]}) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", i, " has shape ", ShapeToString(ctx.inputs[i]), ", expected [", x[1], "]"));
    }
  }
  if (ctx.node.outputs.size() > 1) {
    for (size_t i = 1; i < ctx.node.outputs.size(); ++i) {
      if (ctx.node.outputs[i] != kNoValue) {
        return absl::UnimplementedError("running mean/variance outputs are training only");
      }
    }
  }
  ctx.outputs.assign(ctx.node.outputs.size(), Shape{});
  ctx.output_types.assign(ctx.node.outputs.size(), ctx.input_type(0));
  ctx.outputs[0] = x;
  return absl::OkStatus();
}

absl::Status Clip(ShapeContext& ctx) {
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.HasInput(i)) continue;
    if (ctx.ConstantInput(i) == nullptr) {
      return absl::UnimplementedError("min and max must be constants");
    }
    if (ctx.ConstantInput(i)->num_elements() != 1) {
      return absl::InvalidArgumentError("min and max must be scalars");
    }
  }
  return SameAsInput(ctx);
}

absl::Status Flatten(ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  const int rank = static_cast<int>(x.size());
  int64_t axis = ctx.node.attrs.GetInt("axis", 1);
  if (axis < -rank || axis > rank) {
    return absl::InvalidArgumentError(absl::StrCat("axis ", axis, " out of range for rank ", rank));
  }
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < rank; ++i) (i < axis ? outer : inner) *= x[i];
  SetOutput(ctx, {outer, inner}, ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Reshape(ShapeContext& ctx) {
  const Tensor* target = ctx.ConstantInput(1);
  if (target == nullptr) {
    return absl::UnimplementedError("the target shape must be a constant");
  }
  OCTET_ASSIGN_OR_RETURN(Shape out, ReshapeTarget(ctx.inputs[0], ToInt64Vector(*target),
                                                  ctx.node.attrs.GetInt("allowzero", 0) != 0));
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Squeeze(ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  const int rank = static_cast<int>(x.size());
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> axes, AxesOf(ctx.graph, ctx.node));
  std::vector<bool> drop(rank, false);
  if (axes.empty()) {
    for (int i = 0; i < rank; ++i) drop[i] = x[i] == 1;
  }
  for (int64_t a : axes) {
    OCTET_ASSIGN_OR_RETURN(int axis, NormalizeAxis(a, rank));
    if (x[axis] != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot squeeze axis ", axis, " of ", ShapeToString(x)));
    }
    drop[axis] = true;
  }
  Shape out;
  for (int i = 0; i < rank; ++i) {
    if (!drop[i]) out.push_back(x[i]);
  }
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Unsqueeze(ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> axes, AxesOf(ctx.graph, ctx.node));
  const int out_rank = static_cast<int>(x.size() + axes.size());
  std::vector<bool> inserted(out_rank, false);
  for (int64_t a : axes) {
    OCTET_ASSIGN_OR_RETURN(int axis, NormalizeAxis(a, out_rank));
    if (inserted[axis]) return absl::InvalidArgumentError("repeated axis");
    inserted[axis] = true;
  }
  Shape out;
  size_t next = 0;
  for (int i = 0; i < out_rank; ++i) out.push_back(inserted[i] ? 1 : x[next++]);
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Transpose(ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  const int rank = static_cast<int>(x.size());
  std::vector<int64_t> perm = ctx.node.attrs.GetInts("perm");
  if (perm.empty()) {
    for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(rank);
  std::iota(iota.begin(), iota.end(), 0);
  if (sorted != iota) {
    return absl::InvalidArgumentError(
        absl::StrCat("perm [", absl::StrJoin(perm, ","), "] is not a permutation of rank ", rank));
  }
  Shape out(rank);
  for (int i = 0; i < rank; ++i) out[i] = x[perm[i]];
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Concat(ShapeContext& ctx) {
  const Shape& first = ctx.inputs[0];
  const int rank = static_cast<int>(first.size());
  OCTET_ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx.node.attrs.GetInt("axis", 0), rank));
  Shape out = first;
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    const Shape& s = ctx.inputs[i];
    bool ok = static_cast<int>(s.size()) == rank && ctx.input_type(i) == ctx.input_type(0);
    for (int d = 0; ok && d < rank; ++d) ok = d == axis || s[d] == first[d];
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat("input ", i, " ", ShapeToString(s),
                                                     " does not match input 0 ",
                                                     ShapeToString(first), " off axis ", axis));
    }
    out[axis] += s[axis];
  }
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Softmax(ShapeContext& ctx) {
  const int rank = static_cast<int>(ctx.inputs[0].size());
  const int64_t default_axis = ctx.graph.opset() >= 13 ? -1 : 1;
  OCTET_RETURN_IF_ERROR(NormalizeAxis(ctx.node.attrs.GetInt("axis", default_axis), rank).status());
  return SameAsInput(ctx);
}

absl::Status Pad(ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  const int rank = static_cast<int>(x.size());
  const std::string mode = ctx.node.attrs.GetString("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    return absl::UnimplementedError(absl::StrCat("mode '", mode, "' is not supported"));
  }
  if (ctx.HasInput(2) && ctx.ConstantInput(2) == nullptr) {
    return absl::UnimplementedError("constant_value must be a constant");
  }
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> pads, PadAmounts(ctx.graph, ctx.node, rank));
  Shape out(rank);
  for (int i = 0; i < rank; ++i) {
    out[i] = x[i] + pads[i] + pads[i + rank];
    if (out[i] < 0 || (mode != "constant" && (pads[i] < 0 || pads[i + rank] < 0))) {
      return absl::InvalidArgumentError(
          absl::StrCat("pads [", absl::StrJoin(pads, ","), "] are invalid for ", ShapeToString(x)));
    }
    if (mode == "reflect" && (pads[i] >= x[i] || pads[i + rank] >= x[i]) &&
        (pads[i] > 0 || pads[i + rank] > 0)) {
      return absl::InvalidArgumentError("reflect pads must be smaller than the dimension");
    }
  }
  SetOutput(ctx, std::move(out), ctx.input_type(0));
  return absl::OkStatus();
}

absl::Status Dropout(ShapeContext& ctx) {
  if (ctx.node.outputs.size() > 1 && ctx.node.outputs[1] != kNoValue) {
    return absl::UnimplementedError("the mask output is not supported");
  }
  // Before opset 7, is_test=0 (the default) meant training mode.
  if (ctx.graph.opset() < 7 && ctx.node.attrs.GetInt("is_test", 0) == 0) {
    return absl::UnimplementedError("is_test=0 (training mode) is not supported");
  }
  if (const Tensor* training = ctx.ConstantInput(2);
      training != nullptr && ToInt64Vector(*training)[0] != 0) {
    return absl::UnimplementedError("training_mode=true is not supported");
  }
  OCTET_RETURN_IF_ERROR(SameAsInput(ctx));
  ctx.outputs.resize(ctx.node.outputs.size());
  ctx.output_types.resize(ctx.node.outputs.size(), ctx.input_type(0));
  return absl::OkStatus();
}

namespace {

bool IsQuantizedType(DataType type) { return type == DataType::kUInt8 || type == DataType::kInt8; }

absl::Status CheckInputType(const ShapeContext& ctx, size_t i, const char* what, bool ok,
                            const char* expected) {
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has type ", DataTypeName(ctx.input_type(i)), ", expected ", expected));
  }
  return absl::OkStatus();
}

// A scale or zero point: one element (per tensor), or one per index along an axis of length
// `channels` (when channels >= 0).
absl::Status CheckQuantParamShape(const ShapeContext& ctx, size_t i, int64_t channels,
                                  const char* what) {
  if (!ctx.HasInput(i)) return absl::OkStatus();
  const Shape& s = ctx.inputs[i];
  if (s.size() <= 1 && (s.empty() || s[0] == 1)) return absl::OkStatus();
  if (channels >= 0 && s.size() == 1 && s[0] == channels) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has shape ", ShapeToString(s), ", expected a single value",
                   channels >= 0 ? absl::StrCat(" or [", channels, "]") : ""));
}

// QuantizeLinear / DequantizeLinear: x, scale, optional zero point (the same shape as the scale).
// A scale of more than one element quantizes per slice along `axis` (opset 13).
absl::Status CheckLinearQuantization(const ShapeContext& ctx) {
  const Shape& x = ctx.inputs[0];
  const Attributes& attrs = ctx.node.attrs;
  if (ctx.graph.opset() < 13 && attrs.Has("axis")) {
    return absl::InvalidArgumentError("attribute axis exists from opset 13");
  }
  OCTET_RETURN_IF_ERROR(
      CheckInputType(ctx, 1, "the scale", ctx.input_type(1) == DataType::kFloat32, "float32"));
  int64_t channels = -1;
  const Shape& scale = ctx.inputs[1];
  const bool per_axis = scale.size() == 1 && scale[0] != 1;  // axis is ignored otherwise
  if (ctx.graph.opset() >= 13 && per_axis) {
    OCTET_ASSIGN_OR_RETURN(int axis,
                           NormalizeAxis(attrs.GetInt("axis", 1), static_cast<int>(x.size())));
    channels = x[axis];
  }
  OCTET_RETURN_IF_ERROR(CheckQuantParamShape(ctx, 1, channels, "the scale"));
  if (ctx.HasInput(2) && ctx.inputs[2] != ctx.inputs[1]) {
    return absl::InvalidArgumentError(absl::StrCat("the zero point has shape ",
                                                   ShapeToString(ctx.inputs[2]), ", the scale ",
                                                   ShapeToString(ctx.inputs[1])));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status QuantizeLinear(ShapeContext& ctx) {
  const DataType x_type = ctx.input_type(0);
  OCTET_RETURN_IF_ERROR(CheckInputType(
      ctx, 0, "x", x_type == DataType::kFloat32 || x_type == DataType::kInt32, "float32 or int32"));
  OCTET_RETURN_IF_ERROR(CheckLinearQuantization(ctx));
  DataType y_type = DataType::kUInt8;  // without a zero point
  if (ctx.HasInput(2)) {
    y_type = ctx.input_type(2);
    OCTET_RETURN_IF_ERROR(
        CheckInputType(ctx, 2, "the zero point", IsQuantizedType(y_type), "uint8 or int8"));
  }
  SetOutput(ctx, ctx.inputs[0], y_type);
  return absl::OkStatus();
}

absl::Status DequantizeLinear(ShapeContext& ctx) {
  const DataType x_type = ctx.input_type(0);
  OCTET_RETURN_IF_ERROR(CheckInputType(
      ctx, 0, "x", IsQuantizedType(x_type) || x_type == DataType::kInt32, "uint8, int8 or int32"));
  OCTET_RETURN_IF_ERROR(CheckLinearQuantization(ctx));
  if (ctx.HasInput(2)) {
    OCTET_RETURN_IF_ERROR(CheckInputType(ctx, 2, "the zero point", ctx.input_type(2) == x_type,
                                         DataTypeName(x_type).c_str()));
    const Tensor* zp = ctx.ConstantInput(2);
    if (x_type == DataType::kInt32 && zp != nullptr) {
      for (int64_t v : ToInt64Vector(*zp)) {
        if (v != 0) return absl::InvalidArgumentError("an int32 x needs a zero point of 0");
      }
    }
  }
  SetOutput(ctx, ctx.inputs[0], DataType::kFloat32);
  return absl::OkStatus();
}

namespace {

// The scales and zero points of QLinearConv and QLinearMatMul: inputs 1/2 (x), 4/5 (weights),
// 6/7 (y); the weights' may hold one value per output channel (`channels`).
absl::Status CheckQLinearParams(const ShapeContext& ctx, int64_t channels) {
  for (size_t i : {1, 4, 6}) {
    OCTET_RETURN_IF_ERROR(
        CheckInputType(ctx, i, "a scale", ctx.input_type(i) == DataType::kFloat32, "float32"));
  }
  OCTET_RETURN_IF_ERROR(
      CheckInputType(ctx, 0, "input 0", IsQuantizedType(ctx.input_type(0)), "uint8 or int8"));
  OCTET_RETURN_IF_ERROR(
      CheckInputType(ctx, 3, "input 3", IsQuantizedType(ctx.input_type(3)), "uint8 or int8"));
  OCTET_RETURN_IF_ERROR(CheckInputType(ctx, 7, "the output zero point",
                                       IsQuantizedType(ctx.input_type(7)), "uint8 or int8"));
  OCTET_RETURN_IF_ERROR(CheckInputType(ctx, 2, "input 0's zero point",
                                       ctx.input_type(2) == ctx.input_type(0), "input 0's type"));
  OCTET_RETURN_IF_ERROR(CheckInputType(ctx, 5, "input 3's zero point",
                                       ctx.input_type(5) == ctx.input_type(3), "input 3's type"));
  for (size_t i : {1, 2, 6, 7}) {
    OCTET_RETURN_IF_ERROR(CheckQuantParamShape(ctx, i, -1, "a scale or zero point"));
  }
  OCTET_RETURN_IF_ERROR(CheckQuantParamShape(ctx, 4, channels, "the weights' scale"));
  OCTET_RETURN_IF_ERROR(CheckQuantParamShape(ctx, 5, channels, "the weights' zero point"));
  return absl::OkStatus();
}

}  // namespace

absl::Status QLinearConv(ShapeContext& ctx) {
  const Shape& w = ctx.inputs[3];
  OCTET_RETURN_IF_ERROR(CheckQLinearParams(ctx, w.empty() ? -1 : w[0]));
  const bool has_bias = ctx.HasInput(8);
  if (has_bias) {
    OCTET_RETURN_IF_ERROR(
        CheckInputType(ctx, 8, "the bias", ctx.input_type(8) == DataType::kInt32, "int32"));
  }
  OCTET_ASSIGN_OR_RETURN(
      Shape out, ConvOutputShape(ctx.node, ctx.inputs[0], w, has_bias ? &ctx.inputs[8] : nullptr));
  SetOutput(ctx, std::move(out), ctx.input_type(7));
  return absl::OkStatus();
}

absl::Status QLinearMatMul(ShapeContext& ctx) {
  const Shape& b = ctx.inputs[3];
  // Per-column weight parameters apply to a 2-D B.
  OCTET_RETURN_IF_ERROR(CheckQLinearParams(ctx, b.size() == 2 ? b[1] : -1));
  OCTET_ASSIGN_OR_RETURN(Shape out, MatMulOutputShape(ctx.inputs[0], b));
  SetOutput(ctx, std::move(out), ctx.input_type(7));
  return absl::OkStatus();
}

}  // namespace shape_fn
}  // namespace octet
