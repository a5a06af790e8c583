#!/bin/sh
# The make check harness runs several tests at once (TURND_CHECK_JOBS in
# Makefile.am). Each test runs under this wrapper, which takes a lock:
# shared for most tests, exclusive for those in TURND_SERIAL_TESTS (floods
# whose legitimate client must lose nothing, timing and bandwidth figures,
# the benchmark smoke test). A serial test so runs with no other test
# beside it; the others overlap freely, each on its own random ports,
# relay port block, namespaces and temporary directory.
# Usage: run_test.sh [INTERPRETER] TEST
set -u
for t in "$@"; do :; done
# The harness names a test ./tests/..., or srcdir/tests/... in a VPATH build.
name="tests/${t#*tests/}"
mode=-s
case " ${TURND_SERIAL_TESTS:-} " in
*" $name "*) mode=-x ;;
esac
lock=${TURND_CHECK_LOCK:-${TMPDIR:-/tmp}/turnd-check.lock}
# -o: the test's children do not inherit the lock; one left running (a
# peer a test failed to stop) must not hold the serial tests back.
exec flock -o "$mode" "$lock" "$@"
