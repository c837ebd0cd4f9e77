#!/usr/bin/env bash
# Octet's main job: serves the example model repository (examples/models) over gRPC on
# 0.0.0.0:8001 until SIGTERM or Ctrl-C. Installs the build dependencies when missing, builds the
# server in Release, then runs it; extra arguments go to octet-server (e.g. --grpc-address).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
build_dir=${OCTET_BUILD_DIR:-build}
# The same configuration as scripts/build.sh, but only the server and the CLI are built.
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)" --target octet-server octet
exec "$build_dir/server/octet-server" --model-repository examples/models "$@"
