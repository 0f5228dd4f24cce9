#!/bin/sh
# expect.sh STATUS STDOUT-SUBSTRING STDERR-SUBSTRING COMMAND...
# Runs COMMAND and checks its exit status and that its stdout/stderr contain the given
# strings (empty = no check; "\n" in a string stands for a newline; a leading "=" asks
# for the whole output, trailing newlines aside).
want_status=$1 want_out=$2 want_err=$3
shift 3
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
"$@" >"$tmp/out" 2>"$tmp/err"
status=$?
fail=0
if [ "$status" != "$want_status" ]; then
  echo "exit status $status, expected $want_status"
  fail=1
fi
contains() { # FILE STRING: literal substring test, or exact with a leading "="
  haystack=$(cat "$1")
  needle=$(printf '%b' "$2")
  case "$needle" in
    =*) [ "$haystack" = "${needle#=}" ]; return ;;
  esac
  case "$haystack" in
    *"$needle"*) return 0 ;;
  esac
  return 1
}
if [ -n "$want_out" ] && ! contains "$tmp/out" "$want_out"; then
  echo "stdout lacks: $want_out"
  fail=1
fi
if [ -n "$want_err" ] && ! contains "$tmp/err" "$want_err"; then
  echo "stderr lacks: $want_err"
  fail=1
fi
if [ $fail != 0 ]; then
  echo "command: $*"
  echo "--- stdout"; cat "$tmp/out"
  echo "--- stderr"; cat "$tmp/err"
fi
exit $fail
