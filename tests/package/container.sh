#!/bin/sh
# The container image (Dockerfile), built and run here with Debian's
# podman. No registry is reachable, so the base image the Dockerfile names
# (docker.io/library/debian:bookworm-slim) is made from Debian packages
# with mmdebstrap and imported under that name; the build then never pulls.
# Everything podman keeps (images, containers, its state) lives in this
# test's temporary directory, through its own storage.conf and
# containers.conf, and goes with it.
#
# Two containers, both with --network=host on free ports:
#   env   configured by TURND_* environment variables;
#   file  configured by a turnd.conf mounted at /etc/turnd/turnd.conf.
# For each: the image's HEALTHCHECK (GET /healthz) turns healthy, coturn's
# turnutils_uclient relays through it to turnutils_peer with 0 loss, headless
# Chromium's relay-only data channel works through it (browser_test.py),
# and turnd runs as the image's user turnd (uid 3478), not root. An image
# started with neither users nor a secret must refuse to start.
#
# Cold timings on 2 idle cores: mmdebstrap ~70 s, image build ~60 s
# (package downloads ~25 s, compiling ~30 s), the runs ~40 s: ~3 min in
# all; two to four times that on a loaded machine. Runs alone (tests/exclusive.list): the
# build takes both cores.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

BASE=docker.io/library/debian:bookworm-slim
IMAGE=localhost/turnd-test:$$
NAMES="turnd-test-env-$$ turnd-test-file-$$"
TURND_UID=3478
M=4 N=100 L=120    # uclient: clients, messages each, payload bytes
CLIENT_TIMEOUT=30
BROWSER_TIMEOUT=25
UCLIENT="stdbuf -oL -eL turnutils_uclient"

# Podman's configuration, all of it in $T_DIR. runc: crun refuses hosts
# with cgroup v1 and v2 controllers mounted together ("cgroups in hybrid
# mode not supported"). The ulimits: podman's defaults for root (1048576)
# are above this machine's hard limits, and without CAP_SYS_RESOURCE the
# runtime's setrlimit fails; podman itself lowers its nproc to 32768.
PODMAN_DIR=$T_DIR/podman
mkdir -p "$PODMAN_DIR/storage" "$PODMAN_DIR/run" "$PODMAN_DIR/tmp"
nproc_max=$(awk '/^Max processes/ { print $4 }' /proc/self/limits)
case "$nproc_max" in unlimited | '') nproc_max=32768 ;; esac
[ "$nproc_max" -gt 32768 ] && nproc_max=32768
nofile_max=$(awk '/^Max open files/ { print $5 }' /proc/self/limits)
case "$nofile_max" in unlimited | '') nofile_max=1048576 ;; esac
cat >"$PODMAN_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/storage"
runroot = "$PODMAN_DIR/run"
EOF
cat >"$PODMAN_DIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile_max:$nofile_max", "nproc=$nproc_max:$nproc_max"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_DIR/events.log"
tmp_dir = "$PODMAN_DIR/tmp"
EOF
export CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf"
export CONTAINERS_CONF="$PODMAN_DIR/containers.conf"

# Remove the containers and images, unmount what podman left mounted in
# $T_DIR, then turn_lib.sh's cleanup (background clients, $T_DIR).
container_cleanup() {
	for n in $NAMES; do podman rm -f -t 0 "$n" >/dev/null 2>&1; done
	podman rmi -f "$IMAGE" "$BASE" >/dev/null 2>&1
	podman image prune -f >/dev/null 2>&1
	findmnt -rn -o TARGET | grep -F "$PODMAN_DIR/" | sort -r |
		while IFS= read -r m; do umount -l "$m" 2>/dev/null; done
	turn_cleanup
}
trap container_cleanup EXIT

for tool in podman runc mmdebstrap turnutils_uclient turnutils_peer; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		not_ok "$tool installed (scripts/deps.sh check installs it)"
		finish
	fi
done

