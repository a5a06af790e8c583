# bench/offload.sh: the figures of the kernel fast path (issue 15), sourced
# by bench/bench.sh: (i) server CPU per relayed packet at paced rates, (j)
# the saturated rate with the server core's busy share, (k) the latency
# added, each for turnd with kernel-offload = on, turnd with it off (the
# user-space path), coturn and bench/fwd, side by side in every round.
# docs/BENCHMARKS.md explains the method; this file only runs it.
#
# The fast path acts on packets that arrive on a real interface (TC
# ingress), never on loopback, so these figures run in three network
# namespaces made here and deleted on exit (bench.sh's cleanup calls
# ofl_teardown), joined by two veth pairs:
#
#   client ns: cs 10.199.1.2 (+ .10-.41)  <->  sc 10.199.1.1: server ns
#   server ns: sp 10.199.2.1 (relay)      <->  ps 10.199.2.2: peer ns
#
# turnload runs in the client namespace, the server in the server
# namespace (listening on 10.199.1.1, relaying from 10.199.2.1), turnpeer
# in the peer namespace. Transmit checksum offload is off on cs and ps:
# datagrams that local sockets send through a veth are CHECKSUM_PARTIAL,
# which the program leaves to user space; a wire delivers them final. The
# server namespace does not forward, except for the no-relay latency
# baseline of (k).
#
# Knobs: BENCH_OFFLOAD_SERVERS ("turnd_on turnd_off coturn fwd"),
# BENCH_OFFLOAD_FLOOR (1: seconds of the idle sample before each CPU
# measurement; 0: none), BENCH_OFFLOAD_LAT_RATE (20000 round trips/s for
# (k)), BENCH_NETNS (the namespaces' prefix; default turnd-bench-PID).

OFL_SERVERS=${BENCH_OFFLOAD_SERVERS:-"turnd_on turnd_off coturn fwd"}
OFL_FLOOR=${BENCH_OFFLOAD_FLOOR:-1}
OFL_LAT_RATE=${BENCH_OFFLOAD_LAT_RATE:-20000}
OFL_NS=${BENCH_NETNS:-turnd-bench-$$}
OFL_NET_C=10.199.1 OFL_NET_P=10.199.2
OFL_MADE="" OFL_STATS_OLD="" OFL_KSOFTIRQD=""
# 1 when the kernel counts softirq time apart from the tasks it interrupts
# (CONFIG_IRQ_TIME_ACCOUNTING, not disabled by tsc=noirqtime); else, with
# tick accounting, a softirq tick is also the interrupted task's stime.
OFL_IRQTIME=0
if { zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; } |
	grep -q '^CONFIG_IRQ_TIME_ACCOUNTING=y' && ! grep -q noirqtime /proc/cmdline; then
	OFL_IRQTIME=1
fi

for s in $OFL_SERVERS; do
	case "$s" in
	turnd_on | turnd_off | coturn | fwd) ;;
	*) echo "bench: BENCH_OFFLOAD_SERVERS: unknown server '$s'" >&2; exit 2 ;;
	esac
done

# ofl_ns SUFFIX CMD...: CMD in the namespace OFL_NS-SUFFIX.
ofl_ns() {
	ns=$OFL_NS-$1
	shift
	ip netns exec "$ns" "$@"
}

