#!/bin/sh
# make bench, shortened: bench/bench.sh with BENCH_SMOKE=1 (one round,
# 1-second measurements, small N) must run every step and print the whole
# table, with a number for turnd in every row, and for coturn too when
# Debian's turnserver is installed. Then the A/B form: turnd against a
# second build as turnd_base (here the same binary), figure (c) only. Then
# figure (i) alone, the kernel fast path's CPU figure, with the offload
# off: its network namespaces are made, used and deleted. It proves that
# the benchmark works; the numbers themselves mean nothing here
# (docs/BENCHMARKS.md).
. "$top_srcdir/tests/interop/lib.sh"

: "${top_builddir:=.}"
TURNPEER=${TURNPEER:-$top_builddir/turnpeer}
TURNLOAD=${TURNLOAD:-$top_builddir/turnload}
BENCH_FWD=${BENCH_FWD:-$top_builddir/bench/fwd}
OUT=$T_DIR/bench.md

built() { [ -x "$1" ]; }
check "turnload is built ($TURNLOAD)" built "$TURNLOAD"
check "bench/fwd is built ($BENCH_FWD)" built "$BENCH_FWD"

run_bench() { # TABLE [VAR=VALUE...]
	table=$1
	shift
	env TURND="$TURND" TURNPEER="$TURNPEER" TURNPROBE="$TURNPROBE" TURNLOAD="$TURNLOAD" \
		BENCH_FWD="$BENCH_FWD" BENCH_SMOKE=1 BENCH_OUT="$table" "$@" \
		timeout -k 10 170 sh "$top_srcdir/bench/bench.sh" >"${table%.md}.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "  bench.sh exited $rc:"
		tail -n 30 "${table%.md}.out" | sed 's/^/  | /'
		return 1
	fi
}
start=$(date +%s)
check "BENCH_SMOKE=1 bench/bench.sh runs to the end" run_bench "$OUT" \
	BENCH_FIGURES="a b c d e f g h"
echo "  bench.sh took $(($(date +%s) - start)) s"

has_table() { [ -s "$OUT" ] && grep -q '^| figure | unit | turnd | coturn |' "$OUT"; }
check "the table is written to BENCH_OUT" has_table

