#!/usr/bin/env bash
# Installs the Debian 12 packages Octet needs, only those that are missing.
# Usage: scripts/install-deps.sh [build|test|sanitize|all]   (default: build)
# Runs apt-get as root (or through sudo when not root).
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers libabsl-dev prometheus-cpp-dev libonnx-dev
  zlib1g-dev libssl-dev
  libgtest-dev libgmock-dev
)
test_pkgs=(
  libonnx-testdata dataset-fashion-mnist python3 python3-grpcio python3-grpc-tools
  python3-pkg-resources openssl prometheus python3-yaml
)

# Sanitizer and fuzzing builds (scripts/sanitizers.sh, scripts/fuzz.sh): clang and its runtimes
# (libFuzzer included), LLVM's OpenMP for clang (libomp-14-dev), llvm-symbolizer (llvm-14: without
# it reports have no function names and the suppressions cannot match), and dpkg-dev to unpack
# Debian's Abseil source for the TSan build.
sanitize_pkgs=(clang-14 libclang-rt-14-dev libomp-14-dev llvm-14 dpkg-dev)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  sanitize) want+=("${test_pkgs[@]}" "${sanitize_pkgs[@]}") ;;
  all) want+=("${test_pkgs[@]}" "${sanitize_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|sanitize|all]" >&2; exit 2 ;;
esac

# The grpc-js interoperability test needs Node.js and npm: Debian's, unless the machine already
# has both (a Node.js from elsewhere, e.g. NodeSource, must not be replaced).
if [[ ${1:-build} != build ]] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
