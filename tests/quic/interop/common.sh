# Shared helpers for the end-to-end QUIC tests (sourced by the scripts beside it).
# Every test works in a fresh temporary folder on loopback, kills what it started on
# exit, and exits 0 (pass), 1 (fail) or 77 (skipped: CTest SKIP_RETURN_CODE).
set -u

GTLSSERVER=${GTLSSERVER:-/usr/sbin/gtlsserver}
GTLSCLIENT=${GTLSCLIENT:-/usr/bin/gtlsclient}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pq-interop-XXXXXX")
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
need_ngtcp2() {
  [ -x "$GTLSSERVER" ] || skip "$GTLSSERVER missing (Debian package ngtcp2-server)"
  [ -x "$GTLSCLIENT" ] || skip "$GTLSCLIENT missing (Debian package ngtcp2-client)"
}

# A UDP port nobody uses right now on 127.0.0.1.
free_udp_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_files DIR: small1..3 (odd sizes), f5m (5 MB), many/0..149 (1-30 kB).
make_files() {
  local d=$1 i
  mkdir -p "$d/many"
  head -c 1 /dev/urandom >"$d/small1"
  head -c 1500 /dev/urandom >"$d/small2"
  head -c 70001 /dev/urandom >"$d/small3"
  head -c 5000000 /dev/urandom >"$d/f5m"
  for i in $(seq 0 149); do head -c $((1000 + i * 193)) /dev/urandom >"$d/many/$i"; done
  echo '<!DOCTYPE html><html><head><title>pluginop</title></head><body><h1 id="ok">served by pluginop-server over HTTP/3</h1></body></html>' >"$d/index.html"
}

# same_files SRC_DIR DST_DIR NAME...: the sha256 of each NAME matches in both folders.
same_files() {
  local src=$1 dst=$2 f a b
  shift 2
  for f in "$@"; do
    [ -f "$dst/$(basename "$f")" ] || fail "$f was not downloaded"
    a=$(sha256sum <"$src/$f" | cut -d' ' -f1)
    b=$(sha256sum <"$dst/$(basename "$f")" | cut -d' ' -f1)
    [ "$a" = "$b" ] || fail "$f: sha256 differs ($a vs $b)"
  done
}

# start_pluginop_server BIN ROOT [ARGS...]: runs it on $SERVER_ADDR (default 127.0.0.1)
# with a free port and a
# self-signed certificate; sets SERVER_PORT, SERVER_CERT, SERVER_KEY, SERVER_SPKI.
start_pluginop_server() {
  local bin=$1 root=$2 i
  shift 2
  # A second server in one test: the first one's "listening on" must not be read back
  # before the new process truncates the file.
  rm -f "$WORK/server.out" "$WORK/server.err"
  # TMPDIR: its self-signed certificate goes under $WORK, removed with it.
  TMPDIR=$WORK "$bin" --root "$root" "$@" "${SERVER_ADDR:-127.0.0.1}" 0 >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  PIDS+=($SERVER_PID)
  for i in $(seq 1 100); do
    grep -q '^listening on' "$WORK/server.out" 2>/dev/null && break
    sleep 0.1
  done
  SERVER_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$WORK/server.out")
  SERVER_CERT=$(sed -n 's/^self-signed certificate: \([^ ]*\) (key \([^)]*\)).*/\1/p' "$WORK/server.out")
  SERVER_KEY=$(sed -n 's/^self-signed certificate: \([^ ]*\) (key \([^)]*\)).*/\2/p' "$WORK/server.out")
  SERVER_SPKI=$(sed -n 's/.*SPKI sha256 \(.*\)$/\1/p' "$WORK/server.out")
  [ -n "$SERVER_PORT" ] || { cat "$WORK/server.err" >&2; fail "pluginop-server did not start"; }
}

# A certificate and key for the ngtcp2 server (made by openssl: a self-signed EC P-256
# certificate for localhost and 127.0.0.1).
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl cannot make a certificate"
}

# start_gtlsserver PORT [ARGS...]: serves $WORK/www.
start_gtlsserver() {
  local port=$1 i
  shift
  "$GTLSSERVER" -q -d "$WORK/www" "$@" 127.0.0.1 "$port" "$WORK/key.pem" "$WORK/cert.pem" \
    >"$WORK/gtlsserver.log" 2>&1 &
  PIDS+=($!)
  sleep 0.3
  kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/gtlsserver.log" >&2; fail "gtlsserver did not start"; }
}

# wait_for_line FILE REGEX [SECONDS]: waits (default 10 s) until a line of FILE matches
# the extended REGEX; 1 if it never does. For what a program prints after an event the
# test cannot see, instead of a fixed sleep that a loaded machine outlasts.
wait_for_line() {
  local file=$1 re=$2 i
  for i in $(seq 1 $((${3:-10} * 10))); do
    grep -qE "$re" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# stop_pluginop_server: SIGTERM; it must exit 0 with no sanitizer report (leaks included
# in the ASan build).
stop_pluginop_server() {
  local rc
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID"
  rc=$?
  if [ $rc != 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error' "$WORK/server.err"; then
    cat "$WORK/server.err" >&2
    fail "pluginop-server exit $rc after SIGTERM"
  fi
}
