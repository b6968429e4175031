#!/usr/bin/env bash
# The Debian package (make deb: debian/, scripts/make-deb.sh) and the
# systemd units in it (deploy/systemd/): the package builds; lintian finds no
# error (its warnings are listed as notes); installed into a scratch root
# (dpkg -x) every tool answers --version and --help from there and validate
# finds the installed schema; the man pages, schema, units, sysusers file,
# settings file (a conffile) and supervisord example are in place; the
# units hold no credential, keep their hardening and stop timeouts in line
# with supervisord's; systemd-analyze verify prints nothing about them.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
. tests/lib.sh

# The package is built from the sources with the plain flags, whatever BUILD
# says: under the sanitizer suite it would build and check the same package
# a second time.
case $BUILD in
*/san) skip_all "the package is built from source, not from BUILD: the plain suite checks it" ;;
esac
for c in dpkg-buildpackage dh lintian systemd-analyze; do
	command -v "$c" > /dev/null || skip_all "$c is not installed (scripts/install-deps.sh)"
done

TOOLS=(kcat-in validate persist route retry kafka-produce)
SCRIPTS=(ep-pipeline ep-file-source)
UNITS=(ep-pipeline@.service ep-retry@.service)
UNITDIR=lib/systemd/system # Debian 12's (debian/rules says why)

# --- build ---------------------------------------------------------------------------
t0=$SECONDS
if ! with_timeout 300 make -s -C "$ROOT" deb DEB_OUT="$T/deb" > "$T/deb.out" 2>&1; then
	fail "make deb"
	diag "$(tail -n 20 "$T/deb.out")"
	done_testing
	exit 1
fi
note "make deb: $((SECONDS - t0)) s"
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg --print-architecture)
deb=$T/deb/event-processor_${version}_$arch.deb
ok test -f "$deb" "make deb leaves event-processor_${version}_$arch.deb in DEB_OUT"
ok test -f "$T/deb/event-processor_${version}_$arch.changes" "and its .changes"
is "$version" "$(sed -n 's/^VERSION *:= *//p' Makefile)" "debian/changelog's version is the Makefile's VERSION"

# --- lintian ---------------------------------------------------------------------------
# The package (its -dbgsym, made by debhelper, is left out: a third of
# lintian's time for nothing of ours). "running with root privileges" is
# lintian's remark about the CI user, not about the package.
t0=$SECONDS
lintian --tag-display-limit 0 "$deb" > "$T/lintian.out" 2>&1
lint_rc=$?
note "lintian: $((SECONDS - t0)) s"
grep -v 'running with root privileges' "$T/lintian.out" > "$T/lintian.tags"
is "$lint_rc" 0 "lintian exits 0"
is "$(grep -E '^E: ' "$T/lintian.tags")" "" "lintian: no error"
while IFS= read -r l; do note "lintian: $l"; done < <(grep -vE '^E: ' "$T/lintian.tags")
[ -s "$T/lintian.tags" ] || note "lintian: no tag at all"

# --- the scratch root ------------------------------------------------------------------
R=$T/root
ok dpkg -x "$deb" "$R" "dpkg -x into a scratch root"
for t in "${TOOLS[@]}"; do
	out=$("$R/usr/bin/$t" --version 2>&1)
	st=$?
	like "$st $out" "^0 $t \\(event-processor\\) $version" \
		"usr/bin/$t --version: exit 0, \"$t (event-processor) $version\""
	ok quietly "$R/usr/bin/$t" --help "usr/bin/$t --help exits 0"
done
for s in "${SCRIPTS[@]}"; do
	ok quietly "$R/usr/bin/$s" --help "usr/bin/$s --help exits 0"
done
ok quietly "$R/usr/bin/validate" examples/events.txt \
	"the installed validate finds the installed schema (../share/event-processor)"
ok cmp -s schema/event.schema.json "$R/usr/share/event-processor/event.schema.json" \
	"usr/share/event-processor/event.schema.json"