# The three namespaces and their links. Returns 1 (with a note) when the
# kernel or the privileges do not allow it.
ofl_setup() {
	# The kernel threads that run softirqs deferred on the load core(s).
	OFL_KSOFTIRQD=$(for c in /proc/[0-9]*/comm; do
		case "$(cat "$c" 2>/dev/null)" in ksoftirqd/0 | ksoftirqd/[0-9]*)
			[ "$PIN" = 1 ] && [ "$(cat "$c")" != ksoftirqd/0 ] && continue
			p=${c#/proc/}; echo "${p%/comm}" ;;
		esac
	done)
	for t in ip ethtool; do
		command -v "$t" >/dev/null || { note "(i)-(k): $t is missing"; return 1; }
	done
	for n in c s p; do
		ip netns add "$OFL_NS-$n" || { note "(i)-(k): ip netns add failed"; return 1; }
		OFL_MADE="$OFL_MADE $n"
	done
	{
		ip link add cs netns "$OFL_NS-c" type veth peer name sc netns "$OFL_NS-s" &&
			ip link add ps netns "$OFL_NS-p" type veth peer name sp netns "$OFL_NS-s" &&
			ofl_ns c ip addr add "$OFL_NET_C.2/24" dev cs &&
			ofl_ns s ip addr add "$OFL_NET_C.1/24" dev sc &&
			ofl_ns s ip addr add "$OFL_NET_P.1/24" dev sp &&
			ofl_ns p ip addr add "$OFL_NET_P.2/24" dev ps &&
			ofl_ns c ethtool -K cs tx off >/dev/null &&
			ofl_ns p ethtool -K ps tx off >/dev/null &&
			ofl_ns s sysctl -qw net.ipv4.ip_forward=0
	} >>"$RAW" 2>&1 || { note "(i)-(k): the veth links could not be made"; return 1; }
	h=10
	while [ "$h" -lt $((10 + 32)) ]; do
		ofl_ns c ip addr add "$OFL_NET_C.$h/24" dev cs
		h=$((h + 1))
	done
	for n in c s p; do ofl_ns "$n" ip link set lo up; done
	ofl_ns c ip link set cs up && ofl_ns s ip link set sc up &&
		ofl_ns s ip link set sp up && ofl_ns p ip link set ps up || return 1
	# Only for the no-relay baseline of (k), when the server namespace
	# forwards: the client and the peer reach each other through it.
	ofl_ns c ip route add "$OFL_NET_P.0/24" via "$OFL_NET_C.1" &&
		ofl_ns p ip route add "$OFL_NET_C.0/24" via "$OFL_NET_P.1" || return 1
	echo "netns: $OFL_NS-c (turnload, cs $OFL_NET_C.2 and .10-.41, tx checksum offload off)," \
		"$OFL_NS-s (server: sc $OFL_NET_C.1, sp $OFL_NET_P.1), $OFL_NS-p (turnpeer, ps" \
		"$OFL_NET_P.2, tx checksum offload off), veth pairs cs-sc and sp-ps" >>"$META"
}

