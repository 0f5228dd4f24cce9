#!/bin/bash
# Headless Chromium fetches a page from pluginop-server over HTTP/3.
#   chromium.sh SERVER
# Chromium is forced onto QUIC for the origin (--origin-to-force-quic-on) and nothing
# listens on TCP there, so the page can only have come over HTTP/3; the server's log
# must show the request too. The self-signed certificate is accepted by its SPKI hash.
. "$(dirname "$0")/common.sh"
SERVER=$1
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || skip "chromium not installed"
mkdir -p "$WORK/www"
make_files "$WORK/www"
start_pluginop_server "$SERVER" "$WORK/www" --verbose
[ -n "$SERVER_SPKI" ] || fail "no SPKI hash printed"
origin="localhost:$SERVER_PORT"
args=(--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage
      --user-data-dir="$WORK/profile" --no-first-run --no-default-browser-check
      --disable-background-networking --disable-component-update --disable-sync
      --disable-extensions --disable-default-apps --metrics-recording-only
      --enable-quic --origin-to-force-quic-on="$origin"
      --ignore-certificate-errors-spki-list="$SERVER_SPKI"
      --host-resolver-rules="MAP localhost 127.0.0.1"
      --virtual-time-budget=5000 --dump-dom)
timeout 60 "$CHROMIUM" "${args[@]}" "https://$origin/index.html" >"$WORK/dom.html" 2>"$WORK/chromium.err"
rc=$?
cat "$WORK/dom.html"
if ! grep -q 'served by pluginop-server over HTTP/3' "$WORK/dom.html"; then
  tail -20 "$WORK/chromium.err" >&2
  cat "$WORK/server.err" >&2
  fail "chromium (exit $rc) did not get the page"
fi
grep -q 'GET /index.html -> 200' "$WORK/server.err" || fail "the server did not log the request"
stop_pluginop_server
echo "ok: chromium fetched the page over HTTP/3"
