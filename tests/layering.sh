#!/bin/sh
# The include-direction matrix (STYLE.md "Layers", issue 14) and the pure
# core (util, stun, turn: no I/O header, no socket, event-loop, clock or
# random call; time and randomness are passed in).
#
#   sh tests/layering.sh              the self-test, then the rules on $top_srcdir
#   sh tests/layering.sh --self-test  only the self-test (synthetic trees)
#   sh tests/layering.sh --rules-only only the rules on $top_srcdir
#   LAYERING_KNOWN= sh tests/layering.sh   the rules with no known offence
set -u

# ---------------------------------------------------------------------------
# The rules: adjust here, nowhere else.
#
# A file may include headers of its own folder and of folders of a LOWER
# level, never of a higher one, nor of another folder on its own level.
# "." is the top of src/ (main.c, pidfile.c). A folder that does not exist
# is skipped; a folder of src/ missing here fails ("unknown layer").
LAYERING_LEVELS='
bpf     1
util    1
stun    2
turn    3
conf    4
auth    4
io      5
net     6
daemon  7
.       8
'
# tools/ may include only these folders of src/, and tools/ itself.
LAYERING_TOOLS_MAY='util stun turn io'

# Permanent exceptions, one a line: "EDGE | reason". EDGE is either
#   FROM -> TO        a folder (src/auth) or a file (src/auth/auth.c) to a
#                     folder or a header (src/conf/conf.h), or
#   DIR: A <-> B      two modules (file stems) of DIR including each other.
LAYERING_ALLOW='
src/auth -> src/conf | auth.c and auth_static.c build the static users and the REST secret from the validated struct conf; conf never includes auth
src/turn: internal <-> nat | internal.h is the private umbrella header of turn/ (no .c of its own): it gathers the module interfaces, nat.h among them, for every turn/*.c, nat.c too
src/turn: internal <-> server | the same umbrella: internal.h gathers server.h, and server.c includes internal.h like every turn/*.c
src/conf: conf <-> conf_check | a type, no call: conf.h is the struct conf that conf_check validates, and conf.c (the parser) calls conf_check; nothing in conf_check calls conf.c
src/conf: conf <-> conf_nat | a type, no call: conf_nat fills the struct conf of conf.h for RFC 5780, called by the parser conf.c; conf_tls_port_used is an inline of conf.h
src/conf: conf <-> conf_value | a type, no call: conf_value reads values into the struct conf of conf.h, called by the parser conf.c
src/conf: conf <-> conf_opts | constants, no call: conf_opts builds the libconfuse option table from the limits and defaults of conf.h, called by the parser conf.c
src/conf: conf <-> conf_proxy | a type, no call: conf_proxy checks the struct conf of conf.h for trusted-proxy, proxy-protocol and acme-redirect, called by the parser conf.c
'
# Offences on main before the issue 14 move, in the same EDGE form (no
# reason). TO REMOVE WHEN THE MOVE IS DONE. Each run lists them, and flags
# an entry that matches nothing any more. LAYERING_KNOWN in the environment
# replaces this list (LAYERING_KNOWN= sh tests/layering.sh: none).
LAYERING_KNOWN_ON_MAIN=''
# Empty since the move (issue 14): src/io, src/net and src/daemon include
# down only, and the stun cycle (attr <-> msg) went with attr_names.c.
# ---------------------------------------------------------------------------

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
LAYERING_KNOWN=${LAYERING_KNOWN-$LAYERING_KNOWN_ON_MAIN}
pass=0; fail=0

report() { # report GROUP-TITLE OFFENCES KNOWN
	if [ -z "$2" ]; then
		pass=$((pass + 1)); echo "ok - $1"
	else
		fail=$((fail + 1)); echo "not ok - $1:"; echo "$2" | sed 's/^/    /'
	fi
	if [ -n "$3" ]; then
		echo "    # known offences (LAYERING_KNOWN), to remove when the move is done:"
		echo "$3" | sed 's/^/    #   /'
	fi
}

# The include graph of src/ and tools/, one offence a line:
# "GROUP<TAB>text" (GROUP: layer, dir, tools, mutual, known-GROUP, stale).
layering_scan() {
	(cd "$top_srcdir" || exit 1
		# Only the folders there are: a missing one is no error.
		files=$(for d in src tools; do [ ! -d "$d" ] || find "$d" -type f \( -name '*.c' -o -name '*.h' \); done | sort)
		echo "$files"; echo "@@"
		# /dev/null: grep names the file even when there is only one.
		# $files unquoted: one word a file (no file name holds a blank).
		# shellcheck disable=SC2086
		[ -z "$files" ] || grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' $files /dev/null) |
	LAYERING_LEVELS=$LAYERING_LEVELS LAYERING_TOOLS_MAY=$LAYERING_TOOLS_MAY \
	LAYERING_ALLOW=$LAYERING_ALLOW LAYERING_KNOWN=$LAYERING_KNOWN awk '
	function norm(p,   n, i, k, part, out) { # collapse "a/../" and "./"
		n = split(p, part, "/"); k = 0
		for (i = 1; i <= n; i++) {
			if (part[i] == "." || part[i] == "") continue
			if (part[i] == ".." && k > 0 && stack[k] != "..") { k--; continue }
			stack[++k] = part[i]
		}
		out = ""; for (i = 1; i <= k; i++) out = out (i > 1 ? "/" : "") stack[i]
		return out
	}
	function dir(p) { return sub(/\/[^\/]*$/, "", p) ? p : "." }
	function folder(p,   d) { # layer name of a file: "util", ".", "tools"
		d = dir(p)
		if (d == "src") return "."
		if (d ~ /^src\//) return substr(d, 5)
		return d
	}
	function stem(p) { sub(/^.*\//, "", p); sub(/\.[ch]$/, "", p); return p }
	function edges(list, set,   n, i, line, k) {
		n = split(list, line, "\n")
		for (i = 1; i <= n; i++) {
			k = line[i]; sub(/[ \t]*\|.*$/, "", k); sub(/^[ \t]+/, "", k)
			if (k != "") set[k] = 0
		}
	}
	function pardon(a, b, c, d,   k) { # 1 allowed, 2 known (counted), 0 neither
		if ((a in allow) || (b in allow) || (c in allow) || (d in allow)) return 1
		k = (a in known) ? a : (b in known) ? b : (c in known) ? c : (d in known) ? d : ""
		if (k == "") return 0
		known[k]++
		return 2
	}
	function offend(group, text, how) {
		if (how == 0) print group "\t" text
		else if (how == 2) print "known-" group "\t" text
	}
	function judge(group, text) { # an include that breaks a rule: by folder or file
		offend(group, where "  [" text "]",
		       pardon(fd " -> " td, file " -> " to, fd " -> " to, file " -> " td))
	}
	BEGIN {
		n = split(ENVIRON["LAYERING_LEVELS"], line, "\n")
		for (i = 1; i <= n; i++)
			if (split(line[i], f, " ") >= 2) level[f[1]] = f[2]
		n = split(ENVIRON["LAYERING_TOOLS_MAY"], f, " ")
		for (i = 1; i <= n; i++) toolsmay[f[i]] = 1
		toolsmay["tools"] = 1
		edges(ENVIRON["LAYERING_ALLOW"], allow)
		edges(ENVIRON["LAYERING_KNOWN"], known)
		phase = 1
	}
	phase == 1 && $0 == "@@" { phase = 2; next }
	phase == 1 {
		if ($0 == "") next
		exists[$0] = 1
		fo = folder($0)
		if ($0 ~ /^src\// && !(fo in level) && !(fo in unknown)) {
			unknown[fo] = 1
			print "layer\tsrc/" fo ": unknown layer (add it to LAYERING_LEVELS)"
		}
		next
	}
	{
		# file:line:text; the file names hold no colon.
		file = $0; sub(/:.*/, "", file)
		rest = substr($0, length(file) + 2); ln = rest; sub(/:.*/, "", ln)
		text = substr(rest, length(ln) + 2); sub(/^[ \t]+/, "", text)
		inc = text; sub(/^#[ \t]*include[ \t]*/, "", inc)
		angled = substr(inc, 1, 1) == "<"
		inc = substr(inc, 2); sub(/[">].*$/, "", inc)
		# Quoted: the including file directory first, then -I src.
		to = ""
		if (!angled && (norm(dir(file) "/" inc) in exists)) to = norm(dir(file) "/" inc)
		else if (norm("src/" inc) in exists) to = norm("src/" inc)
		if (to == "") next # a system header, or config.h from the build
		where = file ":" ln ": " text
		ff = folder(file); tf = folder(to)
		fd = dir(file); td = dir(to)
		if (ff == "tools") {
			if (!(tf in toolsmay))
				judge("tools", "tools/ may include only " ENVIRON["LAYERING_TOOLS_MAY"] " and tools/")
		} else if (tf == "tools") {
			judge("dir", "src/ never includes tools/")
		} else if (ff != tf && (ff in level) && (tf in level) && level[tf] >= level[ff]) {
			why = level[tf] > level[ff] ? "back edge" : "same level"
			judge("dir", why ": " ff " (" level[ff] ") may not include " tf " (" level[tf] ")")
		}
		if (fd == td && stem(file) != stem(to)) {
			e = fd SUBSEP stem(file) SUBSEP stem(to)
			# Not "use[e] = (e in use) ? ...": mawk makes use[e] first.
			if (e in use) where = use[e] "\n" where
			use[e] = where
		}
	}
	END {
		# The pairs in a stable order, so two runs print the same.
		n = 0
		for (e in use) {
			for (i = ++n; i > 1 && key[i - 1] > e; i--) key[i] = key[i - 1]
			key[i] = e
		}
		for (i = 1; i <= n; i++) {
			e = key[i]
			split(e, p, SUBSEP)
			if (p[2] > p[3]) continue
			r = p[1] SUBSEP p[3] SUBSEP p[2]
			if (!(r in use)) continue
			how = pardon(p[1] ": " p[2] " <-> " p[3], p[1] ": " p[3] " <-> " p[2], "-", "-")
			gsub(/\n/, "\n" (how == 2 ? "known-" : "") "mutual\t", use[e])
			gsub(/\n/, "\n" (how == 2 ? "known-" : "") "mutual\t", use[r])
			offend("mutual", p[1] ": " p[2] " <-> " p[3] ", both ways:", how)
			offend("mutual", use[e], how); offend("mutual", use[r], how)
		}
		for (k in known)
			if (known[k] == 0) print "stale\t" k
	}'
}

# The rules on $top_srcdir; prints one ok/not ok line per rule group.
layering_rules() {
	scan=$(layering_scan)
	pick() { echo "$scan" | sed -n "s/^$1	//p"; }
	report "every folder of src/ has a layer" "$(pick layer)" ""
	report "includes go down the layers only" "$(pick dir)" "$(pick known-dir)"
	report "tools/ includes only $LAYERING_TOOLS_MAY and tools/" "$(pick tools)" "$(pick known-tools)"
	report "no two modules of a folder include each other both ways" "$(pick mutual)" "$(pick known-mutual)"
	stale=$(pick stale | sort)
	[ -z "$stale" ] || echo "$stale" | sed 's/^/# known offence gone, remove it from the list: /'

	hdrs=$(cd "$top_srcdir" && for d in src/util src/stun src/turn; do
		[ -d "$d" ] || continue
		grep -nE '#include *[<"](event2/|hiredis|confuse\.h|openssl/ssl\.h|sys/socket\.h|sys/epoll\.h|netinet/|pthread\.h)' \
			"$d"/*.[ch] 2>/dev/null
	done)
	report "no I/O headers in the pure core" "$hdrs" ""

	# Calls the core must not make. log.c writes to stderr/syslog and reads the
	# wall clock for its timestamp: it is the one allowed exception.
	forbidden='^(socket|bind|connect|listen|accept4?|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|epoll_.*|event_.*|evbuffer_.*|redis.*|cfg_.*|time|rand|random|srand|gettimeofday|clock_gettime|RAND_bytes|pthread_.*)$'
	lib="$top_builddir/libturndcore.a"
	if [ ! -f "$lib" ]; then
		report "libturndcore.a is built" "$lib not built" ""
	else
		bad=$(nm -A -u "$lib" 2>/dev/null | grep -v ':log\.o:\|-log\.o:' | awk '{print $NF}' | grep -E "$forbidden" | sort -u)
		report "libturndcore.a calls no socket, event, clock or random function" "$bad" ""
	fi
}

# ---------------------------------------------------------------------------
# Self-test: the rules on small synthetic trees, each planted offence caught
# by its rule and named with its file:line, and a clean tree passing.

selftest_file() { # selftest_file ROOT PATH LINE...
	root=$1; path=$2; shift 2
	mkdir -p "$root/$(dirname "$path")"
	printf '%s\n' "$@" > "$root/$path"
}

selftest_clean_tree() { # every layer, each including only what it may
	selftest_file "$1" src/util/addr.h '/* addr */'
	selftest_file "$1" src/util/log.h '#include <stdio.h>'
	selftest_file "$1" src/util/addr.c '#include "util/addr.h"' '#include "log.h"' 'int util_addr(void) { return 0; }'
	selftest_file "$1" src/stun/msg.h '#include "util/addr.h"'
	selftest_file "$1" src/turn/x.h '#include "stun/msg.h"'
	selftest_file "$1" src/turn/server.c '#include "turn/x.h"' '#include "../util/log.h"'
	selftest_file "$1" src/conf/conf.h '#include "turn/x.h"'
	selftest_file "$1" src/auth/auth.c '#include "conf/conf.h"' '#include "auth/auth.h"'
	selftest_file "$1" src/auth/auth.h '#include "util/addr.h"'
	selftest_file "$1" src/io/sockaddr.h '#include <sys/socket.h>' '#include "util/addr.h"'
	selftest_file "$1" src/net/a.c '#include "net/b.h"' '#include "io/sockaddr.h"' '#include "auth/auth.h"'
	selftest_file "$1" src/net/b.c '#include "b.h"' '#include "config.h"'
	selftest_file "$1" src/net/b.h '#include "conf/conf.h"'
	selftest_file "$1" src/daemon/worker.c '#include "net/b.h"'
	selftest_file "$1" src/main.c '#include "daemon/worker.h"' '#include "pidfile.h"'
	selftest_file "$1" src/daemon/worker.h '/* worker */'
	selftest_file "$1" src/pidfile.h '/* pidfile */'
	selftest_file "$1" tools/load.h '#include "io/sockaddr.h"' '#include "turn/x.h"'
	selftest_file "$1" tools/load.c '#include "load.h"' '#include "stun/msg.h"'
	cat > "$1/core.c" <<-'EOF'
	int core_add(int a, int b) { return a + b; }
	EOF
	(cd "$1" && rm -f libturndcore.a && ${CC:-cc} -c core.c -o core.o && ar rc libturndcore.a core.o) >/dev/null 2>&1
}

selftest_plant() { # the offences, one for each rule
	selftest_file "$1" src/util/a.c '#include "util/addr.h"' '#include "turn/x.h"'
	selftest_file "$1" src/net/c.c '#include "net/d.h"'
	selftest_file "$1" src/net/c.h '/* c */'
	selftest_file "$1" src/net/d.c '#include "c.h"'
	selftest_file "$1" src/net/d.h '/* d */'
	selftest_file "$1" src/net/e.h '#include "net/f.h"'
	selftest_file "$1" src/net/f.h '#include "net/e.h"'
	selftest_file "$1" tools/bad.c '#include "daemon/worker.h"'
	selftest_file "$1" src/conf/c.c '#include "auth/auth.h"'
	selftest_file "$1" src/extra/x.c '#include "util/addr.h"'
	selftest_file "$1" src/stun/sock.c '#include <sys/socket.h>'
	cat > "$1/core.c" <<-'EOF'
	extern int socket(int, int, int);
	extern long time(long *);
	int core_open(void) { return socket(2, 2, 0) + (int)time(0); }
	EOF
	(cd "$1" && rm -f libturndcore.a && ${CC:-cc} -c core.c -o core.o && ar rc libturndcore.a core.o) >/dev/null 2>&1
}

selftest_expect() { # selftest_expect NAME OUTPUT PATTERN: a fixed string found
	case "$2" in
	*"$3"*) pass=$((pass + 1)); echo "ok - self-test: $1" ;;
	*) fail=$((fail + 1)); echo "not ok - self-test: $1 (no '$3' in:)"; echo "$2" | sed 's/^/    /' ;;
	esac
}