# Delete what ofl_setup made and restore bpf_stats_enabled; called by
# bench.sh's cleanup after every process was stopped. Idempotent.
ofl_teardown() {
	for n in $OFL_MADE; do
		for pid in $(ip netns pids "$OFL_NS-$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		ip netns del "$OFL_NS-$n" 2>/dev/null
	done
	OFL_MADE=""
	if [ -n "$OFL_STATS_OLD" ]; then
		sysctl -qw kernel.bpf_stats_enabled="$OFL_STATS_OLD"
		OFL_STATS_OLD=""
	fi
}

# Busy ticks (user + nice + system + irq + softirq) and softirq ticks of
# the whole machine, then busy, total and softirq ticks of cores 0 and 1.
ofl_stat_snap() {
	awk '$1 == "cpu" { printf "%d %d ", $2 + $3 + $4 + $7 + $8, $8 }
		$1 == "cpu0" || $1 == "cpu1" { b = $2 + $3 + $4 + $7 + $8
			printf "%d %d %d ", b, b + $5 + $6 + $9, $8 }' /proc/stat
}

ofl_ksoftirqd_ticks() {
	t=0
	for p in $OFL_KSOFTIRQD; do t=$((t + $(proc_ticks "$p"))); done
	echo "$t"
}

# ofl_bpf_snap PID: the BPF programs PID holds (by descriptor, or by a
# link): their summed run_time_ns and run_cnt (bpf_stats_enabled), and
# from their offload_stats map the packets relayed to the peer and to the
# client and those passed up for a checksum not final. "nan" when none.
ofl_bpf_snap() {
	python3 - "$1" <<'EOF'
import json, os, subprocess, sys
pid = sys.argv[1]
def bpftool(*args):
    try:
        out = subprocess.run(["bpftool", "-j"] + list(args), capture_output=True, text=True, timeout=10)
        return json.loads(out.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
progs = set()
try:
    for fd in os.listdir("/proc/%s/fdinfo" % pid):
        try:
            for line in open("/proc/%s/fdinfo/%s" % (pid, fd)):
                if line.startswith("prog_id:"):
                    progs.add(int(line.split()[1]))
        except OSError:
            pass
except OSError:
    pass
run_ns = run_cnt = 0
maps = set()
for p in progs:
    info = bpftool("prog", "show", "id", str(p)) or {}
    run_ns += info.get("run_time_ns", 0)
    run_cnt += info.get("run_cnt", 0)
    maps.update(info.get("map_ids", []))
def value(v):
    # formatted by BTF (an integer), or raw little-endian bytes
    if isinstance(v, int):
        return v
    if isinstance(v, list):
        return int.from_bytes(bytes(int(b, 16) for b in v), "little")
    return 0
stat = None
for m in maps:
    if (bpftool("map", "show", "id", str(m)) or {}).get("name") != "offload_stats":
        continue
    stat = stat or {}
    for e in bpftool("map", "dump", "id", str(m)) or []:
        e = e.get("formatted", e)
        k = value(e.get("key"))
        stat[k] = stat.get(k, 0) + sum(value(c.get("value")) for c in e.get("values", []))
if not progs:
    print("nan nan nan nan nan")
else:
    # enum offload_stat: TO_PEER_PKTS 0, TO_CLIENT_PKTS 2, PASS_CSUM 10
    s = lambda i: "nan" if stat is None else str(stat.get(i, 0))
    print(run_ns, run_cnt, s(0), s(2), s(10))
EOF
}

# ofl_load TAG SECONDS RATE: a measured turnload run of 4 sessions at RATE
# round trips/s (0: flood) against the server, after an idle sample of
# OFL_FLOOR seconds (the machine's own load, subtracted). Sets OFL_* (see
# the python below) and returns turnload's status.
ofl_load() {
	f0=$(ofl_stat_snap)
	[ "$OFL_FLOOR" -gt 0 ] && sleep "$OFL_FLOOR"
	f1=$(ofl_stat_snap)
	s0=$(ofl_stat_snap)
	k0=$(ofl_ksoftirqd_ticks)
	b0=$(ofl_bpf_snap "${SRV_CHILD:-0}")
	load "$1" "$2" -n 4 -l "$PAYLOAD" -r "$3" -d "$2" $(target_args "")
	rc=$?
	s1=$(ofl_stat_snap)
	k1=$(ofl_ksoftirqd_ticks)
	b1=$(ofl_bpf_snap "${SRV_CHILD:-0}")
	set -- $(jvals "$LOAD_OUT" received recv_pps)
	for v in MACHINE LITERAL PROC SI_LOAD FLOOR_US ATTRIB CORE1 FLOOR_PCT BUSY0 SI0_PCT BUSY1 PPS \
		RELAYED BPF BPF_RUNS KSHARE CSUM; do
		eval "OFL_$v=nan" # none stale if the python below fails
	done
	eval "$(python3 - "$f0" "$f1" "$OFL_FLOOR" "$s0" "$s1" "$b0" "$b1" "$1" "$2" \
		"$TICKS" "$LOAD_S" "$PEER_TICKS" "$WALL_S" "$CLK_TCK" "$PIN" "$OFL_IRQTIME" \
		$((k1 - k0)) <<'EOF'
import sys
a = sys.argv[1:]
f0, f1 = [list(map(float, x.split())) for x in a[0:2]]
floor_s = float(a[2])
s0, s1 = [list(map(float, x.split())) for x in a[3:5]]
b0, b1 = [x.split() for x in a[5:7]]
recv, recv_pps, srv_ticks, load_s, peer_ticks, wall, hz = map(float, a[7:14])
pinned, irqtime = a[14] == "1", a[15] == "1"
ksoftirqd = float(a[16])  # softirq deferred to ksoftirqd: never in turnload's or turnpeer's time
d = [y - x for x, y in zip(s0, s1)]  # busy, si, busy0, tot0, si0, busy1, tot1, si1
relayed = 2 * recv
# the machine's own load, per second of the idle sample, over the run
floor = (f1[0] - f0[0]) / floor_s * wall if floor_s > 0 else 0.0
busy = d[0] - floor
load_peer = load_s * hz + peer_ticks
# Tick accounting charges a softirq to the task it interrupted: the
# server's receive work (and all of the fast path) runs in the softirq of
# the sender's veth transmit, on the load core, inside turnload's and
# turnpeer's system time. Those ticks go back to the server. (With IRQ
# time accounting they were never in the tasks' time.)
si_load = d[4] if pinned else d[1]
si_back = 0 if irqtime else min(max(si_load - ksoftirqd, 0), load_peer)
out = {}
def per_pkt(ticks):
    return "%.4f" % (ticks / hz * 1e6 / relayed) if relayed > 0 else "nan"
out["MACHINE"] = per_pkt(busy - load_peer + si_back)
out["LITERAL"] = per_pkt(busy - load_peer)
out["PROC"] = per_pkt(srv_ticks)
out["SI_LOAD"] = per_pkt(si_load)
out["FLOOR_US"] = per_pkt(floor)
out["ATTRIB"] = per_pkt(srv_ticks + si_load)
out["CORE1"] = per_pkt(d[5])
# how busy the machine was without us, in percent of all its cores
ncpu = max(1, len([1 for x in open("/proc/stat") if x[:3] == "cpu" and x[3].isdigit()]))
out["FLOOR_PCT"] = "%.0f" % (100 * (f1[0] - f0[0]) / hz / floor_s / ncpu) if floor_s > 0 else "nan"
out["BUSY0"] = "%.1f" % (100 * d[2] / d[3]) if d[3] > 0 else "nan"
out["SI0_PCT"] = "%.1f" % (100 * d[4] / d[3]) if d[3] > 0 else "nan"
out["BUSY1"] = "%.1f" % (100 * d[5] / d[6]) if d[6] > 0 else "nan"
out["PPS"] = "%.1f" % (2 * recv_pps) if recv_pps == recv_pps else "nan"
out["RELAYED"] = "%d" % relayed if relayed == relayed else "nan"
def delta(i):
    try:
        return float(b1[i]) - float(b0[i])
    except (ValueError, IndexError):
        return float("nan")
run_ns, run_cnt, to_peer, to_client, csum = (delta(i) for i in range(5))
ok = relayed > 0 and run_cnt == run_cnt
out["BPF"] = "%.4f" % (run_ns / 1e3 / relayed) if ok and run_cnt > 0 else "nan"
out["BPF_RUNS"] = "%.3f" % (run_cnt / relayed) if ok else "nan"
out["KSHARE"] = "%.1f" % (100 * (to_peer + to_client) / relayed) if relayed > 0 and to_peer == to_peer else "nan"
out["CSUM"] = "%d" % csum if csum == csum else "nan"
for k, v in out.items():
    print("OFL_%s=%s" % (k, "nan" if v in ("nan", "-nan") else v))
EOF
)"
	echo "  (offload figures: relayed $OFL_RELAYED; per relayed packet, µs: machine $OFL_MACHINE" \
		"(literal, busy - turnload - turnpeer: $OFL_LITERAL), server process $OFL_PROC," \
		"softirq on the load core $OFL_SI_LOAD, floor subtracted $OFL_FLOOR_US (machine" \
		"$OFL_FLOOR_PCT% busy before), BPF program" \
		"$OFL_BPF ($OFL_BPF_RUNS runs per packet); kernel carried $OFL_KSHARE%, checksum" \
		"passes $OFL_CSUM; core 0 busy $OFL_BUSY0% ($OFL_SI0_PCT% softirq), core 1 busy $OFL_BUSY1%)" >>"$RAW"
	return "$rc"
}

# rec_ofl FIGURE VALUE: VALUE, or fail when it is not a number.
rec_ofl() { if num "$2"; then rec "$1" "$SRV_KIND" "$2"; else rec "$1" "$SRV_KIND" fail; fi; }

# (i) at each CPU_RATE, 4 sessions: the machine figure and, beside it, the
# server process's own time, the program's run time and the kernel's share.
fig_ofl_cpu() {
	for rate in $CPU_RATE; do
		if ! ofl_load "$SRV_KIND-offload-cpu-$rate" "$SECS" "$rate"; then
			for k in cpu cpu_attr cpu_lit cpu_proc cpu_si; do rec "ko_${k}_$rate" "$SRV_KIND" fail; done
			continue
		fi
		set -- $(jvals "$LOAD_OUT" loss_pct)
		num "$1" && true_if "$1 > 0.1" &&
			note "$SRV_KIND round $ROUND: $1% lost at (i)'s $rate/s"
		offered_ok "$rate" "$SRV_KIND (i) run"
		num "$OFL_FLOOR_PCT" && true_if "$OFL_FLOOR_PCT > 10" &&
			note "$SRV_KIND round $ROUND: the machine was $OFL_FLOOR_PCT% busy before (i)'s $rate/s run: its whole-machine figure counts other work"
		rec_ofl "ko_cpu_$rate" "$OFL_MACHINE"
		rec_ofl "ko_cpu_attr_$rate" "$OFL_ATTRIB"
		rec_ofl "ko_cpu_lit_$rate" "$OFL_LITERAL"
		rec_ofl "ko_cpu_proc_$rate" "$OFL_PROC"
		rec_ofl "ko_cpu_si_$rate" "$OFL_SI_LOAD"
		[ "$SRV_KIND" = turnd_on ] || continue # the others have no program
		rec_ofl "ko_bpf_$rate" "$OFL_BPF"
		rec_ofl "ko_bpf_runs_$rate" "$OFL_BPF_RUNS"
		rec_ofl "ko_kshare_$rate" "$OFL_KSHARE"
	done
}

# (j) flood, 4 sessions: relayed packets/s, the two cores' busy shares and
# the CPU per relayed packet.
fig_ofl_saturated() {
	if ! ofl_load "$SRV_KIND-offload-flood" "$SECS" 0; then
		for k in pps busy1 busy0 cpu cpu_attr cpu_proc; do rec "ko_sat_$k" "$SRV_KIND" fail; done
		return
	fi
	rec_ofl ko_sat_pps "$OFL_PPS"
	rec_ofl ko_sat_busy1 "$OFL_BUSY1"
	rec_ofl ko_sat_busy0 "$OFL_BUSY0"
	rec_ofl ko_sat_si0 "$OFL_SI0_PCT"
	rec_ofl ko_sat_cpu "$OFL_MACHINE"
	rec_ofl ko_sat_cpu_attr "$OFL_ATTRIB"
	rec_ofl ko_sat_cpu_proc "$OFL_PROC"
	[ "$SRV_KIND" = turnd_on ] && rec_ofl ko_sat_bpf "$OFL_BPF"
	rec_ofl ko_sat_cpu_load "$CPU_LOAD"
	rec_ofl ko_sat_cpu_peer "$CPU_PEER"
}

# ofl_rps on|off: steer each veth's receive work (RPS) to the core of the
# namespace that receives: the server's (sc, sp) to core 1, the load
# tool's and the peer's (cs, ps) to core 0, as a NIC's queue interrupt on
# the server's core would. Without it a veth receives on the sender's core
# (inside its sendmmsg), so the server's kernel work, all of the fast
# path's among it, lands on the load core.
ofl_rps() {
	case "$1" in on) s=2 c=1 ;; *) s=0 c=0 ;; esac
	ofl_ns s sh -c "echo $s >/sys/class/net/sc/queues/rx-0/rps_cpus &&
		echo $s >/sys/class/net/sp/queues/rx-0/rps_cpus" &&
		ofl_ns c sh -c "echo $c >/sys/class/net/cs/queues/rx-0/rps_cpus" &&
		ofl_ns p sh -c "echo $c >/sys/class/net/ps/queues/rx-0/rps_cpus"
}

