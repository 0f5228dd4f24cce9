#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS: runs every libFuzzer target of BUILD_DIR (built with
# PLUGINOP_FUZZ=ON, see `make fuzz`) for SECONDS each, one after the other.
#
# Seeds: each part's checked-in fuzz/<part>/corpus/ (or corpus-<what>/ for a target
# fuzz_<part>_<what> with its own); VM targets reading wasm also get every module of the
# spec test suite, extracted with wast2json into BUILD_DIR/corpus/. New
# inputs go to BUILD_DIR/corpus-run/<target>/, crashes to BUILD_DIR/crashes/.
# Exit status: 0 if no target crashed, 1 otherwise, 2 on setup errors.
set -u
build=${1:-build-fuzz}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${PLUGINOP_SHARED_DIR:-$root/../shared}

targets=$(find "$build/bin" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x 2>/dev/null | sort)
if [ -z "$targets" ]; then
  echo "fuzz: no fuzz_* programs in $build/bin (configure with -DPLUGINOP_FUZZ=ON, CC=clang-14)" >&2
  exit 2
fi

# The spec tests' modules as a seed corpus for the VM targets, named by content hash.
spec_corpus=$build/corpus
if [ ! -d "$spec_corpus" ] && command -v wast2json >/dev/null && [ -d "$shared/wasm-testsuite" ]; then
  echo "fuzz: building the seed corpus from the spec tests into $spec_corpus"
  tmp=$(mktemp -d) && mkdir -p "$spec_corpus.tmp"
  for wast in "$shared"/wasm-testsuite/*.wast; do
    name=$(basename "$wast" .wast)
    wast2json "$wast" -o "$tmp/$name.json" >/dev/null 2>&1 || continue
    for m in "$tmp"/*.wasm; do
      [ -f "$m" ] || continue
      sum=$(sha1sum "$m" | cut -c1-16)
      mv "$m" "$spec_corpus.tmp/$name-$sum.wasm"
    done
    rm -f "$tmp"/*
  done
  rmdir "$tmp"
  mv "$spec_corpus.tmp" "$spec_corpus"
  echo "fuzz: $(ls "$spec_corpus" | wc -l) seed modules"
fi

mkdir -p "$build/crashes"
failed=0
for t in $targets; do
  name=$(basename "$t")
  part=$(echo "$name" | sed -n 's/^fuzz_\([a-z0-9]*\)_.*/\1/p')
  what=${name#fuzz_${part}_}
  run_dir=$build/corpus-run/$name
  mkdir -p "$run_dir"
  # Seeds: fuzz/<part>/corpus-<what>/ if the target has its own, else fuzz/<part>/corpus/
  # (plus the spec modules for the VM's). Dictionary: fuzz/<part>/<what>.dict, else
  # fuzz/<part>/<part>.dict.
  seeds=()
  opts=()
  if [ -d "$root/fuzz/$part/corpus-$what" ]; then
    seeds+=("$root/fuzz/$part/corpus-$what")
  else
    [ -d "$root/fuzz/$part/corpus" ] && seeds+=("$root/fuzz/$part/corpus")
    [ "$part" = vm ] && [ -d "$spec_corpus" ] && seeds+=("$spec_corpus")
  fi
  # A target whose prefix is not its folder's name (fuzz_pop_* live in fuzz/plugin/):
  # its own seed folder, the one CTest replays.
  if [ ${#seeds[@]} = 0 ]; then
    for d in "$root"/fuzz/*/corpus/"$name"; do
      [ -d "$d" ] && seeds+=("$d")
    done
  fi
  if [ -f "$root/fuzz/$part/$what.dict" ]; then
    opts+=("-dict=$root/fuzz/$part/$what.dict")
  elif [ -f "$root/fuzz/$part/$part.dict" ]; then
    opts+=("-dict=$root/fuzz/$part/$part.dict")
  fi
  echo "== $name: ${seconds}s, seeds: ${seeds[*]:-(none)}${opts[*]:+, ${opts[*]}}"
  log=$build/crashes/$name.log
  "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$build/crashes/$name-" "${opts[@]}" \
       "$run_dir" "${seeds[@]}" >"$log" 2>&1
  st=$?
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed 's/^/   /'
  if [ $st -ne 0 ]; then
    failed=1
    echo "   CRASH (exit status $st), log: $log"
    grep -E 'ERROR: |SUMMARY: |Test unit written to' "$log" | head -5 | sed 's/^/   /'
  else
    echo "   ok, no crash"
  fi
done
if [ $failed -ne 0 ]; then
  echo "fuzz: crashes found; artifacts in $build/crashes/ (replay: $build/bin/TARGET FILE)"
  exit 1
fi
echo "fuzz: no crash"
