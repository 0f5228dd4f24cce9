#!/bin/bash
# pluginop-client against pluginop-server on 127.0.0.1 with WebAssembly plugins loaded
# on both sides (--plugin):
#   plugins.sh CLIENT SERVER PLUGIN_DIR
# Both load quic-probe (read-only counters, logs), super-frame (frame 0x42 and
# transport parameter 0xaaaaaaaa, enabled only when the peer announces it) and
# update-rtt (Defines the RTT estimator). A 5 MB file arrives with its sha256 intact;
# each side logs through its plugin and prints a summary line: 3 plugins attached, all
# enabled (so the super-frame parameter went both ways), no fault, and the probe's
# counters (packets sent/acknowledged, RTT samples) non-zero. With ngtcp2 on the other
# side (if installed) super-frame stays disabled and the transfers still succeed. Bad
# --plugin values exit 64.
. "$(dirname "$0")/common.sh"
CLIENT=$1 SERVER=$2 PLUGINS=$3
for p in quic-probe super-frame update-rtt; do
  [ -f "$PLUGINS/$p.wasm" ] || skip "$PLUGINS/$p.wasm not built (needs clang-14 and lld-14)"
done
mkdir -p "$WORK/www"
head -c 5000000 /dev/urandom >"$WORK/www/f5m"
opts=(--plugin "$PLUGINS/quic-probe.wasm" --plugin "$PLUGINS/super-frame.wasm"
      --plugin "$PLUGINS/update-rtt.wasm")

start_pluginop_server "$SERVER" "$WORK/www" "${opts[@]}"
timeout 60 "$CLIENT" --ca "$SERVER_CERT" --output "$WORK/out" "${opts[@]}" \
  "https://127.0.0.1:$SERVER_PORT/f5m" >"$WORK/client.out" 2>"$WORK/client.err"
rc=$?
cat "$WORK/client.out" "$WORK/client.err"
[ $rc = 0 ] || fail "client exit $rc"
same_files "$WORK/www" "$WORK/out" f5m
# The server reports a connection when the client's close arrives.
wait_for_line "$WORK/server.err" '^pluginop-server: plugins: ' || echo "(no server summary after 10 s)"
stop_pluginop_server
cat "$WORK/server.err"

for side in client server; do
  err=$WORK/$side.err
  grep -q '^\[plugin quic-probe\] quic-probe: watching this connection$' "$err" ||
    fail "$side: no log line from the plugin"
  line=$(grep "^pluginop-$side: plugins: " "$err") || fail "$side: no plugin summary"
  echo "$line" | grep -q 'plugins: 3 attached, 3 enabled, [1-9][0-9]* calls, 0 faults' ||
    fail "$side: unexpected summary: $line"
  # plugin_control_0 of quic-probe: max_data rtt_samples sent acked lost cong max_srtt
  read -r _ samples sent acked _ <<<"$(echo "$line" | sed -n 's/.*plugin_control_0: //p')"
  [ "${samples:-0}" -gt 0 ] && [ "${sent:-0}" -gt 0 ] && [ "${acked:-0}" -gt 0 ] ||
    fail "$side: the probe saw nothing: $line"
done
# The server sent the 5 MB: over 3,500 packets acknowledged, logged every 1,000.
[ "$(grep -c 'another 1000 packets acknowledged' "$WORK/server.err")" -ge 3 ] ||
  fail "server: the probe did not log its progress"

# A hostile plugin (an endless loop in update_rtt) in the client: stopped, disabled on
# that connection, reported; the native estimator takes over and the file arrives.
if [ -f "$PLUGINS/quic-hostile.wasm" ]; then
  start_pluginop_server "$SERVER" "$WORK/www"
  timeout 60 "$CLIENT" --ca "$SERVER_CERT" --output "$WORK/out-h" \
    --plugin "$PLUGINS/quic-hostile.wasm" "https://127.0.0.1:$SERVER_PORT/f5m" \
    >"$WORK/h.out" 2>"$WORK/h.err" || { cat "$WORK/h.err"; fail "hostile plugin: client failed"; }
  cat "$WORK/h.err"
  same_files "$WORK/www" "$WORK/out-h" f5m
  grep -q '^\[plugin quic-hostile\] disabled on this connection: .* in update_rtt' "$WORK/h.err" ||
    fail "hostile plugin: no fault reported"
  grep -q 'plugins: 1 attached, 0 enabled, [0-9]* calls, 1 faults' "$WORK/h.err" ||
    fail "hostile plugin: summary should show 1 fault"
  stop_pluginop_server
fi

