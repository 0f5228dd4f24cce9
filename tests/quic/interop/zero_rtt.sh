#!/bin/bash
# Session resumption and 0-RTT end to end on 127.0.0.1.
#   zero_rtt.sh CLIENT SERVER CASE
# CASE: pair      pluginop-client twice against pluginop-server with --session-file: the
#                 first run saves a ticket, the second says "0-RTT: accepted", its qlog
#                 has the request (stream 0) in a 0RTT packet, the server reports 0-RTT
#                 accepted; SSLKEYLOGFILE of both has CLIENT_EARLY_TRAFFIC_SECRET;
#                 sha256 equal each time
#       rejected  the server restarts between the runs (its ticket key is gone): the
#                 client sends 0-RTT, "0-RTT: rejected", the file still arrives whole
#       badfile   a corrupt session file: a clear message, a full handshake, the file
#                 arrives and a valid session replaces the corrupt one
#       ngtcp2-client  pluginop-client twice against gtlsserver (ngtcp2): 0-RTT
#                 accepted, request in a 0RTT packet (qlog), sha256 equal
#       ngtcp2-server  gtlsclient twice against pluginop-server with --session-file and
#                 --tp-file: its log shows the request in 0RTT packets and no rejection,
#                 the server reports 0-RTT accepted, sha256 equal
#       ngtcp2-rejected  both directions with the server restarted between the runs:
#                 0-RTT sent and rejected ("0-RTT: rejected" / gtlsclient's "Early data
#                 was rejected by server"), the files still arrive whole
. "$(dirname "$0")/common.sh"
CLIENT=$1 SERVER=$2 CASE=$3
mkdir -p "$WORK/www"
head -c 70001 /dev/urandom >"$WORK/www/f"
head -c 1500000 /dev/urandom >"$WORK/www/big"

# run_client N URL...: pluginop-client with the session file, qlog in $WORK/q$N, files in
# $WORK/out$N; output in $WORK/client$N.out / .err.
run_client() {
  local n=$1
  shift
  SSLKEYLOGFILE=$WORK/client.keys timeout 30 "$CLIENT" "${CA_ARGS[@]}" \
    --session-file "$WORK/session" --qlog-dir "$WORK/q$n" --output "$WORK/out$n" "$@" \
    >"$WORK/client$n.out" 2>"$WORK/client$n.err"
  local rc=$?
  echo "run $n: $(tr '\n' ' ' <"$WORK/client$n.out")"
  [ -s "$WORK/client$n.err" ] && sed "s/^/  run $n stderr: /" "$WORK/client$n.err"
  [ $rc = 0 ] || fail "pluginop-client run $n exit $rc"
}