# column N of the table row whose figure starts with LABEL [in TABLE]
cell() {
	awk -F' *[|] *' -v label="$1" -v col="$2" 'index($2, label) == 1 { print $(col + 1); exit }' \
		"${3:-$OUT}"
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

# The A/B form: BENCH_SERVERS="turnd turnd_base", BENCH_FIGURES=c. The
# table has the two builds' columns and their ratio, no coturn or fwd
# column, no row but (c)'s, and a line per row under it giving the ratio;
# the rounds ran turnd then turnd_base, and the forwarder did not run.
# TURND_BASE is turnd behind a script that notes how it was started, to
# tell that turnd_base is that program and not TURND again.
AB=$T_DIR/ab.md
BASE_RAN=$T_DIR/base.ran
printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$BASE_RAN" "$TURND" >"$T_DIR/turnd_base"
chmod +x "$T_DIR/turnd_base"
fails0=$T_FAIL
start=$(date +%s)
check "bench/bench.sh runs with turnd_base and figure (c) only" run_bench "$AB" \
	BENCH_SERVERS="turnd turnd_base" TURND_BASE="$T_DIR/turnd_base" BENCH_FIGURES=c \
	BENCH_CPU_RATE="20000 50000"
echo "  bench.sh took $(($(date +%s) - start)) s"
check "turnd_base ran TURND_BASE with its own configuration" \
	grep -q '^-c .*/turnd_base[.]conf$' "$BASE_RAN"
check "the A/B table's columns are turnd, turnd_base and their ratio" \
	grep -qx '| figure | unit | turnd | turnd_base | turnd/turnd_base | target | met |' "$AB"
lacks() { ! grep -q "$@"; }
check "the A/B table has no row but figure (c)'s" lacks '^| ([abd-h]) ' "$AB"
c_rows=0
while IFS= read -r label; do
	[ -n "$label" ] || continue
	c_rows=$((c_rows + 1))
	t=$(cell "$label" 3 "$AB") b=$(cell "$label" 4 "$AB") r=$(cell "$label" 5 "$AB")
	if is_number "$t" && is_number "$b" && is_number "${r%x}"; then
		ok "A/B: $label: turnd $t, turnd_base $b, $r"
	else
		not_ok "A/B: $label: turnd '$t', turnd_base '$b', ratio '$r'"
	fi
	check "A/B: a ratio line for $label" grep -qF -- "- $label: turnd $t µs, turnd_base $b: $r, " "$AB"
done <<ROWS
$(sed -n 's/^| \((c) [^|]*[^ |]\) *|.*/\1/p' "$AB")
ROWS
# two CPU rates, each also with rx-coalesce-us
check "the A/B table has the four rows of (c) (found $c_rows)" test "$c_rows" -eq 4
rounds() { sed -n 's/^## round \([^(]*\) (.*/\1/p' "${AB%.md}.raw.log" | tr '\n' ';'; }
check "each round ran turnd then turnd_base, and no forwarder ($(rounds))" \
	test "$(rounds)" = "1/1: turnd;1/1: turnd_base;"
# Every load that ran was one of (c)'s, at 20000 or 50000 round trips/s.
only_c_loads() {
	grep '^[$] .*\(turnload\|turnutils_uclient\)' "${AB%.md}.raw.log" >"$T_DIR/ab.loads"
	echo "  $(wc -l <"$T_DIR/ab.loads") loads; others: $(grep -v -e '-r 20000 ' -e '-r 50000 ' "$T_DIR/ab.loads" | head -n 3)"
	[ -s "$T_DIR/ab.loads" ] && ! grep -q -v -e '-r 20000 ' -e '-r 50000 ' "$T_DIR/ab.loads"
}
check "only the loads of figure (c) ran" only_c_loads
if [ "$T_FAIL" -ne "$fails0" ] && [ -s "$AB" ]; then
	sed 's/^/  | /' "$AB"
fi

# Figure (i) with turnd's user-space path only (kernel-offload = off), one
# rate, in namespaces named after this test: a row with numbers, the loads
# and the server in their namespaces, nothing left behind afterwards.
KO=$T_DIR/offload.md
NS=turnd-smoke-$$
stats0=$(sysctl -n kernel.bpf_stats_enabled)
fails0=$T_FAIL
start=$(date +%s)
check "bench/bench.sh runs figure (i) with the offload off" run_bench "$KO" \
	BENCH_FIGURES=i BENCH_OFFLOAD_SERVERS=turnd_off BENCH_CPU_RATE=20000 BENCH_NETNS="$NS"
echo "  bench.sh took $(($(date +%s) - start)) s"
check "the table of (i) to (k) has the columns offload on, off, coturn, fwd" \
	grep -q '^| figure | unit | offload on | offload off | on/off | coturn | on/coturn | fwd | on/fwd |' "$KO"
check "no row of (a) to (h) nor of (j), (k)" lacks '^| ([a-hjk]) ' "$KO"
for label in "(i) server CPU per relayed packet at 20000 round trips/s, whole machine" \
	"(i) the same, server process + softirq on the load core, at 20000" \
	"(i) the server process's CPU per relayed packet at 20000"; do
	v=$(cell "$label" 4 "$KO")
	if is_number "$v"; then ok "offload off: $label = $v"; else not_ok "offload off: $label = '$v'"; fi
done
# turnload ran in the client namespace, turnd in the server one with
# kernel-offload = off when the build knows the option
check "turnload ran in $NS-c" grep -q "^[$] ip netns exec $NS-c .*turnload .*-r 20000 " "${KO%.md}.raw.log"
check "turnd ran in $NS-s" grep -q "^[$] ip netns exec $NS-s .*turnd -c .*turnd_off[.]conf" "${KO%.md}.raw.log"
check "the check line of the method is printed" grep -q '^- (i) check, offload off at 20000/s: ' "$KO"
no_netns() { ! ip netns list | grep -q "^$NS-"; }
check "the namespaces $NS-* are gone" no_netns
check "kernel.bpf_stats_enabled is as it was ($stats0)" test "$(sysctl -n kernel.bpf_stats_enabled)" = "$stats0"
if [ "$T_FAIL" -ne "$fails0" ] && [ -s "$KO" ]; then
	sed 's/^/  | /' "$KO"
fi
finish
