#!/usr/bin/env bash
# transfer.sh BUILD_DIR [SIZE_MB] [LOSS_MB]: HTTP/3 download over loopback (127.0.0.1),
# pluginop-client <- pluginop-server and, in the same run, gtlsclient <- gtlsserver
# (Debian ngtcp2-client/-server), same file, AES-128-GCM only on both. Prints wall time,
# goodput and CPU seconds per GB (client, server, both) for each, then a LOSS_MB
# transfer with 5% of the datagrams dropped each way at the server (ngtcp2's -t/-r,
# our --tx-loss/--rx-loss). Files live in /dev/shm so the disk does not count.
# Defaults: 1024 MB, 10 MB.
set -u
build=${1:-build}
size_mb=${2:-1024}
loss_mb=${3:-10}
client=$build/bin/pluginop-client
server=$build/bin/pluginop-server
GTLSSERVER=${GTLSSERVER:-/usr/sbin/gtlsserver}
GTLSCLIENT=${GTLSCLIENT:-/usr/bin/gtlsclient}
for p in "$client" "$server" "$GTLSSERVER" "$GTLSCLIENT"; do
  [ -x "$p" ] || { echo "transfer.sh: $p missing" >&2; exit 1; }
done
base=/dev/shm
[ -d $base ] && [ -w $base ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/pq-bench-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
tck=$(getconf CLK_TCK)
aes="NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM"

mkdir -p "$work/www" "$work/out-pq" "$work/out-ng"
# Random content (64 MB of it, repeated): compressible data would flatter nobody here,
# but reading 1 GB from /dev/urandom costs seconds.
head -c $((64 << 20)) /dev/urandom >"$work/chunk"
for i in $(seq 1 $(( (size_mb + 63) / 64 ))); do cat "$work/chunk"; done | head -c $((size_mb << 20)) >"$work/www/big"
head -c $((loss_mb << 20)) "$work/chunk" >"$work/www/lossy"
rm "$work/chunk"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_pair NAME FILE SERVER_LOSS: starts the server, times the client; sets WALL, CCPU, SCPU.
run_pair() {
  local name=$1 file=$2 loss=$3 port spid s0 s1 t out
  port=$(free_port)
  if [ "$name" = pluginop ]; then
    local largs=()
    [ "$loss" = 1 ] && largs=(--tx-loss 0.05 --rx-loss 0.05)
    "$server" --cert "$work/cert.pem" --key "$work/key.pem" --root "$work/www" \
      --ciphers AES-128-GCM "${largs[@]}" 127.0.0.1 "$port" >/dev/null 2>"$work/server.err" &
  else
    local largs=()
    [ "$loss" = 1 ] && largs=(-t 0.05 -r 0.05)
    "$GTLSSERVER" -q -d "$work/www" --ciphers="$aes" "${largs[@]}" 127.0.0.1 "$port" \
      "$work/key.pem" "$work/cert.pem" >/dev/null 2>&1 &
  fi
  spid=$!
  pids+=($spid)
  sleep 0.3
  s0=$(cpu_ticks $spid)
  out=$work/out-pq
  [ "$name" = pluginop ] || out=$work/out-ng
  rm -f "$out/$file"
  if [ "$name" = pluginop ]; then
    /usr/bin/time -o "$work/time" -f "%e %U %S" "$client" --ciphers AES-128-GCM \
      --ca "$work/cert.pem" --output "$out" "https://127.0.0.1:$port/$file" >/dev/null 2>"$work/client.err"
  else
    /usr/bin/time -o "$work/time" -f "%e %U %S" "$GTLSCLIENT" -q --exit-on-all-streams-close \
      --ciphers="$aes" --download="$out" 127.0.0.1 "$port" \
      "https://127.0.0.1:$port/$file" >/dev/null 2>"$work/client.err"
  fi
  t=$(tail -1 "$work/time")
  s1=$(cpu_ticks $spid)
  kill $spid; wait $spid 2>/dev/null
  WALL=$(echo "$t" | awk '{print $1}')
  CCPU=$(echo "$t" | awk '{print $2 + $3}')
  SCPU=$(awk -v a="$s0" -v b="$s1" -v t="$tck" 'BEGIN{printf "%.2f", (b - a) / t}')
  OK=yes
  cmp -s "$work/www/$file" "$out/$file" || OK=NO
}

echo "QUIC transfer over loopback: $(uname -sr), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "${size_mb} MB, AES-128-GCM, HTTP/3 GET, one connection; CPU s/GB = user+sys per GB moved"
printf "%-10s %8s %10s %10s %10s %10s %6s\n" peer "wall s" "Gbit/s" "cli s/GB" "srv s/GB" "sum s/GB" same
for name in pluginop ngtcp2; do
  run_pair $name big 0
  awk -v n=$name -v w="$WALL" -v c="$CCPU" -v s="$SCPU" -v mb="$size_mb" -v ok=$OK 'BEGIN{
    gb = mb / 1024; bits = mb * 1048576 * 8;
    printf "%-10s %8.2f %10.2f %10.2f %10.2f %10.2f %6s\n", n, w, bits / w / 1e9, c / gb, s / gb, (c + s) / gb, ok }'
done
echo
echo "${loss_mb} MB with 5% loss each way at the server"
for name in pluginop ngtcp2; do
  run_pair $name lossy 1
  printf "%-10s %8.2f s  %s\n" $name "$WALL" "$([ $OK = yes ] && echo complete || echo INCOMPLETE)"
done
