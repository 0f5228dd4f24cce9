#!/usr/bin/env bash
# demo.sh BUILD_DIR: what the project does today, with readable output.
# An example plugin (plugins/hello/hello.c), built from C with clang for wasm32, is
# inspected, loaded and called by pluginop's own WebAssembly VM (build/bin/pluginop-vm).
set -u
build=${1:-build}
vm=$build/bin/pluginop-vm
wasm=$build/wasm/hello.wasm

if [ ! -x "$vm" ]; then
  echo "demo: $vm is not built (the VM library is still incomplete on this branch)" >&2
  exit 1
fi
if [ ! -f "$wasm" ]; then
  echo "demo: $wasm is not built (needs clang-14 and wasm-ld)" >&2
  exit 1
fi

section() { printf '\n== %s\n' "$*"; }
# show DESCRIPTION COMMAND...: prints the command line, its output and exit status.
show() {
  local what=$1
  shift
  printf -- '-- %s\n$ %s\n' "$what" "${*#$build/}"
  "$@" 2>&1
  local st=$?
  printf '   (exit status %d)\n' "$st"
}

section "An example plugin, built from C with clang for wasm32, loaded and called by the VM"
echo "source: plugins/hello/hello.c    module: $wasm ($(wc -c <"$wasm") bytes)"

section "What the module imports and exports"
show "decode + validate + compile, then list the module's interface" "$vm" info "$wasm"

section "Calling its functions"
show "i32 arithmetic" "$vm" run "$wasm" add 40 2
show "recursion: fib(24)" "$vm" run --stats "$wasm" fib 24
show "a sieve in linear memory: primes below 100000" "$vm" run --stats "$wasm" count_primes 100000
show "writes a greeting into linear memory, returns its address (--string reads it back)" \
  "$vm" run --string "$wasm" greet 7

section "The sandbox: every failure is a clean trap, never a crash"
show "reading far outside linear memory" "$vm" run "$wasm" checksum 2000000000
show "a fuel budget stops a long computation" "$vm" run --fuel 100000 "$wasm" fib 30
show "a wall-clock deadline stops it too" "$vm" run --timeout-ms 20 "$wasm" fib 40
exit 0
