#!/bin/sh
# make bench, shortened: bench/bench.sh with BENCH_SMOKE=1 (one round,
# 1-second measurements, small N) must run every step and print the whole
# table, with a number for turnd in every row, and for coturn too when
# Debian's turnserver is installed. It proves that the benchmark works; the
# numbers themselves mean nothing here (docs/BENCHMARKS.md).
. "$top_srcdir/tests/interop/lib.sh"

: "${top_builddir:=.}"
TURNPEER=${TURNPEER:-$top_builddir/turnpeer}
TURNLOAD=${TURNLOAD:-$top_builddir/turnload}
BENCH_FWD=${BENCH_FWD:-$top_builddir/bench/fwd}
OUT=$T_DIR/bench.md

built() { [ -x "$1" ]; }
check "turnload is built ($TURNLOAD)" built "$TURNLOAD"
check "bench/fwd is built ($BENCH_FWD)" built "$BENCH_FWD"

run_bench() {
	TURND=$TURND TURNPEER=$TURNPEER TURNPROBE=$TURNPROBE TURNLOAD=$TURNLOAD \
		BENCH_FWD=$BENCH_FWD BENCH_SMOKE=1 BENCH_OUT=$OUT \
		timeout -k 10 170 sh "$top_srcdir/bench/bench.sh" >"$T_DIR/bench.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "  bench.sh exited $rc:"
		tail -n 30 "$T_DIR/bench.out" | sed 's/^/  | /'
		return 1
	fi
}
start=$(date +%s)
check "BENCH_SMOKE=1 bench/bench.sh runs to the end" run_bench
echo "  bench.sh took $(($(date +%s) - start)) s"

has_table() { [ -s "$OUT" ] && grep -q '^| figure | unit | turnd | coturn |' "$OUT"; }
check "the table is written to BENCH_OUT" has_table

# column N of the table row whose figure starts with LABEL
cell() {
	awk -F' *[|] *' -v label="$1" -v col="$2" 'index($2, label) == 1 { print $(col + 1); exit }' "$OUT"
}
is_number() {
	case "$1" in
	'' | *[!0-9.,-]* | *[!0-9]) return 1 ;;
	*) return 0 ;;
	esac
}

COTURN=""
command -v turnserver >/dev/null 2>&1 && COTURN=1
rows=0
if has_table; then
	while IFS= read -r label; do
		rows=$((rows + 1))
		t=$(cell "$label" 3)
		if is_number "$t"; then ok "turnd: $label = $t"; else not_ok "turnd: $label = '$t'"; fi
		[ -n "$COTURN" ] || continue
		c=$(cell "$label" 4)
		if is_number "$c"; then ok "coturn: $label = $c"; else not_ok "coturn: $label = '$c'"; fi
	done <<ROWS
$(sed -n 's/^| \(([a-h]) [^|]*[^ |]\) *|.*/\1/p' "$OUT")
ROWS
fi
[ -n "$COTURN" ] || echo "  coturn is not installed: its column is not checked"
# (a) to (h): at least one row for each figure of BENCHMARK.md
for f in a b c d e f g h; do
	check "the table has figure ($f)" grep -q "^| ($f) " "$OUT"
done
if [ "$T_FAIL" -ne 0 ] && [ -s "$OUT" ]; then
	sed 's/^/  | /' "$OUT"
fi
finish
