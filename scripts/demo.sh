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
# show STATUS DESCRIPTION COMMAND...: prints the command line, its output and exit
# status; a status other than STATUS makes the demo fail at the end.
unexpected=0
show() {
  local want=$1 what=$2
  shift 2
  printf -- '-- %s\n$ %s\n' "$what" "${*#$build/}"
  "$@" 2>&1
  local st=$?
  if [ "$st" -eq "$want" ]; then
    printf '   (exit status %d)\n' "$st"
  else
    printf '   (exit status %d, EXPECTED %d)\n' "$st" "$want"
    unexpected=$((unexpected + 1))
  fi
}

section "An example plugin, built from C with clang for wasm32, loaded and called by the VM"
echo "source: plugins/hello/hello.c    module: $wasm ($(wc -c <"$wasm") bytes)"

section "What the module imports and exports"
show 0 "decode + validate + compile, then list the module's interface" "$vm" info "$wasm"

section "Calling its functions"
show 0 "i32 arithmetic" "$vm" run "$wasm" add 40 2
show 0 "recursion: fib(24)" "$vm" run --stats "$wasm" fib 24
show 0 "a sieve in linear memory: primes below 100000" "$vm" run --stats "$wasm" count_primes 100000
show 0 "writes a greeting into linear memory, returns its address (--string reads it back)" \
  "$vm" run --string "$wasm" greet 7

section "The sandbox: every failure is a clean trap, never a crash"
show 1 "reading far outside linear memory" "$vm" run "$wasm" checksum 2000000000
show 1 "a fuel budget stops a long computation" "$vm" run --fuel 100000 "$wasm" fib 30
show 1 "a wall-clock deadline stops it too" "$vm" run --timeout-ms 20 "$wasm" fib 40
if [ "$unexpected" -ne 0 ]; then
  echo "demo: $unexpected step(s) ended with an unexpected exit status" >&2
  exit 1
fi
