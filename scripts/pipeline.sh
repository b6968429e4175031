#!/usr/bin/env bash
# pipeline.sh — the looped pipeline in one command:
#
#     kcat-in --acks FIFO [kcat-in options] | validate | persist | route > FIFO
#
# The outcome lines route writes come back to kcat-in through the FIFO, so
# offsets are committed only for records whose outcome is durable
# (docs/kafka.md). SIGTERM, SIGINT or SIGHUP stop kcat-in only; it stops
# fetching, closes its output and waits for the outcomes of what it wrote,
# while each later stage finishes on end of input, in order. Exit status:
# 0 when every stage exited 0, else the status of the most downstream stage
# that failed (the others usually failed because of it: a closed pipe).
# If this script itself dies (kill -9, supervisord's SIGKILL after
# stopwaitsecs), a watchdog stops the stages: they never outlive it.
set -uo pipefail

prog=pipeline.sh
usage() {
	cat <<EOF
usage: $prog [--stages 'CMD | CMD …'] [--fifo PATH] [--bin DIR] [-- kcat-in options…]

Runs kcat-in --acks FIFO | STAGES > FIFO, forwards SIGTERM/SIGINT/SIGHUP to
kcat-in (which drains; the later stages finish on end of input) and exits
non-zero if a stage failed. Options after -- go to kcat-in (-b, -t, -G, -X,
-e, --drain-timeout, --stats-interval …); kcat-in also reads KAFKA_BROKERS,
KAFKA_TOPIC and KAFKA_GROUP.

  --stages 'CMDS'   the stages between kcat-in and the FIFO, a shell pipeline
                    (default \$PIPELINE_STAGES, else 'validate | persist | route')
  --fifo PATH       the ack FIFO (created if missing, left in place); default:
                    a FIFO in a temporary directory, removed at exit
  --bin DIR         where the tools are (default \$BUILD/bin when BUILD is set,
                    else this script's own folder or ../build/bin beside it,
                    whichever holds kcat-in, else the PATH); DIR is put first
                    on the PATH for the stages
  -h, --help        this text

Exit: 0 all stages exited 0; 64 usage; otherwise the status of the most
downstream stage that failed (each failure is reported on stderr).
If $prog is killed (SIGKILL included), its stages get SIGTERM at once
and SIGKILL ${orphan_grace} s later: none outlives it.
EOF
}

warn() { echo "$prog: $*" >&2; }
orphan_grace=10 # seconds between the watchdog's SIGTERM and its SIGKILL

stages=${PIPELINE_STAGES:-'validate | persist | route'}
fifo=
bindir=
while [ $# -gt 0 ]; do
	case $1 in
	--stages) [ $# -ge 2 ] || { usage >&2; exit 64; }; stages=$2; shift 2 ;;
	--stages=*) stages=${1#*=}; shift ;;
	--fifo) [ $# -ge 2 ] || { usage >&2; exit 64; }; fifo=$2; shift 2 ;;
	--fifo=*) fifo=${1#*=}; shift ;;
	--bin) [ $# -ge 2 ] || { usage >&2; exit 64; }; bindir=$2; shift 2 ;;
	--bin=*) bindir=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) warn "unknown option: $1 (kcat-in options go after --)"; usage >&2; exit 64 ;;
	esac
done
kin_args=("$@")

# The tools: an explicit folder, the build tree, or the PATH.
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$bindir" ]; then
	if [ -n "${BUILD:-}" ]; then
		bindir=$BUILD/bin
	elif [ -x "$here/kcat-in" ]; then
		bindir=$here # installed beside the tools
	elif [ -x "$here/../build/bin/kcat-in" ]; then
		bindir=$here/../build/bin
	fi
fi
[ -n "$bindir" ] && PATH=$bindir:$PATH
kcat_in=$(command -v kcat-in) || { warn "kcat-in not found (--bin DIR)"; exit 69; }

# The stages, one command each, for the pipeline and for error messages.
IFS='|' read -ra stage_cmds <<< "$stages"
for s in "${stage_cmds[@]}"; do
	if [ -z "${s//[[:space:]]/}" ]; then
		warn "--stages: an empty stage in '$stages'"
		exit 64
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pipeline.XXXXXX") || exit 73
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
if [ -z "$fifo" ]; then
	fifo=$work/acks.fifo
fi
if [ ! -p "$fifo" ]; then
	mkfifo "$fifo" || { warn "cannot make the FIFO $fifo"; exit 73; }
fi

# Every stage records how it ended in $work/status ("index status").
# kcat-in runs in the background of its subshell so that its pid is known
# (signals go to it alone); the subshell lets go of the pipe at once, or
# the next stage would not see the end of input when kcat-in closes its
# output to drain. After kcat-in exits, opening the FIFO for reading and
# writing for an instant frees the last stage if it is still waiting to
# open the FIFO because kcat-in never got as far as opening it.
pipeline='{ "$kcat_in" --acks "$fifo" "${kin_args[@]}" & echo $! > "$work/kcat-in.pid";
	exec > /dev/null; wait $!; echo "0 $?" >> "$work/status"; : <> "$fifo"; }'
