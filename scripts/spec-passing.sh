#!/usr/bin/env bash
# spec-passing.sh BUILD_DIR: runs the whole spec suite and rewrites
# tools/vm/spec-passing.txt with the files that pass (0 failed, simd_* files, which are
# skipped, left out), which CMake registers
# as CTest tests. Prints the failing files.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
suite=${PLUGINOP_SHARED_DIR:-$root/../shared}/wasm-testsuite
out=$root/tools/vm/spec-passing.txt
log=$(mktemp)
"$build/bin/pluginop-spec" "$suite" >"$log"
{
  sed -n '/^#/p' "$out"
  # passing = 0 failed and something checked (all-skipped simd_* files check nothing)
  awk -F': ' '/^[^ ]+\.wast: [0-9]+ passed, 0 failed/ && !/: 0 passed/ {print $1}' "$log"
} >"$out.new" && mv "$out.new" "$out"
echo "passing: $(grep -vc '^#' "$out") files; failing:"
awk -F': ' '/^[^ ]+\.wast: / && !/ 0 failed/ {print "  " $0}' "$log"
tail -1 "$log"
rm -f "$log"
