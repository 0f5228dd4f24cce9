#!/usr/bin/env bash
# demo.sh BUILD_DIR: what the project does today, with readable output.
# An example plugin (plugins/hello/hello.c), built from C with clang for wasm32, is
# inspected, loaded and called by pluginop's own WebAssembly VM (build/bin/pluginop-vm).
# Then a QUIC transfer between pluginop-client and pluginop-server on 127.0.0.1 with
# WebAssembly plugins loaded on both sides.
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

section "A QUIC transfer with plugins loaded"
client=$build/bin/pluginop-client server=$build/bin/pluginop-server plugins=$build/plugins
if [ ! -x "$client" ] || [ ! -x "$server" ] || [ ! -f "$plugins/quic-probe.wasm" ] ||
   [ ! -f "$plugins/super-frame.wasm" ] || [ ! -f "$plugins/update-rtt.wasm" ]; then
  echo "(skipped: pluginop-client, pluginop-server or the example plugins are not built)"
else
  qdir=$(mktemp -d "${TMPDIR:-/tmp}/pluginop-demo-XXXXXX")
  mkdir -p "$qdir/www" "$qdir/out"
  head -c 3000000 /dev/urandom >"$qdir/www/file"
  # Both sides load the same three plugins: quic-probe counts what it sees and logs,
  # super-frame adds frame 0x42 and transport parameter 0xaaaaaaaa (it enables itself
  # only when the peer announces the parameter), update-rtt replaces the RTT estimator.
  popts=(--plugin "$plugins/quic-probe.wasm" --plugin "$plugins/super-frame.wasm"
         --plugin "$plugins/update-rtt.wasm")
  echo "plugins (both sides): quic-probe.wasm super-frame.wasm update-rtt.wasm"
  TMPDIR=$qdir "$server" --root "$qdir/www" "${popts[@]}" 127.0.0.1 0 \
    >"$qdir/server.out" 2>"$qdir/server.err" &
  spid=$!
  for _ in $(seq 1 50); do grep -q '^listening on' "$qdir/server.out" && break; sleep 0.1; done
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$qdir/server.out")
  cert=$(sed -n 's/^self-signed certificate: \([^ ]*\) .*/\1/p' "$qdir/server.out")
  echo "server: pluginop-server ${popts[*]#$build/} 127.0.0.1 0   ($(cat "$qdir/server.out" | tail -1))"
  show 0 "3 MB over HTTP/3 from the server, plugins in both connections" \
    "$client" --ca "$cert" --output "$qdir/out" "${popts[@]}" "https://127.0.0.1:$port/file"
  sleep 0.3
  kill -TERM "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  echo "-- the server's side (its plugin log lines and summary)"
  grep -E '^\[plugin|plugins:' "$qdir/server.err"
  if [ "$(sha256sum <"$qdir/www/file")" = "$(sha256sum <"$qdir/out/file" 2>/dev/null)" ]; then
    echo "sha256 of the downloaded file matches: $(sha256sum <"$qdir/out/file" | cut -c1-16)..."
  else
    echo "the downloaded file DIFFERS"
    unexpected=$((unexpected + 1))
  fi
  echo "(plugin_control_0 of quic-probe: MAX_DATA frames, RTT samples, packets sent,"
  echo " acknowledged, lost, congestion events, largest smoothed RTT in ns)"
  if [ -f "$plugins/quic-hostile.wasm" ]; then
    TMPDIR=$qdir "$server" --root "$qdir/www" 127.0.0.1 0 >"$qdir/server2.out" 2>/dev/null &
    spid=$!
    for _ in $(seq 1 50); do grep -q '^listening on' "$qdir/server2.out" && break; sleep 0.1; done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$qdir/server2.out")
    cert=$(sed -n 's/^self-signed certificate: \([^ ]*\) .*/\1/p' "$qdir/server2.out")
    show 0 "a hostile plugin (endless loop in update_rtt) in the client: stopped, disabled, the transfer goes on" \
      "$client" --ca "$cert" --output "$qdir/out2" --plugin "$plugins/quic-hostile.wasm" \
      "https://127.0.0.1:$port/file"
    show 0 "resumption: a first connection saves the server's session ticket" \
      "$client" --ca "$cert" --output "$qdir/out3" --session-file "$qdir/session" \
      "https://127.0.0.1:$port/file"
    show 0 "the second connection sends its request in 0-RTT, with the plugins loaded" \
      "$client" --ca "$cert" --output "$qdir/out4" --session-file "$qdir/session" \
      --plugin "$plugins/quic-probe.wasm" --plugin "$plugins/update-rtt.wasm" \
      "https://127.0.0.1:$port/file"
    kill -TERM "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
  fi
  rm -rf "$qdir"
fi

if [ "$unexpected" -ne 0 ]; then
  echo "demo: $unexpected step(s) ended with an unexpected exit status" >&2
  exit 1
fi