# early_request_in_qlog N: the client's qlog of run N has stream 0 in a 0RTT packet.
early_request_in_qlog() {
  grep -h 'transport:packet_sent' "$WORK/q$1"/*.sqlog | grep '"packet_type":"0RTT"' |
    grep -q '"stream_id":0,' || fail "run $1: no request in a 0-RTT packet in the qlog"
}

case $CASE in
pair)
  SSLKEYLOGFILE=$WORK/server.keys start_pluginop_server "$SERVER" "$WORK/www" --verbose
  CA_ARGS=(--ca "$SERVER_CERT")
  url="https://127.0.0.1:$SERVER_PORT"
  run_client 1 "$url/f" "$url/big"
  grep -q '^0-RTT: none (no saved session yet' "$WORK/client1.out" || fail "run 1 should have no session yet"
  [ -s "$WORK/session" ] || fail "no session saved"
  run_client 2 "$url/f" "$url/big"
  grep -qx '0-RTT: accepted' "$WORK/client2.out" || fail "run 2: 0-RTT not accepted"
  grep -q '^2/2 OK' "$WORK/client2.out" || fail "run 2: summary line wrong"
  early_request_in_qlog 2
  same_files "$WORK/www" "$WORK/out1" f big
  same_files "$WORK/www" "$WORK/out2" f big
  stop_pluginop_server
  n=$(grep -c '(0-RTT accepted)' "$WORK/server.err")
  [ "$n" = 1 ] || { cat "$WORK/server.err"; fail "the server reports $n connections with 0-RTT, not 1"; }
  for side in client server; do
    grep -q '^CLIENT_EARLY_TRAFFIC_SECRET ' "$WORK/$side.keys" ||
      fail "$side: no CLIENT_EARLY_TRAFFIC_SECRET in SSLKEYLOGFILE"
  done
  ;;
rejected)
  start_pluginop_server "$SERVER" "$WORK/www"
  CA_ARGS=(--insecure)
  run_client 1 "https://127.0.0.1:$SERVER_PORT/big"
  stop_pluginop_server
  start_pluginop_server "$SERVER" "$WORK/www"
  run_client 2 "https://127.0.0.1:$SERVER_PORT/f" "https://127.0.0.1:$SERVER_PORT/big"
  grep -qx '0-RTT: rejected' "$WORK/client2.out" || fail "run 2: 0-RTT should be rejected"
  early_request_in_qlog 2 # sent in 0-RTT, lost with it, sent again in 1-RTT
  same_files "$WORK/www" "$WORK/out2" f big
  stop_pluginop_server
  ;;
badfile)
  start_pluginop_server "$SERVER" "$WORK/www"
  CA_ARGS=(--ca "$SERVER_CERT")
  printf 'pqst\001\377\377\377\377garbage' >"$WORK/session"
  run_client 1 "https://127.0.0.1:$SERVER_PORT/f"
  grep -q 'unusable session (ticket length out of range); no resumption' "$WORK/client1.err" ||
    fail "no clear message about the corrupt session file"
  grep -qx '0-RTT: bad session' "$WORK/client1.out" || fail "run 1 should report a bad session"
  same_files "$WORK/www" "$WORK/out1" f
  run_client 2 "https://127.0.0.1:$SERVER_PORT/f"
  grep -qx '0-RTT: accepted' "$WORK/client2.out" || fail "run 2: the saved session was not used"
  same_files "$WORK/www" "$WORK/out2" f
  stop_pluginop_server
  ;;
ngtcp2-client)
  need_ngtcp2
  make_cert
  port=$(free_udp_port)
  start_gtlsserver "$port"
  CA_ARGS=(--ca "$WORK/cert.pem")
  run_client 1 "https://127.0.0.1:$port/f"
  [ -s "$WORK/session" ] || fail "gtlsserver sent no session ticket"
  run_client 2 "https://127.0.0.1:$port/f" "https://127.0.0.1:$port/big"
  grep -qx '0-RTT: accepted' "$WORK/client2.out" || fail "run 2: 0-RTT not accepted by gtlsserver"
  early_request_in_qlog 2
  same_files "$WORK/www" "$WORK/out1" f
  same_files "$WORK/www" "$WORK/out2" f big
  ;;
ngtcp2-server)
  need_ngtcp2
  start_pluginop_server "$SERVER" "$WORK/www" --verbose
  for n in 1 2; do
    mkdir -p "$WORK/out$n"
    timeout 30 "$GTLSCLIENT" --exit-on-all-streams-close --download="$WORK/out$n" \
      --timeout=10s --session-file="$WORK/gsession" --tp-file="$WORK/gtp" \
      127.0.0.1 "$SERVER_PORT" "https://127.0.0.1:$SERVER_PORT/f" >"$WORK/g$n.log" 2>&1 ||
      { tail -20 "$WORK/g$n.log"; fail "gtlsclient run $n failed"; }
    same_files "$WORK/www" "$WORK/out$n" f
  done
  [ -s "$WORK/gsession" ] && [ -s "$WORK/gtp" ] || fail "gtlsclient saved no session"
  grep 'frm tx .* 0RTT STREAM' "$WORK/g2.log" | head -5
  grep -q 'frm tx .* 0RTT STREAM(0x0b) id=0x0 fin=1' "$WORK/g2.log" ||
    fail "gtlsclient did not send its request in 0-RTT"
  ! grep -qi 'early data was rejected\|0-RTT.*rejected' "$WORK/g2.log" ||
    fail "gtlsclient says 0-RTT was rejected"
  stop_pluginop_server
  grep 'connection closed' "$WORK/server.err"
  n=$(grep -c '(0-RTT accepted)' "$WORK/server.err")
  [ "$n" = 1 ] || fail "the server reports $n connections with 0-RTT, not 1"
  ;;
ngtcp2-rejected)
  need_ngtcp2
  make_cert
  CA_ARGS=(--ca "$WORK/cert.pem")
  for n in 1 2; do
    port=$(free_udp_port)
    start_gtlsserver "$port"
    run_client $n "https://127.0.0.1:$port/f" "https://127.0.0.1:$port/big"
    kill "${PIDS[-1]}"
  done
  grep -qx '0-RTT: rejected' "$WORK/client2.out" || fail "pluginop-client: 0-RTT should be rejected"
  early_request_in_qlog 2
  same_files "$WORK/www" "$WORK/out2" f big
  for n in 1 2; do
    start_pluginop_server "$SERVER" "$WORK/www" --verbose
    mkdir -p "$WORK/gout$n"
    timeout 30 "$GTLSCLIENT" --exit-on-all-streams-close --download="$WORK/gout$n" \
      --timeout=10s --session-file="$WORK/gsession" --tp-file="$WORK/gtp" \
      127.0.0.1 "$SERVER_PORT" "https://127.0.0.1:$SERVER_PORT/f" >"$WORK/g$n.log" 2>&1 ||
      { tail -20 "$WORK/g$n.log"; fail "gtlsclient run $n failed"; }
    stop_pluginop_server
    same_files "$WORK/www" "$WORK/gout$n" f
  done
  grep -q 'frm tx .* 0RTT STREAM(0x0b) id=0x0 fin=1' "$WORK/g2.log" ||
    fail "gtlsclient did not send its request in 0-RTT"
  grep 'Early data was rejected by server' "$WORK/g2.log" ||
    fail "gtlsclient does not say 0-RTT was rejected"
  ! grep -q '(0-RTT accepted)' "$WORK/server.err" || fail "the restarted server accepted 0-RTT"
  ;;
*) fail "unknown case $CASE" ;;
esac
echo "ok: 0-RTT $CASE"