# frame-logger on both sides, answering set_next_wakeup with a time in the past at every
# call (hostile: the stack wakes at most once per millisecond for it) and logging
# frames: the real event loops neither spin nor stall, the file arrives, no fault.
if [ -f "$PLUGINS/frame-logger.wasm" ]; then
  start_pluginop_server "$SERVER" "$WORK/www" --plugin "$PLUGINS/frame-logger.wasm:wake=past"
  timeout 60 "$CLIENT" --ca "$SERVER_CERT" --output "$WORK/out-w" \
    --plugin "$PLUGINS/frame-logger.wasm:wake=past" "https://127.0.0.1:$SERVER_PORT/f5m" \
    >"$WORK/w.out" 2>"$WORK/w.err" || { cat "$WORK/w.err"; fail "frame-logger: client failed"; }
  same_files "$WORK/www" "$WORK/out-w" f5m
  wait_for_line "$WORK/server.err" '^pluginop-server: plugins: ' || echo "(no server summary after 10 s)"
  stop_pluginop_server
  grep 'plugins:' "$WORK/w.err" "$WORK/server.err"
  grep -q 'plugins: 1 attached, 1 enabled, [1-9][0-9]* calls, 0 faults' "$WORK/w.err" ||
    fail "frame-logger: client summary"
  grep -q 'plugins: 1 attached, 1 enabled, [1-9][0-9]* calls, 0 faults' "$WORK/server.err" ||
    fail "frame-logger: server summary"
fi

# Against ngtcp2 (Debian's gtlsserver / gtlsclient), which does not know parameter
# 0xaaaaaaaa: super-frame stays disabled on our side (2 of 3 plugins enabled), nothing
# unknown goes on the wire, and 5 MB arrive intact both ways.
if [ -x "$GTLSSERVER" ] && [ -x "$GTLSCLIENT" ]; then
  make_cert
  port=$(free_udp_port)
  start_gtlsserver "$port"
  timeout 60 "$CLIENT" --ca "$WORK/cert.pem" --output "$WORK/out-ng" "${opts[@]}" \
    "https://127.0.0.1:$port/f5m" >"$WORK/ng-client.out" 2>"$WORK/ng-client.err" ||
    { cat "$WORK/ng-client.err"; fail "pluginop-client with plugins against gtlsserver"; }
  same_files "$WORK/www" "$WORK/out-ng" f5m
  grep 'plugins:' "$WORK/ng-client.err"
  grep -q 'plugins: 3 attached, 2 enabled, [0-9]* calls, 0 faults' "$WORK/ng-client.err" ||
    fail "against gtlsserver: super-frame should stay disabled"
  mkdir -p "$WORK/out-ng2"
  start_pluginop_server "$SERVER" "$WORK/www" "${opts[@]}"
  timeout 60 "$GTLSCLIENT" -q --exit-on-all-streams-close --download="$WORK/out-ng2" \
    --timeout=10s 127.0.0.1 "$SERVER_PORT" "https://127.0.0.1:$SERVER_PORT/f5m" \
    >"$WORK/gtlsclient.log" 2>&1 || { tail -20 "$WORK/gtlsclient.log"; fail "gtlsclient exit"; }
  same_files "$WORK/www" "$WORK/out-ng2" f5m
  wait_for_line "$WORK/server.err" '^pluginop-server: plugins: ' || echo "(no server summary after 10 s)"
  stop_pluginop_server
  grep 'plugins:' "$WORK/server.err"
  grep -q 'plugins: 3 attached, 2 enabled, [0-9]* calls, 0 faults' "$WORK/server.err" ||
    fail "serving gtlsclient: super-frame should stay disabled"
else
  echo "(ngtcp2 programs not installed: interop part skipped)"
fi

# Usage errors: a missing file, a parameter without '=', a module that is not wasm.
"$CLIENT" --plugin "$WORK/nope.wasm" https://127.0.0.1:1/x 2>"$WORK/e1"
[ $? = 64 ] || fail "missing plugin file: exit status not 64"
grep -q 'nope.wasm' "$WORK/e1" || fail "missing plugin file: no message"
"$CLIENT" --plugin "$PLUGINS/quic-probe.wasm:window" https://127.0.0.1:1/x 2>"$WORK/e2"
[ $? = 64 ] || fail "bad plugin parameter: exit status not 64"
grep -q 'not key=value' "$WORK/e2" || fail "bad plugin parameter: no message"
echo junk >"$WORK/junk.wasm"
"$SERVER" --plugin "$WORK/junk.wasm" 127.0.0.1 0 2>"$WORK/e3"
[ $? = 64 ] || fail "invalid module: exit status not 64"
cat "$WORK/e1" "$WORK/e2" "$WORK/e3"
echo "OK: 5 MB with plugins on both sides"
