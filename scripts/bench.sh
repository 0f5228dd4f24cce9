#!/usr/bin/env bash
# bench.sh BUILD_DIR [OPTIONS]: runs every suite of BUILD_DIR/bin/pluginop-bench
# (`pluginop-bench list`), passing OPTIONS (e.g. --runs 9, --scale 2) to each.
# Exit status: non-zero if any suite failed (e.g. a native/VM checksum mismatch).
set -u
build=${1:-build}
shift || true
bench=$build/bin/pluginop-bench
if [ ! -x "$bench" ]; then
  echo "bench: $bench is not built (the VM library is still incomplete on this branch?)" >&2
  exit 1
fi
echo "pluginop benchmarks: $(uname -srm), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
status=0
for suite in $("$bench" list); do
  echo
  "$bench" "$suite" "$@" || { status=1; echo "bench: suite $suite FAILED" >&2; }
done
# QUIC: 1 GB over loopback, ours against ngtcp2's programs in the same run, then 10 MB
# with 5% loss each way.
echo
bash "$(dirname "$0")/../bench/quic/transfer.sh" "$build" || { status=1; echo "bench: quic transfer FAILED" >&2; }
exit $status
