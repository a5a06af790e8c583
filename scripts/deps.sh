#!/bin/sh
# Install the Debian packages turnd needs to build and test, when missing.
# Run as root; as another user it only lists what is missing.
# Usage: scripts/deps.sh [build|image|check|fuzz|deb|all]   (default: check)
set -eu

what=${1:-check}
# image: the build without the kernel fast path, as the container image's
# build stage makes it (Dockerfile): no clang, whose toolchain would double
# the image build's download.
image="autoconf automake pkg-config make gcc libc6-dev libevent-dev libssl-dev libconfuse-dev libidn-dev libhiredis-dev check"
build="$image clang libbpf-dev bpftool"
# The kernel fast path (kernel-offload) is built with clang, libbpf-dev and
# bpftool; its test topology turns checksum offload off with ethtool.
# Tests: coturn ships the turnutils_* clients; python3 drives the bad-input tests;
# check_auth_redis starts its own redis-server; the TLS test makes its
# certificates with the openssl command; the NAT discovery test builds a
# NAT router in network namespaces with nft.
check="$build coturn openssl python3 iproute2 nftables ethtool procps strace chromium redis-server"
# The TLS policy test lists the versions, suites and groups turnd offers
# with sslscan (faster than testssl.sh: one handshake per probe, in C).
check="$check sslscan"
# The browser tests in Firefox drive firefox-esr over WebDriver BiDi with
# python3-websocket and trust the test CA in its profile with certutil
# (libnss3-tools).
check="$check firefox-esr python3-websocket libnss3-tools"
# The PROXY protocol test (proxy_haproxy.sh) runs HAProxy in front of turnd,
# in the foreground with its own configuration (its service is not used),
# and asks acme-redirect with curl.
check="$check haproxy curl"
# The container test (tests/package/container.sh) makes a Debian 12 base
# with mmdebstrap, builds the Dockerfile and runs the image with podman;
# runc, since crun refuses hosts with cgroups v1 and v2 mounted together.
check="$check podman runc mmdebstrap"
fuzz="$build clang libclang-rt-14-dev"
# make deb (scripts/deb.sh): dpkg-buildpackage (dpkg-dev) with debhelper
# (compat 13, dh-autoreconf comes with it) over the build list, which is
# debian/control's Build-Depends; lintian checks the result. The package
# test (tests/package/deb.sh) also installs it: systemd-sysusers (package
# systemd) makes the turnd user, setpriv (util-linux) runs turnd as the
# unit would.
deb="$build dpkg-dev debhelper lintian systemd util-linux"
check="$check $deb"

case "$what" in
build) want=$build ;;
image) want=$image ;;
check) want=$check ;;
fuzz) want=$fuzz ;;
deb) want=$deb ;;
all) want="$check $fuzz" ;;
*) echo "usage: $0 [build|image|check|fuzz|deb|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root, or: sudo apt-get install$missing" >&2
	exit 0
fi

echo "deps: installing$missing"
# coturn is installed for its client tools only: keep its service from
# starting (and from taking port 3478) while the package installs.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	guard=1
fi
export DEBIAN_FRONTEND=noninteractive
status=0
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing || status=$?
[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
exit $status
