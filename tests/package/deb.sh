#!/bin/sh
# The Debian package as an operator meets it (issue 17): built from the
# tracked files (scripts/deb.sh, as 'make deb'), checked by lintian,
# installed with dpkg -i where no systemd runs, its files, user and
# refusing configuration checked, the installed turnd run as
# systemd/turnd.service would run it (user turnd, the unit's capabilities
# and the part of its sandbox that can be had without systemd), probed
# with the installed turnprobe and coturn's turnutils_stunclient, and
# purged: nothing of it may be left. It installs system-wide, but no other
# test uses what it installs, so it runs beside others (its build with one
# compiler). TURND_DEB_DIR=DIR reuses a package built there.
. "$top_srcdir/tests/interop/lib.sh"

CONF=/etc/turnd/turnd.conf
RUN_DIR=""
SRV_PID=""
PEER_PID=""
t0=$(date +%s)

[ "$(id -u)" = 0 ] || { echo "deb.sh installs a package: run it as root"; exit 1; }
if dpkg-query -W -f='${Status}' turnd 2>/dev/null | grep -q 'installed'; then
	echo "a turnd package is installed already: this test would purge it; not touching it"
	exit 1
fi

# Whatever happens, leave the machine as it was: the daemon and the peer
# stopped, the package purged, the test's runtime directory gone.
deb_cleanup() {
	for p in $SRV_PID $PEER_PID; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	if dpkg-query -W -f='${Status}' turnd 2>/dev/null | grep -q 'installed'; then
		dpkg --purge turnd >/dev/null 2>&1 || echo "cleanup: dpkg --purge turnd failed"
	fi
	[ -z "$RUN_DIR" ] || rm -rf "$RUN_DIR"
	cleanup
}
trap deb_cleanup EXIT
trap 'exit 1' HUP INT TERM

# The user the package makes stays after a purge (debian/README.Debian):
# a previous run's is removed so that this run sees the package make it.
if getent passwd turnd >/dev/null; then
	echo "# removing the turnd user a previous run left"
	userdel turnd 2>/dev/null
	getent group turnd >/dev/null && groupdel turnd
fi

# ---- Build and lintian ----------------------------------------------------
DEB_DIR=${TURND_DEB_DIR:-$T_DIR/deb}
if [ -z "${TURND_DEB_DIR:-}" ]; then
	# One compiler at a time: make check runs another test beside this one.
	check "make deb's script builds the package from the tracked files" \
		env TURND_DEB_JOBS=1 sh "$top_srcdir/scripts/deb.sh" "$DEB_DIR"
