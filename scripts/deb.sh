#!/bin/sh
# Build the Debian package turnd (debian/) from a copy of the files git
# tracks, so that objects, configure output and anything else of an
# in-tree build stay out of it, as in CI's clean checkout. The .deb, the
# .changes and the build log end up in OUTDIR.
# Usage: scripts/deb.sh [OUTDIR]   (default: build-deb in the tree)
# Missing build dependencies are installed first (as root; scripts/deps.sh).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-deb}
command -v git >/dev/null && git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || {
	echo "deb.sh: $top is not a git checkout: the package is built from the tracked files" >&2
	exit 1
}
sh "$top/scripts/deps.sh" deb
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
upstream=${version%-*}
src="$out/turnd-$upstream"
rm -rf "$out"
mkdir -p "$src"
# Tracked files as they are in the work tree (edits included, deleted
# files skipped), not the index: what you see is what gets built.
git -C "$top" ls-files --deleted >"$out/deleted"
git -C "$top" ls-files --cached | grep -vxF -f "$out/deleted" |
	tar -C "$top" --verbatim-files-from -T - -cf - | tar -C "$src" -xf -
rm -f "$out/deleted"
echo "deb.sh: building turnd $version in $src"
start=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -b -us -uc -j"${TURND_DEB_JOBS:-$(nproc)}") >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	echo "deb.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
fi
echo "deb.sh: built in $(( $(date +%s) - start )) s:"
ls "$out"/*.deb "$out"/*.changes
