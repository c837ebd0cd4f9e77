#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs build and test dependencies (Debian 12
# packages) when missing, builds in Release, and runs every ctest test.
# Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh
build_dir=${OCTET_BUILD_DIR:-build}
cd "$build_dir"
ctest --output-on-failure --timeout 1200 "$@"