# debian_sources: the machine's own Debian 12 sources (deb822 files signed
# by Debian's archive key), else deb.debian.org, as mmdebstrap arguments.
debian_sources() {
	found=""
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && grep -q 'debian-archive-keyring' "$f" && grep -q 'bookworm' "$f" &&
			found="$found $f"
	done
	if [ -n "$found" ]; then
		echo "$found"
	else
		echo "deb http://deb.debian.org/debian bookworm main"
	fi
}

# make_base: a minbase Debian 12 as slim as Debian's own slim image (no
# documentation, manual pages or locales), imported as $BASE. Unlike
# Debian's, it keeps the package lists mmdebstrap fetched: the image
# build's two apt-get update then find them current instead of fetching
# them again (~9 MB each).
# mmdebstrap runs with descriptors 3-9 closed: it hands apt a pipe as
# "cat >&N" for /bin/sh, and dash takes only one-digit N; under make -j
# (the jobserver's and the harness's descriptors) its pipe would be fd 12.
make_base() {
	# shellcheck disable=SC2046 # one argument per sources file
	mmdebstrap --variant=minbase --format=tar --skip=cleanup/apt/lists \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--aptopt='Acquire::Languages "none"' \
		bookworm "$T_DIR/base.tar" $(debian_sources) >"$T_DIR/mmdebstrap.log" 2>&1 \
		3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &&
	podman import --change 'CMD ["bash"]' "$T_DIR/base.tar" "$BASE" >>"$T_DIR/mmdebstrap.log" 2>&1 &&
	rm -f "$T_DIR/base.tar" ||
		{ grep -v '^I: ' "$T_DIR/mmdebstrap.log" | tail -n 40 | sed 's/^/  | /'; return 1; }
}

# build_image: the Dockerfile of this tree, in docker format (the OCI
# format has no HEALTHCHECK), pulling nothing; both stages at once (the
# runtime stage's apt-get while the build stage compiles), no layer cache
# kept. Then the second at which each step started.
build_image() {
	podman build --format docker --pull=never --network=host --jobs=2 --layers=false \
		-t "$IMAGE" -f "$top_srcdir/Dockerfile" "$top_srcdir" 2>&1 |
		awk -v t0="$(date +%s)" '{ print systime() - t0, $0; fflush() }' >"$T_DIR/build.log"
	if ! grep -q "^[0-9]* Successfully tagged $IMAGE\$" "$T_DIR/build.log"; then
		tail -n 30 "$T_DIR/build.log" | sed 's/^/  | /'
		return 1
	fi
	awk '$3 == "STEP" && $5 ~ /^(RUN|COPY)$/ { printf "  build: at %3d s: %s\n", $1, substr($0, index($0, $2), 70) }' \
		"$T_DIR/build.log"
}

# timed VAR CMD...: run CMD, its duration in seconds in VAR.
timed() {
	var=$1; shift
	t0=$(date +%s)
	"$@"
	rc=$?
	eval "$var=$(( $(date +%s) - t0 ))"
	return $rc
}

if ! timed T_BASE make_base; then
	not_ok "mmdebstrap makes a Debian 12 base and podman imports it as $BASE"
	finish
fi
ok "mmdebstrap: Debian 12 minbase imported as $BASE (${T_BASE} s)"
if ! timed T_BUILD build_image; then
	not_ok "podman build of the Dockerfile"
	finish
fi
ok "podman build of the Dockerfile (${T_BUILD} s)"
T_RUN0=$(date +%s)

# ---- the image's refusals ----

refuses_without_credentials() {
	out=$(timeout 30 podman run --rm --network=host "$IMAGE" 2>&1)
	rc=$?
	[ "$rc" -ne 0 ] && echo "$out" | grep -q "no users and no secret" && return 0
	echo "  exit $rc:"; echo "$out" | sed 's/^/  | /'
	return 1
}
check "with neither TURND_USERS nor TURND_SECRET nor a mounted file the container refuses to start" \
	refuses_without_credentials