fi
t_built=$(date +%s)
DEB=$(ls "$DEB_DIR"/turnd_*_*.deb 2>/dev/null | head -n 1)
CHANGES=$(ls "$DEB_DIR"/turnd_*.changes 2>/dev/null | head -n 1)
[ -n "$DEB" ] && [ -n "$CHANGES" ] || { not_ok "no .deb and .changes in $DEB_DIR"; finish; }
version=$(sed -n 's/^AC_INIT(\[turnd\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
check "the package's version is configure.ac's ($version)" \
	test "$(dpkg-deb -f "$DEB" Version)" = "$version"

# Every error and warning fails (--fail-on); an overridden one does not, and
# debian/turnd.lintian-overrides gives each its reason on the line above.
lint() {
	lintian --fail-on error,warning --tag-display-limit 0 "$CHANGES" >"$T_DIR/lintian.out" 2>&1
	rc=$?
	sed 's/^/  lintian: /' "$T_DIR/lintian.out"
	[ "$rc" -eq 0 ] && ! grep -q '^[EW]: ' "$T_DIR/lintian.out"
}
check "lintian: no error, no warning" lint
overrides_justified() {
	f=$top_srcdir/debian/turnd.lintian-overrides
	[ -e "$f" ] || return 0
	awk '/^[^#]/ && prev !~ /^#/ { bad = 1; print "  unjustified: " $0 } { prev = $0 } END { exit bad }' "$f"
}
check "every lintian override has its reason above it" overrides_justified

# ---- Install where no systemd runs ---------------------------------------
check "no systemd runs here (the case dpkg -i must survive)" test ! -d /run/systemd/system
install_deb() {
	DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" >"$T_DIR/dpkg-i.out" 2>&1
	rc=$?
	sed 's/^/  dpkg: /' "$T_DIR/dpkg-i.out"
	return $rc
}
check "dpkg -i installs it" install_deb || finish
check "  ... and starts nothing" sh -c '! pgrep -u turnd >/dev/null'
check "  ... the unit is installed, not enabled" \
	sh -c '! ls /etc/systemd/system/*.wants/turnd.service 2>/dev/null | grep -q .'

# turnadmin is turnd-admin in the package: coturn has a turnadmin of its own.
for f in /usr/sbin/turnd /usr/bin/turnctl /usr/bin/turnprobe /usr/bin/turnload \
	/usr/bin/turnpeer /usr/bin/turnd-admin; do
	check "$f is installed and runs (prints its usage)" \
		sh -c "'$f' --help 2>&1 | grep -qi usage"
done
check "turnd -V says $version" sh -c "/usr/sbin/turnd -V | grep -qx 'turnd $version'"
for m in "$top_srcdir"/man/*.[158]; do
	b=$(basename "$m")
	[ "$b" != turnadmin.1 ] || b=turnd-admin.1
	check "man page $b installed" test -s "/usr/share/man/man${b##*.}/$b.gz"
done
check "turnctl's bash completion installed under its command's name" \
	test -s /usr/share/bash-completion/completions/turnctl
check "$CONF is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' turnd | grep -q ' $CONF '"
check "  ... 0640 root:turnd (it holds passwords)" \
	test "$(stat -c '%a %U:%G' "$CONF" 2>/dev/null)" = "640 root:turnd"
check "  ... is the sample with require-credentials" cmp -s "$CONF" "$top_srcdir/conf/turnd.conf"
UNIT=/lib/systemd/system/turnd.service
check "the unit is installed" test -s "$UNIT"
check "  ... runs /usr/sbin/turnd on $CONF" \
	grep -qx "ExecStart=/usr/sbin/turnd --foreground -c $CONF" "$UNIT"
check "  ... and checks that file first" \
	grep -qx "ExecStartPre=/usr/sbin/turnd --check-config -c $CONF" "$UNIT"
check "  ... and names no path outside the package" sh -c "! grep -q /usr/local '$UNIT'"
verify_unit() {
	systemd-analyze verify "$UNIT" >"$T_DIR/verify.out" 2>&1
	rc=$?
	sed 's/^/  /' "$T_DIR/verify.out"
	[ "$rc" -eq 0 ] && [ ! -s "$T_DIR/verify.out" ]
}
check "  ... systemd-analyze verify: no complaint (binary, man pages, user)" verify_unit
check "the turnd system user exists: no home, no login" sh -c \
	"getent passwd turnd | awk -F: '\$3 < 1000 && \$6 == \"/nonexistent\" && \$7 ~ /nologin\$/ { ok = 1 } END { exit !ok }'"
check "  ... and its group" sh -c 'getent group turnd >/dev/null'

# ---- The installed configuration refuses until a credential is set --------
refuses() {
	/usr/sbin/turnd --check-config -c "$CONF" >"$T_DIR/refuse.out" 2>&1
	rc=$?
	sed 's/^/  /' "$T_DIR/refuse.out"
	[ "$rc" -ne 0 ] && grep -qF "$CONF: no credentials, and option 'require-credentials' is true: set option 'user'" "$T_DIR/refuse.out"
}
check "turnd --check-config on the installed $CONF refuses it, saying what to set" refuses

# As the operator would: edit the installed file (its mode stays).
PORT=$(free_port) && PEER_PORT=$(free_port) || { not_ok "no free port"; finish; }
MINPORT=$((PORT + 1)) MAXPORT=$((PORT + 40))
cat >>"$CONF" <<EOF
user = "alice:deb-test-pass"
listening-ip = { 127.0.0.1 }
listening-port = $PORT
relay-ip = { 127.0.0.1 }
min-port = $MINPORT
max-port = $MAXPORT
allowed-peer-ip = { 127.0.0.1 }
allow-own-peers = true
# The unit grants CAP_BPF and CAP_NET_ADMIN; the fast path is tested in
# its own namespaces (offload_netns.sh), not on this host's loopback.
kernel-offload = off
EOF
check "  ... with a user set it is accepted" sh -c "/usr/sbin/turnd --check-config -c '$CONF' | grep -q 'configuration OK'"

# ---- Run it as systemd/turnd.service would --------------------------------
# What can be had without systemd:
#   User=turnd (static user), NoNewPrivileges, CapabilityBoundingSet,
#   AmbientCapabilities        setpriv
#   RuntimeDirectory=turnd     a directory of turnd's, RUNTIME_DIRECTORY
#   ProtectSystem=strict       / read-only, the runtime directory writable
#   PrivateTmp                 fresh /tmp and /var/tmp
#   ProtectHome                /home, /root, /run/user empty and closed
#   PrivateDevices             a /dev of null, zero, full, random, urandom, shm
#   ProtectKernelTunables      /proc/sys and /sys read-only
#   ProtectProc=invisible, ProcSubset=pid   a proc of its own pid namespace
#   ProtectHostname            a UTS namespace
#   UMask=0077, LimitNOFILE    umask, prlimit (up to the hard limit where
#                              CAP_SYS_RESOURCE is missing, as in containers)
# Not reproduced (seccomp or systemd itself): SystemCallFilter,
# SystemCallArchitectures, RestrictAddressFamilies, MemoryDenyWriteExecute,
# LockPersonality, RestrictNamespaces, RestrictRealtime, RestrictSUIDSGID,
# ProtectKernelModules, ProtectKernelLogs, ProtectControlGroups and
# ProtectClock beyond what the bounding set already denies, RemoveIPC,
# Type=notify and WatchdogSec (no notify socket), DynamicUser's own user.
RUN_DIR=$(mktemp -d /run/turnd-debtest.XXXXXX)
chown turnd:turnd "$RUN_DIR" && chmod 0755 "$RUN_DIR"
CAPS=net_bind_service,+bpf,+net_admin
cat >"$T_DIR/sandbox.sh" <<'EOF'
set -e
rd=$1; shift
mount --make-rprivate /
mount -t proc -o hidepid=invisible,subset=pid proc /proc
dev=$rd.dev
mkdir "$dev" && mount -t tmpfs -o mode=0755,nosuid tmpfs "$dev"
for n in null zero full random urandom; do
	touch "$dev/$n" && mount --bind "/dev/$n" "$dev/$n"
done
mkdir "$dev/shm" && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$dev/shm"
mount --move "$dev" /dev
rmdir "$dev"
mount --bind "$rd" "$rd"
mount -o remount,bind,ro /
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
for d in /home /root /run/user; do
	[ ! -d "$d" ] || mount -t tmpfs -o ro,mode=000 tmpfs "$d"
done
# ProcSubset=pid hides /proc/sys already; /sys read-only.
[ ! -d /proc/sys ] || { mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys; }
mount -o remount,bind,ro /sys
umask 0077
# LimitNOFILE=1048576 needs CAP_SYS_RESOURCE where the hard limit is lower
# (containers): then as many as the hard limit allows.
prlimit --pid $$ --nofile=1048576:1048576 2>/dev/null || prlimit --pid $$ --nofile="$(ulimit -Hn)"
exec "$@"
EOF
unshare --mount --uts --pid --fork sh "$T_DIR/sandbox.sh" "$RUN_DIR" \
	setpriv --reuid=turnd --regid=turnd --init-groups --no-new-privs \
	--bounding-set=-all,+$CAPS --inh-caps=-all,+$CAPS --ambient-caps=-all,+$CAPS \
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin RUNTIME_DIRECTORY="$RUN_DIR" \
	/usr/sbin/turnd --foreground -c "$CONF" >"$T_DIR/turnd.out" 2>"$T_DIR/turnd.log" &
SRV_PID=$!
up() {
	for _ in $(seq 1 50); do
		/usr/bin/turnprobe stun "127.0.0.1:$PORT" --timeout 200 >/dev/null 2>&1 && return 0
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/  turnd: /' "$T_DIR/turnd.log"
	return 1
}
check "the installed turnd runs under the unit's user, capabilities and sandbox" up || finish
TPID=$(pgrep -u turnd -x turnd | head -n 1)
status_has() { grep -q "^$1:[[:space:]]*$2\$" "/proc/$TPID/status"; }
# CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_BPF (39).
MASK=0000008000001400
check "  ... as user turnd (pid ${TPID:-none})" status_has Uid "$(id -u turnd)	$(id -u turnd)	$(id -u turnd)	$(id -u turnd)"
check "  ... no_new_privs" status_has NoNewPrivs 1
check "  ... bounding set = the unit's CapabilityBoundingSet" status_has CapBnd $MASK
check "  ... ambient = the unit's AmbientCapabilities" status_has CapAmb $MASK
check "  ... / read-only to it" sh -c "grep -q ' / / ro,' /proc/$TPID/mountinfo"

check "installed turnprobe stun gets an answer" sh -c \
	"/usr/bin/turnprobe stun 127.0.0.1:$PORT --timeout 2000 >'$T_DIR/stun.out'"
stunclient() {
	timeout 10 turnutils_stunclient -p "$PORT" 127.0.0.1 >"$T_DIR/stunclient.out" 2>&1
	rc=$?
	grep -q 'UDP reflexive addr: 127.0.0.1:' "$T_DIR/stunclient.out" && [ "$rc" -eq 0 ] && return 0
	sed 's/^/  /' "$T_DIR/stunclient.out"
	return 1
}
check "coturn's turnutils_stunclient gets its reflexive address" stunclient
/usr/bin/turnpeer -L "127.0.0.1:$PEER_PORT" -q --max-seconds 60 >/dev/null 2>&1 &
PEER_PID=$!
for _ in $(seq 1 50); do # bound before the first echo goes to it
	ss -Hlun "sport = :$PEER_PORT" | grep -q . && break
	sleep 0.1
done
turn_echo() {
	timeout 20 /usr/bin/turnprobe turn "127.0.0.1:$PORT" -u alice -w deb-test-pass \
		--peer "127.0.0.1:$PEER_PORT" -n 3 >"$T_DIR/turn.out" 2>&1 && return 0
	sed 's/^/  /' "$T_DIR/turn.out"
	return 1
}
check "installed turnprobe relays 3 echoes through it to the installed turnpeer" turn_echo
check "installed turnctl reads its status over the control socket in its RuntimeDirectory" \
	sh -c "/usr/bin/turnctl -s '$RUN_DIR/control' status >'$T_DIR/turnctl.out' 2>&1"
stop_srv() {
	kill -TERM "$TPID" && wait "$SRV_PID"
	rc=$?
	SRV_PID=""
	[ "$rc" -eq 0 ] || { echo "  exit $rc"; tail -n 20 "$T_DIR/turnd.log"; }
	return $rc
}
check "SIGTERM stops it with status 0" stop_srv
kill -TERM "$PEER_PID" 2>/dev/null; wait "$PEER_PID" 2>/dev/null; PEER_PID=""

# ---- Purge: nothing left -------------------------------------------------
dpkg -L turnd >"$T_DIR/files" 2>/dev/null
check "dpkg --purge turnd" sh -c "dpkg --purge turnd >'$T_DIR/purge.out' 2>&1"
left() {
	n=0
	while IFS= read -r f; do
		[ -d "$f" ] && continue # shared directories (/usr/bin, /lib) stay
		if [ -e "$f" ] || [ -L "$f" ]; then echo "  left: $f"; n=$((n + 1)); fi
	done <"$T_DIR/files"
	for d in /etc/turnd /usr/share/doc/turnd /var/lib/turnd /var/log/turnd; do
		[ ! -e "$d" ] || { echo "  left: $d"; n=$((n + 1)); }
	done
	for f in /var/lib/dpkg/info/turnd.* /var/lib/systemd/deb-systemd-helper-enabled/turnd.service.dsh-also; do
		[ ! -e "$f" ] || { echo "  left: $f"; n=$((n + 1)); }
	done
	[ "$n" -eq 0 ]
}
check "  ... leaves none of its $(grep -c . "$T_DIR/files") paths, no /etc/turnd, no dpkg or unit state" left
check "  ... and dpkg knows it no more" sh -c '! dpkg-query -W turnd >/dev/null 2>&1'
check "  ... the turnd user stays, as debian/README.Debian says" sh -c 'getent passwd turnd >/dev/null'
userdel turnd 2>/dev/null
getent group turnd >/dev/null && groupdel turnd
echo "# took $(( $(date +%s) - t0 )) s, of which $(( t_built - t0 )) s building"
finish
