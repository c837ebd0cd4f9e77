#include "engine/window_geometry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace octet {
namespace {

absl::Status CheckLength(const std::string& what, const std::vector<int64_t>& v, size_t rank) {
  if (v.size() != rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", v.size(), " entries, expected ", rank));
  }
  return absl::OkStatus();
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

absl::StatusOr<WindowGeometry> ResolveWindow(const Node& node,
                                             const std::vector<int64_t>& input_spatial,
                                             const std::vector<int64_t>& kernel) {
  const size_t rank = input_spatial.size();
  WindowGeometry g;
  g.kernel = kernel;
  g.strides = node.attrs.GetInts("strides", std::vector<int64_t>(rank, 1));
  g.dilations = node.attrs.GetInts("dilations", std::vector<int64_t>(rank, 1));
  std::vector<int64_t> pads = node.attrs.GetInts("pads", std::vector<int64_t>(2 * rank, 0));
  const std::string auto_pad = node.attrs.GetString("auto_pad", "NOTSET");
  const bool ceil_mode = node.attrs.GetInt("ceil_mode", 0) != 0;

  if (auto status = CheckLength("kernel", g.kernel, rank); !status.ok()) return status;
  if (auto status = CheckLength("strides", g.strides, rank); !status.ok()) return status;
  if (auto status = CheckLength("dilations", g.dilations, rank); !status.ok()) return status;
  if (auto status = CheckLength("pads", pads, 2 * rank); !status.ok()) return status;
  for (size_t i = 0; i < rank; ++i) {
    if (g.kernel[i] < 1 || g.strides[i] < 1 || g.dilations[i] < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("kernel, strides and dilations must be positive (kernel [",
                       absl::StrJoin(g.kernel, ","), "], strides [", absl::StrJoin(g.strides, ","),
                       "], dilations [", absl::StrJoin(g.dilations, ","), "])"));
    }
    if (pads[i] < 0 || pads[i + rank] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("negative pads [", absl::StrJoin(pads, ","), "]"));
    }
  }
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" &&
      auto_pad != "VALID") {
    return absl::InvalidArgumentError(absl::StrCat("unsupported auto_pad '", auto_pad, "'"));
  }

  g.pads_begin.resize(rank);
  g.pads_end.resize(rank);
  g.output.resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = input_spatial[i];
    const int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = CeilDiv(in, g.strides[i]);
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + extent - in);
      const int64_t small = total / 2;
      g.pads_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pads_end[i] = total - g.pads_begin[i];
    } else if (auto_pad == "VALID") {
      g.pads_begin[i] = 0;
      g.pads_end[i] = 0;
    } else {
      g.pads_begin[i] = pads[i];
      g.pads_end[i] = pads[i + rank];
    }
    const int64_t span = in + g.pads_begin[i] + g.pads_end[i] - extent;
    if (span < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "window of extent ", extent, " does not fit input size ", in, " on spatial axis ", i));
    }
    int64_t out = (ceil_mode ? CeilDiv(span, g.strides[i]) : span / g.strides[i]) + 1;
    if (ceil_mode) {
      // oneDNN computes floor((in + pads - extent) / stride) + 1: grow the end padding so that
      // the rounded-up output size comes out.
      g.pads_end[i] = (out - 1) * g.strides[i] + extent - in - g.pads_begin[i];
    }
    g.output[i] = out;
  }
  return g;
}

}  // namespace octet