# Every program in the runtime stage finds all of its shared libraries:
# the Dockerfile's runtime package list is complete.
libraries_resolved() {
	out=$(timeout 30 podman run --rm --network=host "$IMAGE" sh -c \
		'for b in /usr/sbin/turn* /usr/bin/turn*; do case $b in *-entrypoint) continue ;; esac;
		 echo "$b"; ldd "$b" | grep "not found"; done' 2>&1)
	echo "$out" | grep -q 'bin/turnd$' && ! echo "$out" | grep -q "not found" && return 0
	echo "$out" | sed 's/^/  | /'
	return 1
}
check "every program in the image resolves its shared libraries (ldd)" libraries_resolved

# ---- the two containers ----

# healthy NAME: podman healthcheck run (the image's HEALTHCHECK) passes
# within 10 s; else the container's log.
healthy() {
	for _ in $(seq 1 50); do
		podman healthcheck run "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	podman healthcheck run "$1" 2>&1 | sed 's/^/  health: /'
	podman logs "$1" 2>&1 | tail -n 20 | sed 's/^/  | /'
	return 1
}

# runs_as_turnd NAME: the container's main process is turnd, with real,
# effective, saved and filesystem uid $TURND_UID (the image's user).
runs_as_turnd() {
	pid=$(podman inspect -f '{{.State.Pid}}' "$1") || return 1
	comm=$(cat "/proc/$pid/comm")
	uids=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$pid/status")
	echo "  $1: pid $pid ($comm), uids $uids"
	[ "$comm" = turnd ] && [ "$uids" = "$TURND_UID $TURND_UID $TURND_UID $TURND_UID" ]
}

# browser PORT TRANSPORT LABEL: Chromium's relay-only data channel through
# the TURN server on 127.0.0.1:PORT (browser_test.py's PASS/FAIL lines).
browser() {
	timeout -k 5 $((BROWSER_TIMEOUT + 15)) "${PYTHON3:-python3}" \
		"$top_srcdir/tests/e2e/browser_test.py" --turn "127.0.0.1:$1" \
		--transport "$2" --user "$TURN_USER" --password "$TURN_PASS" \
		--messages 20 --timeout "$BROWSER_TIMEOUT" --tmpdir "$T_DIR" \
		>"$T_DIR/browser-$3.out" 2>&1
	rc=$?
	sed -n 's/^PASS /  chromium: /p; s/^FAIL /  chromium FAILED: /p' "$T_DIR/browser-$3.out"
	[ "$rc" -eq 0 ] && grep -q '^PASS ' "$T_DIR/browser-$3.out" && return 0
	grep -v '^PASS ' "$T_DIR/browser-$3.out" | tail -n 15 | sed 's/^/  | /'
	return 1
}

# container_conf: the settings both containers share, as turnd.conf lines
# (loopback only, peers on loopback, uclient's legacy channel numbers).
LOOPBACK_OPTIONS='allowed-peer-ip = { "127.0.0.1", "::1" } allow-own-peers = true legacy-channel-numbers = true user-quota = 0'

pick_port PEER_PORT || { not_ok "no free port for the peer"; finish; }
spawn turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer.log" 2>&1
check "turnutils_peer listening on 127.0.0.1:$PEER_PORT" udp_bound "127.0.0.1:$PEER_PORT"

# start_env: the env container, on PORT, metrics on METRICS_PORT.
start_env() {
	podman run -d --name "turnd-test-env-$$" --network=host \
		-e TURND_REALM="$TURN_REALM" -e TURND_USERS="$TURN_USER:$TURN_PASS,other:x\"y" \
		-e TURND_SECRET="$TURN_SECRET" -e TURND_LISTENING_IP=127.0.0.1,::1 \
		-e TURND_RELAY_IP=127.0.0.1,::1 -e TURND_LISTENING_PORT="$PORT" \
		-e TURND_MIN_PORT="$MINPORT" -e TURND_MAX_PORT="$MAXPORT" \
		-e TURND_METRICS_PORT="$METRICS_PORT" -e TURND_OPTIONS="$LOOPBACK_OPTIONS" \
		"$IMAGE" >"$T_DIR/run-env.out" 2>&1 ||
		{ sed 's/^/  | /' "$T_DIR/run-env.out"; return 1; }
}

# start_file: the file container, its turnd.conf mounted read-only.
start_file() {
	cat >"$T_DIR/mounted.conf" <<EOF
listening-ip = { "127.0.0.1" }
listening-port = $PORT
relay-ip = { "127.0.0.1" }
min-port = $MINPORT
max-port = $MAXPORT
realm = "$TURN_REALM"
user = { "$TURN_USER:$TURN_PASS" }
metrics-port = $METRICS_PORT
$LOOPBACK_OPTIONS
EOF
	chmod 644 "$T_DIR/mounted.conf"
	podman run -d --name "turnd-test-file-$$" --network=host \
		-v "$T_DIR/mounted.conf:/etc/turnd/turnd.conf:ro" \
		"$IMAGE" >"$T_DIR/run-file.out" 2>&1 ||
		{ sed 's/^/  | /' "$T_DIR/run-file.out"; return 1; }
}

# exercise KIND MODES...: start the KIND container on fresh ports, then the
# checks: healthy, uclient MODES with 0 loss, Chromium over UDP, its user.
exercise() {
	kind=$1; shift
	name=turnd-test-$kind-$$
	pick_port PORT && pick_port METRICS_PORT || { not_ok "$kind: free ports"; return; }
	REST_PORT=$PORT
	relay_range
	if ! "start_$kind"; then
		not_ok "$kind: podman run --network=host $IMAGE"
		return
	fi
	ok "$kind: container $name started on port $PORT, relay ports $MINPORT-$MAXPORT"
	check "$kind: HEALTHCHECK healthy (GET /healthz on 127.0.0.1:$METRICS_PORT)" healthy "$name"
	TURN_LOG=$T_DIR/$kind.log
	for m in "$@"; do uclient_launch "$m"; done
	for m in "$@"; do
		podman logs "$name" >"$TURN_LOG" 2>&1
		uclient_verify "$m" "$kind: uclient $m through the container"
	done
	check "$kind: Chromium relay-only data channel over UDP through the container" \
		browser "$PORT" udp "$kind"
	check "$kind: turnd in the container runs as user turnd (uid $TURND_UID), not root" \
		runs_as_turnd "$name"
}

exercise env channels tcp rest
exercise file channels send

# turnctl inside the image reaches turnd's control socket (RUNTIME_DIRECTORY).
turnctl_status() {
	podman exec "turnd-test-file-$$" turnctl status >"$T_DIR/turnctl.out" 2>&1 && return 0
	sed 's/^/  | /' "$T_DIR/turnctl.out"
	return 1
}
check "turnctl status in the container answers" turnctl_status

# Drain (SIGUSR1) while a uclient run holds allocations: /healthz answers
# 503, so the HEALTHCHECK must fail, and the allocations keep relaying.
# The file container's METRICS_PORT and PORT are the last picked.
allocations_held() {
	for _ in $(seq 1 100); do
		[ "$(metric turnd_allocations)" -gt 0 ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
unhealthy_when_draining() {
	out=$(podman healthcheck run "turnd-test-file-$$" 2>&1) && { echo "  healthy: $out"; return 1; }
	podman exec "turnd-test-file-$$" turnd-entrypoint health >"$T_DIR/drain.out" 2>&1
	sed 's/^/  health: /' "$T_DIR/drain.out"
	grep -q ' 503 ' "$T_DIR/drain.out"
}
N=400
uclient_launch channels
if allocations_held; then
	podman kill -s USR1 "turnd-test-file-$$" >/dev/null
	check "drain (SIGUSR1): HEALTHCHECK unhealthy, /healthz 503" unhealthy_when_draining
else
	not_ok "uclient holds an allocation in the file container (turnd_allocations > 0)"
fi
uclient_verify channels "file, draining: uclient channels keeps relaying"

echo "  cold timings: mmdebstrap ${T_BASE} s, image build ${T_BUILD} s, runs $(( $(date +%s) - T_RUN0 )) s"
finish
