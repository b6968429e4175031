#!/usr/bin/env bash
# make-deb.sh OUTDIR — builds the Debian binary package (debian/) with
# dpkg-buildpackage and leaves event-processor_<version>_<arch>.deb, its
# -dbgsym package of debug symbols, .buildinfo and .changes in OUTDIR;
# `make deb` runs it with build/deb.
#
# The build happens in a copy of the tracked files (as they are in the
# working tree, uncommitted edits and new files included) in a temporary
# directory, removed afterwards: dh_auto_clean runs `make clean`, which
# must not wipe the build/ that the tests use, and a copy under build/
# would leave its dependency files (*.d) where the top Makefile includes
# them.
# Exit: 0 built, 1 the build failed (the end of its log is printed; the
# whole log is OUTDIR/build.log), 64 usage, 69 dpkg-buildpackage or dh
# missing.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: make-deb.sh OUTDIR" >&2; exit 64; }
for c in dpkg-buildpackage dh; do
	command -v "$c" > /dev/null ||
		{ echo "make-deb: $c not found (scripts/install-deps.sh installs dpkg-dev and debhelper)" >&2; exit 69; }
done
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ep-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/event-processor

mkdir "$src"
cd "$top"
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
	# tracked files, and new ones not yet added; no build output, no
	# node_modules (a symlink in worktrees, so not caught by .gitignore's
	# "node_modules/"), nothing deleted
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$f" ] && [ "${f#*node_modules}" = "$f" ] && printf '%s\0' "$f"
		done | tar --null -T - -cf - | tar -xf - -C "$src"
else
	tar --exclude=./build --exclude=node_modules -cf - . | tar -xf - -C "$src"
fi

# A clean environment for the inner build: what `make deb` was called with
# (BUILD, SAN, CFLAGS, MAKEFLAGS carrying -j or variables) belongs to the
# outer tree and would send the package's objects into it.
rm -f "$out"/event-processor_* "$out"/event-processor-dbgsym_*
echo "make-deb: building in $src (log: $out/build.log)"
if ! (cd "$src" && env -u BUILD -u SAN -u CFLAGS -u LDFLAGS -u PREFIX -u DESTDIR \
	-u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	DEB_BUILD_OPTIONS="parallel=${DEB_JOBS:-2} ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	echo "make-deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
fi
mv "$work"/event-processor_* "$work"/event-processor-dbgsym_* "$out"/
ls "$out"/event-processor_*.deb
