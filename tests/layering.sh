#!/bin/sh
# The pure core (src/util, src/stun, src/turn) includes no I/O library
# header and links to no socket, event-loop, clock or random function:
# time and randomness are passed in (STYLE.md).
set -u
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
pass=0; fail=0

hdrs=$(grep -nE '#include *[<"](event2/|hiredis|confuse\.h|openssl/ssl\.h|sys/socket\.h|sys/epoll\.h|netinet/|pthread\.h)' \
	"$top_srcdir"/src/util/*.[ch] "$top_srcdir"/src/stun/*.[ch] "$top_srcdir"/src/turn/*.[ch])
if [ -z "$hdrs" ]; then
	pass=$((pass + 1)); echo "ok - no I/O headers in the pure core"
else
	fail=$((fail + 1)); echo "not ok - I/O headers in the pure core:"; echo "$hdrs"
fi

# Calls the core must not make. log.c writes to stderr/syslog and reads the
# wall clock for its timestamp: it is the one allowed exception.
forbidden='^(socket|bind|connect|listen|accept4?|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|epoll_.*|event_.*|evbuffer_.*|redis.*|cfg_.*|time|rand|random|srand|gettimeofday|clock_gettime|RAND_bytes|pthread_.*)$'
lib="$top_builddir/libturndcore.a"
if [ ! -f "$lib" ]; then
	fail=$((fail + 1)); echo "not ok - $lib not built"
else
	bad=$(nm -A -u "$lib" 2>/dev/null | grep -v ':log\.o:\|-log\.o:' | awk '{print $NF}' | grep -E "$forbidden" | sort -u)
	if [ -z "$bad" ]; then
		pass=$((pass + 1)); echo "ok - libturndcore.a calls no socket, event, clock or random function"
	else
		fail=$((fail + 1)); echo "not ok - libturndcore.a calls:"; echo "$bad"
	fi
fi
echo "layering: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
