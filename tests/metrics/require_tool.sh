#!/bin/sh
# Runs a check that needs an external tool (promtool, python3), for ctest.
#   require_tool.sh TOOL [--stdin FILE] -- ARGS...   runs TOOL ARGS [< FILE]
# When TOOL is not installed: fails in CI (CI=true), where scripts/install-deps.sh test installs
# it, and otherwise exits 77, which ctest reports as skipped (SKIP_RETURN_CODE).
set -eu
tool=$1
shift
stdin=/dev/null
if [ "$1" = "--stdin" ]; then
  stdin=$2
  shift 2
fi
[ "$1" = "--" ] && shift
if ! command -v "$tool" >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "$tool is not installed; CI needs it (scripts/install-deps.sh test)" >&2
    exit 1
  fi
  echo "skipped: $tool is not installed (scripts/install-deps.sh test installs it)"
  exit 77
fi
exec "$tool" "$@" < "$stdin"
