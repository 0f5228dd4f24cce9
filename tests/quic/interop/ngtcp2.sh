#!/bin/bash
# Interop with Debian's ngtcp2 programs (GnuTLS builds) on 127.0.0.1.
#   ngtcp2.sh CLIENT SERVER DIRECTION CASE
# DIRECTION: client  pluginop-client downloads from gtlsserver (-d serves $WORK/www)
#            server  gtlsclient downloads from pluginop-server (--download)
# CASE: handshake   one small file
#       transfer    a 5 MB file, sha256 equal
#       multiplex   100 files on one connection, sha256 equal
#       chacha20    the ngtcp2 side offers only ChaCha20-Poly1305; 5 MB, sha256 equal
#       loss        5% loss each way at the ngtcp2 side (-t 0.05 -r 0.05); 5 MB, sha256
. "$(dirname "$0")/common.sh"
CLIENT=$1 SERVER=$2 DIRECTION=$3 CASE=$4
need_ngtcp2
mkdir -p "$WORK/www" "$WORK/out"
make_files "$WORK/www"
CHACHA="NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305"

peer_args=() files=()
case $CASE in
handshake) files=(small2) ;;
transfer) files=(f5m) ;;
multiplex) for i in $(seq 0 99); do files+=("many/$i"); done ;;
chacha20) files=(f5m); peer_args=(--ciphers="$CHACHA") ;;
loss) files=(f5m); peer_args=(-t 0.05 -r 0.05) ;;
*) fail "unknown case $CASE" ;;
esac

if [ "$DIRECTION" = client ]; then
  make_cert
  port=$(free_udp_port)
  start_gtlsserver "$port" "${peer_args[@]}"
  urls=()
  for f in "${files[@]}"; do urls+=("https://127.0.0.1:$port/$f"); done
  extra=()
  [ "$CASE" = chacha20 ] && extra=(--ciphers CHACHA20-POLY1305)
  timeout 60 "$CLIENT" "${extra[@]}" --ca "$WORK/cert.pem" --output "$WORK/out" "${urls[@]}" \
    >"$WORK/client.out" 2>"$WORK/client.err"
  rc=$?
  cat "$WORK/client.out"; head -20 "$WORK/client.err"
  [ $rc = 0 ] || fail "pluginop-client exit $rc"
  grep -q "^${#files[@]}/${#files[@]} OK" "$WORK/client.out" || fail "summary line wrong"
elif [ "$DIRECTION" = server ]; then
  start_pluginop_server "$SERVER" "$WORK/www"
  urls=()
  for f in "${files[@]}"; do urls+=("https://127.0.0.1:$SERVER_PORT/$f"); done
  start=$(date +%s.%N)
  timeout 60 "$GTLSCLIENT" -q --exit-on-all-streams-close --download="$WORK/out" \
    --timeout=10s "${peer_args[@]}" 127.0.0.1 "$SERVER_PORT" "${urls[@]}" \
    >"$WORK/gtlsclient.log" 2>&1
  rc=$?
  echo "gtlsclient: exit $rc, $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}') s"
  [ $rc = 0 ] || { tail -20 "$WORK/gtlsclient.log"; fail "gtlsclient exit $rc"; }
else
  fail "unknown direction $DIRECTION"
fi
# many/N is saved as N by both clients
if [ "$CASE" = multiplex ]; then same_files "$WORK/www/many" "$WORK/out" $(seq 0 99)
else same_files "$WORK/www" "$WORK/out" "${files[@]}"; fi
[ "$DIRECTION" = server ] && stop_pluginop_server
echo "ok: $DIRECTION $CASE"