layering_selftest() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/layering.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT HUP INT TERM
	selftest_clean_tree "$tmp"
	out=$(top_srcdir=$tmp top_builddir=$tmp LAYERING_KNOWN='' sh "$0" --rules-only 2>&1); rc=$?
	selftest_expect "a clean tree passes" "$out" "layering: 6 passed, 0 failed"
	selftest_expect "a clean tree exits 0" "exit $rc." "exit 0."

	selftest_plant "$tmp"
	out=$(top_srcdir=$tmp top_builddir=$tmp LAYERING_KNOWN='' sh "$0" --rules-only 2>&1); rc=$?
	selftest_expect "a planted tree exits 1" "exit $rc." "exit 1."
	selftest_expect "back edge util -> turn" "$out" 'src/util/a.c:2: #include "turn/x.h"  [back edge: util (1) may not include turn (3)]'
	selftest_expect "same level conf -> auth" "$out" 'src/conf/c.c:1: #include "auth/auth.h"  [same level: conf (4) may not include auth (4)]'
	selftest_expect "tools -> daemon" "$out" 'tools/bad.c:1: #include "daemon/worker.h"  [tools/ may include only'
	selftest_expect "net/c <-> net/d, .c to .h both ways" "$out" 'src/net: c <-> d, both ways:'
	selftest_expect "net/c <-> net/d, the quoted include of d.c" "$out" 'src/net/d.c:1: #include "c.h"'
	selftest_expect "net/e.h <-> net/f.h, header to header" "$out" 'src/net/e.h:1: #include "net/f.h"'
	selftest_expect "unknown layer" "$out" 'src/extra: unknown layer'
	selftest_expect "I/O header in the core" "$out" 'src/stun/sock.c:1:#include <sys/socket.h>'
	selftest_expect "socket() in libturndcore.a" "$out" '    socket'
	selftest_expect "time() in libturndcore.a" "$out" '    time'
	selftest_expect "the allowed auth -> conf stays allowed" "[$(echo "$out" | grep -c 'src/auth/auth.c')]" "[0]"

	# A known offence passes, is listed, and one that is gone is flagged.
	rm -r "$tmp/src/extra" "$tmp/src/stun/sock.c" "$tmp/src/util/a.c" "$tmp/src/conf/c.c" "$tmp/src/net/e.h" "$tmp/src/net/f.h"
	selftest_clean_tree "$tmp"
	out=$(top_srcdir=$tmp top_builddir=$tmp LAYERING_KNOWN='src/net: d <-> c
tools -> src/daemon/worker.h
tools/gone.c -> src/net/x.h' sh "$0" --rules-only 2>&1); rc=$?
	selftest_expect "a known offence passes" "$out" "layering: 6 passed, 0 failed"
	selftest_expect "a known offence is listed" "$out" '    #   src/net: c <-> d, both ways:'
	selftest_expect "a known include is listed" "$out" '    #   tools/bad.c:1: #include "daemon/worker.h"'
	selftest_expect "a known offence gone is flagged" "$out" '# known offence gone, remove it from the list: tools/gone.c -> src/net/x.h'
	rm -rf "$tmp"; trap - EXIT HUP INT TERM
}

case "${1:-}" in
--self-test) layering_selftest ;;
--rules-only) layering_rules ;;
'') layering_selftest; layering_rules ;;
*) echo "usage: $0 [--self-test | --rules-only]" >&2; exit 2 ;;
esac
echo "layering: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