# (j) again with the receive work steered (ofl_rps): everything on core 1
# is then the server's, so its busy time per relayed packet is the
# server's CPU per packet, the same formula for every server.
fig_ofl_steered() {
	[ "$PIN" = 1 ] || return 0 # the steering names the pinned cores
	if ! ofl_rps on >>"$RAW" 2>&1; then
		note "(j) steered: RPS could not be set"
		return
	fi
	echo "\$ (receive work steered: RPS sc, sp -> core 1; cs, ps -> core 0)" >>"$RAW"
	if ofl_load "$SRV_KIND-offload-flood-steered" "$SECS" 0; then
		rec_ofl ko_rps_pps "$OFL_PPS"
		rec_ofl ko_rps_busy1 "$OFL_BUSY1"
		rec_ofl ko_rps_core1 "$OFL_CORE1"
	else
		for k in pps busy1 core1; do rec "ko_rps_$k" "$SRV_KIND" fail; done
	fi
	ofl_rps off >>"$RAW" 2>&1
}

# (k) p50 and p99 at OFL_LAT_RATE, 4 sessions, through the relay and, with
# the server namespace forwarding for that run only, straight to the peer.
fig_ofl_latency() {
	rate=$OFL_LAT_RATE
	load "$SRV_KIND-offload-latency-at-$rate" "$SECS" -n 4 -l "$PAYLOAD" -r "$rate" -d "$SECS" \
		$(target_args "") || rate=""
	relay=$(jvals "$LOAD_OUT" latency_us.p50 latency_us.p99)
	offered_ok "$rate" "$SRV_KIND (k) run"
	kind=$SRV_KIND saved=$SRV_CHILD
	SRV_KIND=base SRV_CHILD=""
	ofl_ns s sysctl -qw net.ipv4.ip_forward=1
	[ -n "$rate" ] && load "base-offload-latency-at-$rate" "$SECS" -n 4 -l "$PAYLOAD" -r "$rate" \
		-d "$SECS" $(target_args "") || rate=""
	ofl_ns s sysctl -qw net.ipv4.ip_forward=0
	base=$(jvals "$LOAD_OUT" latency_us.p50 latency_us.p99)
	SRV_KIND=$kind SRV_CHILD=$saved
	set -- $relay $base
	for f in "p50 $1 $3" "p99 $2 $4"; do
		set -- $f
		if [ -n "$rate" ] && num "$2" && num "$3"; then
			rec "ko_lat_$1" "$SRV_KIND" "$(calc "$2 - $3")"
			rec "ko_lat_$1.abs" "$SRV_KIND" "$2"
			rec "ko_lat_$1.base" "$SRV_KIND" "$3"
		else
			rec "ko_lat_$1" "$SRV_KIND" fail
		fi
	done
}

