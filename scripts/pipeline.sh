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
EOF
}

warn() { echo "$prog: $*" >&2; }

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
# the terminal reaches this script only, and only kcat-in is told to stop.
set -m
eval "$pipeline" &
job=$!
set +m

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
