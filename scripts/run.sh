#!/usr/bin/env bash
# Octet's main job on the project's own example model: installs dependencies when missing,
# builds in Release, and evaluates the example model (examples/models/fashion-lenet) on the
# Fashion-MNIST test set with octet-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh
build_dir=${OCTET_BUILD_DIR:-build}
exec "$build_dir/bench/octet-bench" eval \
  --model examples/models/fashion-lenet/1/model.onnx \
  --dataset idx:/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz "$@"