# The configuration line that selects the path: kernel-offload = on or off.
# A build that does not know the option has only the user-space path: its
# "off" runs without the line.
ofl_extra() { # KIND
	case "$1" in
	turnd_on) echo "kernel-offload = on" ;;
	turnd_off)
		printf 'realm = "x"\nkernel-offload = off\n' >"$W/offload-check.conf"
		if "$TURND" --check-config -c "$W/offload-check.conf" >/dev/null 2>&1; then
			echo "kernel-offload = off"
		fi ;;
	esac
}

ofl_server_round() { # KIND
	SRV_KIND=$1
	if [ "$1" = fwd ]; then
		start_fwd || SRV_PID=""
	else
		TURND_EXTRA=$(ofl_extra "$1")
		start_server "$1" || SRV_PID=""
	fi
	if [ -z "$SRV_PID" ]; then
		for rate in $CPU_RATE; do rec "ko_cpu_$rate" "$1" fail; done
		want j && rec ko_sat_cpu "$1" fail
		want k && rec ko_lat_p50 "$1" fail
		return
	fi
	want i && fig_ofl_cpu
	want j && fig_ofl_saturated
	want j && fig_ofl_steered
	case "$1" in turnd_on | turnd_off) want k && fig_ofl_latency ;; esac
	if [ "$1" = fwd ]; then
		stop_server
		grep '^fwd:' "$W/fwd.log" | tail -n 1 >>"$RAW"
	else
		stop_server
	fi
	TURND_EXTRA=""
}

