#!/usr/bin/env bash
# Installs the Debian packages pluginop needs to build, test, fuzz and benchmark.
# Idempotent and non-interactive: runs `apt-get update` once, and only when a
# package is missing. Debian packages only.
set -euo pipefail

PACKAGES=(
  make cmake gcc pkg-config           # the build
  clang-14 lld-14 clang lld           # wasm32 plugins, libFuzzer
  libclang-rt-14-dev                  # sanitizer and fuzzer runtimes for clang
  wabt                                # wast2json for the spec tests
  libgnutls28-dev libnghttp3-dev      # TLS 1.3 (QUIC API) and HTTP/3
  nettle-dev libssl-dev               # header protection, fast ChaCha20-Poly1305
  ngtcp2-client ngtcp2-server         # real QUIC peers for interop tests
  python3 openssl                     # small test helpers, test certificates for ngtcp2
  chromium                            # a real browser fetching over HTTP/3 (interop test)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; install these by hand: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
