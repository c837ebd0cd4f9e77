#!/usr/bin/env bash
# ctest's driver of the grpc-js interoperability test: installs the pinned npm packages
# (npm ci, from package-lock.json) when node_modules is missing, then runs the Node script,
# which starts octet-server on a copy of the example repository.
#   tests/interop/run_grpc_js_test.sh SERVER_BINARY PROTO_DIR MODEL_REPOSITORY
# Exit 77 (skipped) without Node.js or Debian's Fashion-MNIST, unless CI=true (then 1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
server_binary=$1 proto_dir=$2 model_repository=$3

skip() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: $1 (required when CI=true)" >&2
    exit 1
  fi
  echo "SKIPPED: $1"
  exit 77
}
[[ -r /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]] ||
  skip "missing /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)"
command -v node >/dev/null && command -v npm >/dev/null ||
  skip "node and npm are not installed (Debian: apt-get install nodejs npm)"

if [[ ! -d $here/node_modules/@grpc/grpc-js || ! -d $here/node_modules/@grpc/proto-loader ]]; then
  # One installer at a time when several ctest runs share the source tree.
  exec 9>"${TMPDIR:-/tmp}/octet-interop-npm-ci.lock"
  flock 9
  if [[ ! -d $here/node_modules/@grpc/grpc-js || ! -d $here/node_modules/@grpc/proto-loader ]]; then
    echo "npm ci in $here"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  flock -u 9
fi
exec node "$here/grpc_js_client_test.js" --proto-dir "$proto_dir" \
  --server-binary "$server_binary" --model-repository "$model_repository"