# Figures (i), (j), (k): the namespaces, a peer of their own, the rounds
# (the order reversed every other round, as bench.sh does), then down.
ofl_run() {
	want i j k || return 0
	ofl_setup || return 0
	impls=""
	for s in $OFL_SERVERS; do
		[ "$s" = coturn ] && [ -z "$HAVE_COTURN" ] && continue
		impls="$impls $s"
	done
	case " $impls " in *" turnd_on "*)
		if want i j; then
			OFL_STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled)
			sysctl -qw kernel.bpf_stats_enabled=1
		fi ;;
	esac
	ofl_load_pin=$PIN_LOAD ofl_srv_pin=$PIN_SRV
	PIN_LOAD="ip netns exec $OFL_NS-c $ofl_load_pin"
	PIN_SRV="ip netns exec $OFL_NS-s $ofl_srv_pin"
	IN_CLIENT="ip netns exec $OFL_NS-c"
	LISTEN_IP=$OFL_NET_C.1 PEER_IP=$OFL_NET_P.2 RELAY_LIST=$OFL_NET_P.1
	CLIENT_NET=$OFL_NET_C. CLIENT_HOST0=10 CLIENT_HOSTS=32
	PEER_PORT=$(free_port) || { note "(i)-(k): no free port"; return 0; }
	echo "\$ ip netns exec $OFL_NS-p $ofl_load_pin $TURNPEER -L $PEER_IP -p $PEER_PORT -q" >>"$RAW"
	spawn "$TOTAL_TIMEOUT" "$W/offload-peer.log" ip netns exec "$OFL_NS-p" $ofl_load_pin \
		"$TURNPEER" -L "$PEER_IP" -p "$PEER_PORT" -q
	PEER_PID=$SPAWN_PID PEER_CHILD=$SPAWN_CHILD
	sleep 0.2
	alive "$PEER_PID" || { note "(i)-(k): turnpeer did not start: $(cat "$W/offload-peer.log")"; return 0; }
	ROUND=1
	while [ "$ROUND" -le "$ROUNDS" ]; do
		for impl in $(round_order "$impls"); do
			say "round $ROUND/$ROUNDS, figures (i)-(k) in namespaces: $impl ($(($(date +%s) - start_s)) s)"
			ofl_server_round "$impl"
		done
		ROUND=$((ROUND + 1))
	done
	stop "$PEER_PID"
	echo "figures (i)-(k): servers$impls; kernel.bpf_stats_enabled during the runs:" \
		"$(sysctl -n kernel.bpf_stats_enabled); idle sample ${OFL_FLOOR} s before each CPU run;" \
		"softirq time $([ "$OFL_IRQTIME" = 1 ] && echo "apart from tasks (IRQ time accounting)" ||
			echo "in the interrupted task's time (tick accounting): the load core's goes back to the server");" \
		"(k) at $OFL_LAT_RATE round trips/s" >>"$META"
	PIN_LOAD=$ofl_load_pin PIN_SRV=$ofl_srv_pin IN_CLIENT=""
}