for p in man/*.[1-9]; do
	n=${p#man/}
	ok cmp -s "$p" <(zcat "$R/usr/share/man/man${n##*.}/$n.gz") "usr/share/man/man${n##*.}/$n.gz"
done
if command -v man > /dev/null; then
	is "$(man -M "$R/usr/share/man" -w 1 kcat-in 2> /dev/null)" "$R/usr/share/man/man1/kcat-in.1.gz" \
		"man -M finds kcat-in(1)"
fi
for u in "${UNITS[@]}"; do
	ok test -f "$R/$UNITDIR/$u" "$UNITDIR/$u"
done
ok test -f "$R/usr/lib/sysusers.d/event-processor.conf" "usr/lib/sysusers.d/event-processor.conf"
ok cmp -s deploy/systemd/event-processor.env "$R/etc/event-processor/event-processor.env" \
	"etc/event-processor/event-processor.env"
is "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -I "$deb" conffiles 2> /dev/null)" \
	"event-processor /etc/event-processor/event-processor.env" "the settings file is a conffile"
like "$(dpkg-deb -I "$deb" postinst 2> /dev/null)" "systemd-sysusers" \
	"the postinst creates the user (systemd-sysusers)"
d=$R/usr/share/doc/event-processor
for f in copyright examples/systemd/event-processor.env examples/supervisor/event-processor.conf.in \
	examples/supervisor/render.sh examples/cloudformation/table.yaml; do
	ok test -f "$d/$f" "usr/share/doc/event-processor/$f"
done
ok test -x "$d/examples/supervisor/render.sh" "the supervisord example's render.sh is executable"
ok test -n "$(ls "$d"/README.md* 2> /dev/null)" "usr/share/doc/event-processor/README.md"

# --- the units ---------------------------------------------------------------------------
# key UNIT KEY: the values of KEY in UNIT, one a line
key() { sed -n "s/^$2=//p" "$R/$UNITDIR/$1"; }
for u in "${UNITS[@]}"; do
	f=$R/$UNITDIR/$u
	is "$(grep -c @BINDIR@ "$f")" 0 "$u: @BINDIR@ filled in"
	exe=$(key "$u" ExecStart | cut -d' ' -f1)
	ok test -x "$R$exe" "$u: ExecStart's program $exe is in the package"
	is "$(grep -nE '^[^#]*(AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN|PASSWORD|SECRET)' "$f")" "" \
		"$u: no credential"
	like "$(key "$u" EnvironmentFile | tr '\n' ' ')" "^/etc/event-processor/event-processor.env -/etc/event-processor/credentials.env $" \
		"$u: settings from EnvironmentFile=, credentials from an optional root-only one"
	missing=
	for kv in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= \
		SystemCallFilter=@system-service 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
		MemoryDenyWriteExecute=yes LockPersonality=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
		ProtectKernelLogs=yes User=event-processor Restart=on-failure KillSignal=SIGTERM KillMode=mixed; do
		grep -qxF "$kv" "$f" || missing+="$kv; "
	done
	is "$missing" "" "$u: hardened, restarted on failure, SIGTERM to the main process"
	exposure=$(systemd-analyze security --offline=true "$f" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	ok awk -v e="$exposure" 'BEGIN { exit !(e != "" && e + 0 <= 2.0) }' \
		"$u: systemd-analyze security exposure ${exposure:-?} (at most 2.0)"
	note "$u: exposure $exposure"
done
# Stop timeouts: the same room as supervisord's stopwaitsecs (render.sh's
# defaults), the pipeline's more than the drain, retry's more than a long
# poll (20 s) and a request (10 s).
rdefault() { sed -n "s/^val\[$1\]=//p" deploy/supervisor/render.sh; }
pstop=$(key ep-pipeline@.service TimeoutStopSec)
rstop=$(key ep-retry@.service TimeoutStopSec)
drain=$(key ep-pipeline@.service Environment | grep -oE 'DRAIN_TIMEOUT=[0-9]+' | cut -d= -f2)
is "$pstop" "$(rdefault PIPELINE_STOP_WAIT)" "ep-pipeline: TimeoutStopSec is supervisord's stopwaitsecs"
is "$drain" "$(rdefault DRAIN_TIMEOUT)" "ep-pipeline: DRAIN_TIMEOUT is supervisord's"
ok test "${pstop:-0}" -gt "${drain:-0}" "ep-pipeline: TimeoutStopSec ($pstop) exceeds DRAIN_TIMEOUT ($drain)"
is "$rstop" "$(rdefault RETRY_STOP_WAIT)" "ep-retry: TimeoutStopSec is supervisord's stopwaitsecs"
ok test "${rstop:-0}" -ge 30 "ep-retry: TimeoutStopSec ($rstop) covers a long poll and a request"

# --- the settings file -------------------------------------------------------------------
# Every setting the units and the tools read is documented in it, and it
# assigns no credential (they go into the root-only credentials.env).
envf=$R/etc/event-processor/event-processor.env
names=$( (cat "$R/$UNITDIR"/*.service | sed -n 's/^ExecStart=//p' | grep -oE '\$\{?[A-Z_]+' | tr -d '${'
	grep -rhoE '"(AWS|KAFKA)_[A-Z_]+"' lib kcat-in validate persist route retry | tr -d '"'
	grep -oE '\$\{?PIPELINE_[A-Z_]+' scripts/pipeline.sh | tr -d '${') | sort -u)
undocumented=
for n in $names; do grep -qw "$n" "$envf" || undocumented+="$n "; done
isnt "$names" "" "the units and the tools read settings ($(echo $names | wc -w))"
is "$undocumented" "" "event-processor.env documents every one of them"
is "$(grep -nE '^[[:space:]]*[^#[:space:]].*(SECRET|TOKEN|ACCESS_KEY_ID|PASSWORD)' "$envf")" "" \
	"event-processor.env assigns no credential"

# --- systemd-analyze verify ---------------------------------------------------------------
# verify wants ExecStart's program on this machine and the pages of
# Documentation= where man finds them: the units as installed, with
# /usr/bin/ pointed into the scratch root, and MANPATH at its pages. It
# exits 0 even when it warns ("Unknown key", "Failed to parse"), so its
# output must be empty. An instance of each template is what is verified.
mkdir -p "$T/units"
for u in "${UNITS[@]}"; do
	sed "s|/usr/bin/|$R/usr/bin/|g" "$R/$UNITDIR/$u" > "$T/units/$u"
done
man_opt=()
command -v man > /dev/null || man_opt=(--man=no)
verify() { MANPATH=$R/usr/share/man systemd-analyze verify "${man_opt[@]}" "$@" 2>&1; }
out=$(verify "$T/units/ep-pipeline@1.service" "$T/units/ep-retry@1.service")
st=$?
is "$st" 0 "systemd-analyze verify ep-pipeline@1 ep-retry@1: exit 0"
is "$out" "" "systemd-analyze verify: no output"
# The check can fail: a misspelt key and a bad time are reported.
sed -e 's/^LockPersonality=/LockPersonalty=/' -e 's/^TimeoutStopSec=.*/TimeoutStopSec=1 minute/' \
	"$T/units/ep-retry@.service" > "$T/units/ep-bad@.service"
like "$(verify "$T/units/ep-bad@1.service")" "Unknown key.*LockPersonalty" \
	"systemd-analyze verify reports a misspelt key (the empty output means something)"

done_testing
