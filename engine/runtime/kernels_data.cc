// Data movement: reshapes and transposes as views (no copy when the input is already plain),
// and Pad as a custom kernel (oneDNN 2.6 has no pad primitive; zero pads before a Conv are
// folded into it by the passes, so this runs only for other pads).
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/runtime/kernels.h"
#include "engine/shape_functions.h"

namespace octet {
namespace runtime {

using dnnl::memory;

absl::Status BuildReshape(PlanBuilder& b, const Node& node) {
  OCTET_ASSIGN_OR_RETURN(int plain, b.EnsurePlain(node.inputs[0]));
  b.Bind(node.outputs[0], b.ViewSlot(plain, PlainMd(b.shape(node.outputs[0]))));
  return absl::OkStatus();
}

absl::Status BuildTranspose(PlanBuilder& b, const Node& node) {
  const Shape& xs = b.shape(node.inputs[0]);
  const int rank = static_cast<int>(xs.size());
  std::vector<int64_t> perm = node.attrs.GetInts("perm");
  if (perm.empty()) {
    for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  OCTET_ASSIGN_OR_RETURN(int plain, b.EnsurePlain(node.inputs[0]));
  memory::dims in_strides(rank, 1);  // `plain` is dense row-major
  for (int i = rank - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * xs[i + 1];
  memory::dims dims(rank), strides(rank);
  for (int i = 0; i < rank; ++i) {
    dims[i] = xs[perm[i]];
    strides[i] = in_strides[perm[i]];
  }
  // A permuted view: the consumer's reorder (or the output copy) does the actual transpose,
  // so an NHWC input followed by Transpose and Conv costs one reorder, not two.
  b.Bind(node.outputs[0], b.ViewSlot(plain, memory::desc(dims, memory::data_type::f32, strides)));
  return absl::OkStatus();
}

void PadKernel(const Shape& in, const Shape& out, const std::vector<int64_t>& begin,
               const std::string& mode, float value, const float* src, float* dst) {
  const int rank = static_cast<int>(in.size());
  std::vector<int64_t> in_strides(rank, 1);
  for (int i = rank - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * in[i + 1];
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  std::vector<int64_t> idx(rank, 0);
  for (int64_t linear = 0; linear < total; ++linear) {
    int64_t offset = 0;
    bool inside = true;
    for (int d = 0; d < rank; ++d) {
      int64_t i = idx[d] - begin[d];
      if (i < 0 || i >= in[d]) {
        if (mode == "edge") {
          i = i < 0 ? 0 : in[d] - 1;
        } else if (mode == "reflect") {
          i = i < 0 ? -i : 2 * (in[d] - 1) - i;
        } else {
          inside = false;
          break;
        }
      }
      offset += i * in_strides[d];
    }
    dst[linear] = inside ? src[offset] : value;
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
}

absl::Status BuildPad(PlanBuilder& b, const Node& node) {
  const Shape in = b.shape(node.inputs[0]);
  const Shape out = b.shape(node.outputs[0]);
  const int rank = static_cast<int>(in.size());
  OCTET_ASSIGN_OR_RETURN(std::vector<int64_t> pads, PadAmounts(b.graph(), node, rank));
  std::vector<int64_t> begin(pads.begin(), pads.begin() + rank);
  const std::string mode = node.attrs.GetString("mode", "constant");
  float value = node.attrs.GetFloat("value", 0.0f);
  if (node.inputs.size() > 2 && node.inputs[2] != kNoValue) {
    const Tensor& v = b.graph().constant(node.inputs[2]);
    if (v.dtype() != DataType::kFloat32 || v.num_elements() != 1) {
      return absl::InvalidArgumentError("constant_value must be a float32 scalar");
    }
    value = v.data<float>()[0];
  }
  OCTET_ASSIGN_OR_RETURN(int src, b.EnsurePlain(node.inputs[0]));
  const int dst = b.NewArenaSlot(PlainMd(out));
  b.AddCustom(node.name,
              [in, out, begin, mode, value](const std::vector<void*>& args) {
                PadKernel(in, out, begin, mode, value, static_cast<const float*>(args[0]),
                          static_cast<float*>(args[1]));
              },
              {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  b.Bind(node.outputs[0], dst);
  return absl::OkStatus();
}

}  // namespace runtime
}  // namespace octet