# The table of (i), (j), (k), from bench.sh's RESULTS: medians over the
# rounds, offload on against off, coturn and the forwarder.
ofl_table() {
	want i j k || return 0
	python3 - "$RESULTS" "$CPU_RATE" "$FIGURES" "$OFL_LAT_RATE" <<'EOF'
import statistics, sys
results, rates, figures, lat_rate = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
vals = {}
for line in open(results):
    fig, impl, rnd, v = line.rstrip("\n").split("\t")
    if not fig.startswith("ko_"):
        continue
    try:
        v = float(v)
    except ValueError:
        v = "fail"
    vals.setdefault((fig, impl), []).append(v)

def median(fig, impl):
    vs = vals.get((fig, impl))
    if not vs:
        return None, ""
    nums = [v for v in vs if v != "fail"]
    if not nums:
        return "fail", ""
    return statistics.median(nums), "" if len(nums) == len(vs) else " (%d/%d)" % (len(nums), len(vs))

def fmt(v, unit):
    if v is None:
        return "n/a"
    if v == "fail":
        return "fail"
    if unit in ("us", "%"):
        return "%.2f" % v if abs(v) < 10 else "%.1f" % v
    return "{:,.0f}".format(v) if abs(v) >= 100 else "%.2f" % v

def ratio(a, b):
    ok = isinstance(a, float) and isinstance(b, float) and a > 0 and b > 0
    return "%.2fx" % (a / b) if ok else ""

# id, label, unit, target: (other server, highest ratio) or None
rows = []
for r in rates:
    rows += [("ko_cpu_" + r, "(i) server CPU per relayed packet at %s round trips/s, whole machine" % r,
              "us", ("coturn", 0.25)),
             ("ko_cpu_attr_" + r, "(i) the same, server process + softirq on the load core, at %s round trips/s"
              % r, "us", ("coturn", 0.25)),
             ("ko_bpf_" + r, "(i) the BPF program's own run time per relayed packet at %s round trips/s" % r,
              "us", None),
             ("ko_cpu_proc_" + r, "(i) the server process's CPU per relayed packet at %s round trips/s" % r,
              "us", None),
             ("ko_kshare_" + r, "(i) relayed packets the kernel carried at %s round trips/s" % r, "%", None)]
rows += [("ko_sat_pps", "(j) relayed pkt/s, flood, 4 sessions", "pkt/s", None),
         ("ko_sat_busy1", "(j) server core (core 1) busy, flood", "%", None),
         ("ko_sat_busy0", "(j) load core (core 0) busy, flood", "%", None),
         ("ko_sat_si0", "(j) load core (core 0) in softirq, flood", "%", None),
         ("ko_sat_cpu", "(j) server CPU per relayed packet, flood, whole machine", "us", ("turnd_off", 0.3)),
         ("ko_sat_cpu_attr", "(j) the same, server process + softirq on the load core, flood", "us",
          ("turnd_off", 0.3)),
         ("ko_sat_bpf", "(j) the BPF program's own run time per relayed packet, flood", "us", None),
         ("ko_sat_cpu_proc", "(j) the server process's CPU per relayed packet, flood", "us", None),
         ("ko_rps_pps", "(j) steered (RPS: the server's receive work on core 1): relayed pkt/s, flood", "pkt/s",
          None),
         ("ko_rps_busy1", "(j) steered: server core (core 1) busy, flood", "%", None),
         ("ko_rps_core1", "(j) steered: server core's CPU per relayed packet, flood", "us", ("turnd_off", 0.3))]
for p in ("p50", "p99"):
    rows += [("ko_lat_" + p, "(k) latency added by the relay, %s, at %s round trips/s" % (p, lat_rate), "us", None),
             ("ko_lat_%s.abs" % p, "(k) latency through the relay, %s, at %s round trips/s" % (p, lat_rate),
              "us", None)]
rows = [row for row in rows if row[1][1] in figures]
cols = ["turnd_off", "coturn", "fwd"]
names = {"turnd_on": "offload on", "turnd_off": "offload off", "coturn": "coturn", "fwd": "fwd"}
print("Kernel fast path, figures (i) to (k): turnd with kernel-offload = on against the same")
print("turnd with it off (the user-space path), coturn and bench/fwd, in network namespaces joined")
print("by veth pairs (docs/BENCHMARKS.md); medians over the rounds.")
print()
short = {"turnd_off": "off", "coturn": "coturn", "fwd": "fwd"}
head = ["figure", "unit", "offload on"] + [h for c in cols for h in (names[c], "on/" + short[c])]
print("| " + " | ".join(head + ["target", "met"]) + " |")
print("| --- | --- | ---: | " + "---: | " * (2 * len(cols)) + "--- | --- |")
for fig, label, unit, target in rows:
    on, tag = median(fig, "turnd_on")
    cells = [label, unit.replace("us", "µs"), fmt(on, unit) + tag]
    got = {}
    for c in cols:
        got[c], t = median(fig, c)
        cells += [fmt(got[c], unit) + t if got[c] is not None else "", ratio(on, got[c])]
    met, text = "", ""
    if target:
        other, most = target
        text = "<= %gx %s" % (most, names[other])
        r = ratio(on, got[other])
        met = ("yes" if on / got[other] <= most else "no") if r else ""
    print("| " + " | ".join(cells + [text, met]) + " |")
extra = []
for p in ("p50", "p99"):
    a, _ = median("ko_lat_%s.abs" % p, "turnd_on")
    b, _ = median("ko_lat_%s.abs" % p, "turnd_off")
    base, _ = median("ko_lat_%s.base" % p, "turnd_off")
    if isinstance(a, float) and isinstance(b, float):
        extra.append("- (k) %s: offload on minus off, through the relay: %+.1f µs (no-relay baseline %s µs)"
                     % (p, a - b, fmt(base, "us")))
for r in rates:
    # the method's check: with the user-space path, the machine figure
    # should be the server's process time plus the softirq work on the
    # load core (the server's receive path); the literal formula misses it
    m, _ = median("ko_cpu_" + r, "turnd_off")
    pr, _ = median("ko_cpu_proc_" + r, "turnd_off")
    si, _ = median("ko_cpu_si_" + r, "turnd_off")
    lit, _ = median("ko_cpu_lit_" + r, "turnd_off")
    if all(isinstance(x, float) for x in (m, pr, si, lit)):
        extra.append("- (i) check, offload off at %s/s: whole machine %.2f µs = server process %.2f + "
                     "softirq on the load core %.2f (sum %.2f); busy - turnload - turnpeer alone: %.2f"
                     % (r, m, pr, si, pr + si, lit))
if extra:
    print()
    print("\n".join(extra))
EOF
}