for i in "${!stage_cmds[@]}"; do
	pipeline+=" | { ${stage_cmds[i]}
	echo \"$((i + 1)) \$?\" >> \"\$work/status\"; }"
done
pipeline+=' > "$fifo"'

# Job control on: the pipeline runs in its own process group, so a ^C at
# the terminal reaches this script only, and only kcat-in is told to stop
# (supervisord, with stopasgroup=false, likewise signals this script alone).
#
# The price of that group: what kills this script does not reach the
# stages, which would keep running, orphaned, and compete with a restarted
# pipeline for the consumer group. supervisord's SIGKILL after stopwaitsecs
# (killasgroup=true) goes to this script's group, not theirs; a
# parent-death signal (setpriv --pdeathsig) fires only when a process's own
# parent dies, and a stage's parent is one of the subshells below, which
# outlive this script (the setting is not inherited across fork, and is
# lost if the parent dies before it is set). So the stages' group holds a
# watchdog: a subshell blocked reading a pipe (the "lifeline") that only
# this script holds open for writing. However this script ends, SIGKILL
# included, the kernel closes that pipe. A normal end writes "done" first
# (every stage has exited by then) and the watchdog just exits. End of file
# without "done" means this script died under its stages: the watchdog
# sends SIGTERM to its whole group (each stage stops reading and finishes
# what it holds; kcat-in commits what came back and leaves the consumer
# group, so a restarted pipeline gets the partitions at once), waits up to
# $orphan_grace s for the group to empty, removes this script's temporary
# directory, and sends SIGKILL to whatever is left, itself included.
# Nothing is lost: offsets are committed only for outcomes that came back.
# Being a member of that group, the watchdog keeps its id from being reused
# while it signals it.
lifeline=$work/lifeline
mkfifo "$lifeline" || { warn "cannot make the FIFO $lifeline"; exit 73; }
# read-write first (does not block, and makes this script the writer), then
# read-only for the watchdog (does not block: there is a writer)
exec {life_w}<> "$lifeline" {life_r}< "$lifeline"
rm -f "$lifeline"

# watchdog (stdin: the lifeline)
watchdog() {
	trap '' TERM INT HUP PIPE
	local word='' me=$BASHPID pg='' i stat=''
	IFS= read -r word && [ "$word" = 'done' ] && exit 0
	read -r stat < "/proc/$me/stat" && stat=${stat##*') '} && read -r _ _ pg _ <<< "$stat"
	warn "the script is gone (killed?); stopping its stages: SIGTERM, then SIGKILL after $orphan_grace s"
	kill -TERM 0
	for ((i = 0; i < orphan_grace * 5; i++)); do
		group_has_others "$me" "$pg" || break
		sleep 0.2
	done
	rm -rf "$work"
	if group_has_others "$me" "$pg"; then
		warn "stages still running after $orphan_grace s: SIGKILL"
		kill -KILL 0
	fi
	exit 0
}
# group_has_others PID PGID: a live process other than PID is in group PGID
# (from /proc: no child process, and no dependency on procps)
group_has_others() {
	local f pid stat state pgrp
	[ -n "$2" ] || return 0
	for f in /proc/[0-9]*/stat; do
		pid=${f#/proc/} && pid=${pid%/stat}
		[ "$pid" = "$1" ] && continue
		read -r stat 2> /dev/null < "$f" || continue
		stat=${stat##*') '} # after "pid (comm) ": state ppid pgrp ...
		read -r state _ pgrp _ <<< "$stat"
		[ "$pgrp" = "$2" ] && [ "$state" != Z ] && [ "$state" != X ] && return 0
	done
	return 1
}

set -m
{
	watchdog <&"$life_r" {life_r}<&- > /dev/null &
	exec {life_r}<&-
	eval "$pipeline"
} {life_w}>&- &
job=$!
set +m
exec {life_r}<&-

stopping=0
forward() {
	stopping=1
	[ -s "$work/kcat-in.pid" ] && kill -TERM "$(cat "$work/kcat-in.pid")" 2>/dev/null
}
trap forward TERM INT HUP

while kill -0 "$job" 2>/dev/null; do
	wait "$job"
	# a signal that came before kcat-in's pid was known
	if [ $stopping = 1 ] && [ -s "$work/kcat-in.pid" ]; then
		kill -TERM "$(cat "$work/kcat-in.pid")" 2>/dev/null
		stopping=2
	fi
done

# Every stage has exited: the watchdog can go.
echo 'done' >&"$life_w"
exec {life_w}>&-

names=(kcat-in "${stage_cmds[@]}")
status=0
worst=-1
while read -r idx st; do
	if [ "$st" != 0 ]; then
		name=$(echo "${names[idx]}" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
		warn "stage $idx ($name) exited $st"
		if [ "$idx" -gt "$worst" ]; then
			worst=$idx
			status=$st
		fi
	fi
done < <(sort -n "$work/status" 2>/dev/null)
if [ "$(wc -l < "$work/status" 2>/dev/null || echo 0)" -lt ${#names[@]} ]; then
	warn "a stage ended without reporting its status"
	[ $status = 0 ] && status=70
fi
exit $status
