// What the CPU offers oneDNN, as oneDNN itself sees it at run time. The INT8 path depends on
// it: without VNNI, u8*s8 products are summed in saturating 16-bit pairs (vpmaddubsw), so
// weights must be limited to keep results exact (DESIGN.md, "AVX2 without VNNI").
// Thread-safe.
#ifndef OCTET_ENGINE_CPU_INFO_H_
#define OCTET_ENGINE_CPU_INFO_H_

#include <string>

namespace octet {

// oneDNN's effective instruction set, e.g. "avx2", "avx512_core_vnni", "avx2_vnni".
std::string CpuIsaName();
// True when int8 dot products accumulate in 32 bits without intermediate saturation.
bool CpuHasVnni();

}  // namespace octet

#endif  // OCTET_ENGINE_CPU_INFO_H_
