#!/usr/bin/env bash
# Installs the build dependencies (Debian 12 packages) when missing, then configures and
# builds Octet in Release into ./build (or $OCTET_BUILD_DIR).
# Usage: scripts/build.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
build_dir=${OCTET_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
jobs=$(nproc)
cmake --build "$build_dir" --parallel "$jobs"
