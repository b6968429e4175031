#!/usr/bin/env bash
# demo.sh — the whole event processor on this machine, in under a minute:
#
#   examples/events.txt ─ file-source.sh ─► Kafka (mock, 4 partitions)
#     ─► kcat-in | validate | persist | route ─► DynamoDB (dynalite) + SQS (fauxqs)
#     retry daemon: retry.fifo ─► stored and delivered again, or dlq.fifo
#
# Starts the three stand-ins on free loopback ports, provisions the table and
# the six queues, runs the looped pipeline and the retry daemon under a
# supervisord of its own (configured from deploy/supervisor/), feeds the
# sample file into the topic a line at a time, waits until every offset is
# committed and retry.fifo is empty, prints a summary, and stops everything it
# started (also on ^C). `make demo` installs what is missing and builds first.
#
# The retry path is made to happen honestly: persist talks to DynamoDB
# through a fault proxy (tests/tools/http-front.mjs) that answers the first
# --fail-writes BatchWriteItem requests with a 5xx, as a DynamoDB briefly
# unavailable would, and the pipeline makes one attempt per request
# (AWS_MAX_ATTEMPTS=1), so persist marks those events retryable, route puts
# them on retry.fifo, and the retry daemon stores and delivers them.
#
# Exit: 0 done, 1 not done in time (the summary says what is where), 64 usage,
# 69 something missing (build, node, supervisord) or a stand-in would not
# start, 130 interrupted.
set -uo pipefail
shopt -u patsub_replacement 2> /dev/null || true

prog=demo.sh
usage() {
	cat <<'EOF'
usage: demo.sh [--keep DIR] [--fail-writes N] [--rate N] [--timeout S] [FILE]

Runs the event processor over FILE (default examples/events.txt) against local
stand-ins for Kafka, DynamoDB and SQS, under supervisord, prints a summary
and stops everything it started.

  --keep DIR        keep the configuration and every log in DIR, a new or
                    empty directory (default: a temporary one, removed at the end),
                    and what landed where in DIR/landed/: each queue's messages
                    (QUEUE.ndjson) and the table's keys (pismo.uids)
  --fail-writes N   the first N DynamoDB write requests fail (5xx) so that
                    their events take the retry path (default 2; 0: none)
  --rate N          lines fed per second (default 10)
  --timeout S       give up waiting for the events after S seconds (default 60)
  -h, --help        this text

The tools come from $BUILD/bin (default build/bin). AWS credentials: the
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the environment when both are
set, else made-up ones (the stand-ins only check that requests are signed);
nothing else of the machine's AWS or Kafka settings is used.
Exit: 0 done, 1 not done in time, 64 usage, 69 something missing, 130 ^C.
EOF
}

keep='' fail_writes=2 rate=10 timeout=60 events=''
while [ $# -gt 0 ]; do
	case $1 in
	--keep) [ $# -ge 2 ] || { usage >&2; exit 64; }; keep=$2; shift 2 ;;
	--fail-writes) [ $# -ge 2 ] || { usage >&2; exit 64; }; fail_writes=$2; shift 2 ;;
	--rate) [ $# -ge 2 ] || { usage >&2; exit 64; }; rate=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || { usage >&2; exit 64; }; timeout=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "$prog: unknown option $1" >&2; usage >&2; exit 64 ;;
	*) [ -z "$events" ] || { usage >&2; exit 64; }; events=$1; shift ;;
	esac
done
for v in fail_writes rate timeout; do
	[[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -le 100000 ] ||
		{ echo "$prog: --${v/_/-}: '${!v}' is not a whole number" >&2; exit 64; }
done
[ "$rate" -ge 1 ] && [ "$timeout" -ge 1 ] || { echo "$prog: --rate and --timeout must be at least 1" >&2; exit 64; }

root=$(cd "$(dirname "$0")/.." && pwd)
events=${events:-$root/examples/events.txt}
[ -r "$events" ] || { echo "$prog: cannot read $events" >&2; exit 66; }
bin=${BUILD:-$root/build}/bin
[[ $bin == /* ]] || bin=$PWD/$bin
for t in kafka-mock kafka-produce kcat-in validate persist route retry; do
	[ -x "$bin/$t" ] || { echo "$prog: $bin/$t is missing: run make (or make demo)" >&2; exit 69; }
done
for c in node supervisord supervisorctl curl; do
	command -v "$c" > /dev/null || { echo "$prog: $c is not installed: run scripts/install-deps.sh" >&2; exit 69; }
done

# Hermetic: none of the machine's AWS or Kafka settings, no proxies.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB \
	AWS_ENDPOINT_URL_SQS AWS_MAX_ATTEMPTS AWS_RETRY_MODE AWS_CA_BUNDLE KAFKA_BROKERS KAFKA_TOPIC KAFKA_GROUP \
	PIPELINE_STAGES http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
	export AWS_ACCESS_KEY_ID=AKIDEVENTPROCDEMO AWS_SECRET_ACCESS_KEY=made-up/secret+for+the+local+stand-ins
fi
export AWS_REGION=us-east-1 AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

if [ -n "$keep" ]; then
	if [ -e "$keep" ] && [ -n "$(ls -A "$keep" 2> /dev/null)" ]; then
		echo "$prog: --keep $keep: not empty (the logs of another run would mix with these)" >&2
		exit 64
	fi
	mkdir -p "$keep" || exit 73
	work=$(cd "$keep" && pwd)
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/ep-demo.XXXXXX") || exit 73
fi
logs=$work/logs
mkdir -p "$logs" "$work/conf" "$work/run" || exit 73

# --- output ------------------------------------------------------------------------
t0=$EPOCHREALTIME
tty=0
cols=100
if [ -t 1 ]; then
	tty=1
	cols=$(tput cols 2> /dev/null || echo 100)
	[[ $cols =~ ^[0-9]+$ ]] && [ "$cols" -ge 20 ] || cols=100
fi
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
progress_shown=0
say() {
	if [ $progress_shown = 1 ]; then printf '\n'; progress_shown=0; fi
	printf '[%5ss] %s\n' "$(elapsed)" "$*"
}
# One line, rewritten in place on a terminal; elsewhere printed when it changes.
last_progress=
progress() {
	[ "$*" = "$last_progress" ] && return
	last_progress=$*
	if [ $tty = 1 ]; then
		local line
		line=$(printf '[%5ss] %s' "$(elapsed)" "$*")
		printf '\r\033[K%s' "${line:0:cols-1}"
		progress_shown=1
	else
		printf '[%5ss] %s\n' "$(elapsed)" "$*"
	fi
}
fatal() { say "$prog: $*" >&2; exit 69; }

# --- stopping what was started -------------------------------------------------------
# Every process below runs in a process group of its own (set -m), so a ^C at
# the terminal reaches this script alone, which stops them in order: the
# feeder, then supervisord (the pipeline drains), then the stand-ins.
pids=()       # stand-ins and the fault proxy, stopped last, in reverse
feeder_pid=
sd_pid=
conf=$work/conf/supervisord.conf

stop_pid() { # PID SECONDS: TERM, then KILL after SECONDS
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2> /dev/null || { wait "$pid" 2> /dev/null; return 0; }
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2> /dev/null || break
		[ "$(ps -o stat= -p "$pid" 2> /dev/null)" = Z ] && break
		sleep 0.1
	done
	kill -KILL "$pid" 2> /dev/null
	wait "$pid" 2> /dev/null
	return 0
}

cleaned=0
cleanup() {
	[ $cleaned = 1 ] && return
	cleaned=1
	trap 'say "still stopping what was started: a moment"' INT TERM
	stop_pid "$feeder_pid" 10
	if [ -n "$sd_pid" ] && kill -0 "$sd_pid" 2> /dev/null; then
		# supervisord stops the programs (each within its stopwaitsecs), then exits
		stop_pid "$sd_pid" 60
	fi
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" 5; done
	if [ -z "$keep" ]; then
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'say "interrupted: stopping everything the demo started"; exit 130' INT TERM HUP

# start NAME CMD…: CMD in the background, in a process group of its own,
# stdout to $work/NAME.out, stderr to $logs/NAME.log; sets START_PID.
start() {
	local name=$1
	shift
	set -m
	"$@" < /dev/null > "$work/$name.out" 2> "$logs/$name.log" &
	START_PID=$!
	set +m
}
# first_line NAME PID SECONDS: the first line the program printed (its address).
first_line() {
	local f=$work/$1.out end=$((SECONDS + $3))
	until [ -s "$f" ] && [ "$(wc -l < "$f")" -ge 1 ]; do
		kill -0 "$2" 2> /dev/null || fatal "$1 exited before it was ready: $(tail -2 "$logs/$1.log")"
		[ $SECONDS -ge $end ] && fatal "$1 not ready after $3 s: $(tail -2 "$logs/$1.log")"
		sleep 0.05
	done
	head -1 "$f"
}

nlines=$(grep -cv '^[[:space:]]*$' "$events")
echo "== event-processor demo: $nlines events from ${events#"$root"/}"
echo "   Kafka (librdkafka mock) -> kcat-in | validate | persist | route -> DynamoDB (dynalite) + SQS (fauxqs),"
echo "   the pipeline and the retry daemon run under supervisord; files in $work$([ -z "$keep" ] && echo ' (removed at the end)')"

# --- the stand-ins, started together -------------------------------------------------
say "starting the stand-ins on free loopback ports: Kafka mock (4 partitions), dynalite, fauxqs"
start kafka-mock "$bin/kafka-mock" -p 4
pids+=("$START_PID")
mock_pid=$START_PID
start dynamodb "$root/scripts/dynamodb-local"
pids+=("$START_PID")
ddb_pid=$START_PID
start sqs "$root/scripts/sqs-local"
pids+=("$START_PID")
sqs_pid=$START_PID
boot=$(first_line kafka-mock "$mock_pid" 30) || exit
ddb_url=$(first_line dynamodb "$ddb_pid" 60) || exit
sqs_url=$(first_line sqs "$sqs_pid" 60) || exit
say "Kafka $boot, DynamoDB $ddb_url, SQS $sqs_url"
export AWS_ENDPOINT_URL_DYNAMODB=$ddb_url AWS_ENDPOINT_URL_SQS=$sqs_url

"$root/scripts/provision.sh" > "$logs/provision.log" 2>&1 ||
	fatal "scripts/provision.sh failed: $(tail -3 "$logs/provision.log")"
say "provisioned table pismo and queues Client_A..D.fifo, retry.fifo, dlq.fifo (scripts/provision.sh)"

# --- the fault: the first writes to DynamoDB fail --------------------------------------
pipeline_ddb=$ddb_url
if [ "$fail_writes" -gt 0 ]; then
	start http-front node "$root/tests/tools/http-front.mjs" --upstream "$ddb_url" \
		--error5xx "first:$fail_writes" --ops BatchWriteItem --stats-file "$work/front.stats"
	pids+=("$START_PID")
	pipeline_ddb=$(first_line http-front "$START_PID" 30) || exit
	say "fault: the first $fail_writes DynamoDB write requests get a 5xx (tests/tools/http-front.mjs at $pipeline_ddb),"
	say "       and the tools try each request once (AWS_MAX_ATTEMPTS=1): those events take the retry path"
fi

# --- supervisord ---------------------------------------------------------------------
max_attempts=''
[ "$fail_writes" -gt 0 ] && max_attempts=1 # else the tools' default
render() {
	"$root/deploy/supervisor/render.sh" "$root/deploy/supervisor/$1.in" \
		BINDIR="$bin" PIPELINE="$root/scripts/pipeline.sh" CONFDIR="$work/conf" LOGDIR="$logs" \
		RUNDIR="$work/run" WORKDIR="$work" KAFKA_BROKERS="$boot" KAFKA_TOPIC=stream_producer \
		KAFKA_GROUP=event-processor-demo AWS_REGION="$AWS_REGION" AWS_ENDPOINT_URL_DYNAMODB="$pipeline_ddb" \
		AWS_ENDPOINT_URL_SQS="$sqs_url" AWS_MAX_ATTEMPTS="$max_attempts" \
		AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
		KCAT_IN_OPTS="-X fetch.wait.max.ms=100 -X session.timeout.ms=6000 -X heartbeat.interval.ms=500" \
		RETRY_OPTS="-v" DRAIN_TIMEOUT=10 PIPELINE_STOP_WAIT=30 RETRY_STOP_WAIT=30 \
		STATS_INTERVAL=1 > "$work/conf/$1" || fatal "deploy/supervisor/render.sh $1.in failed"
}
render event-processor.conf
render supervisord.conf
set -m
supervisord -n -c "$conf" < /dev/null > "$work/supervisord.out" 2>&1 &
sd_pid=$!
set +m
ctl() { supervisorctl -c "$conf" "$@"; }
say "supervisord started (config $work/conf/supervisord.conf, from deploy/supervisor/*.conf.in)"

# The pipeline is ready once kcat-in has its partitions.
plog=$logs/ep-pipeline.log
rlog=$logs/ep-retry.log
end=$((SECONDS + 40))
until grep -q '^kcat-in: assigned' "$plog" 2> /dev/null; do
	kill -0 "$sd_pid" 2> /dev/null || fatal "supervisord exited: $(tail -3 "$work/supervisord.out")"
	[ $SECONDS -ge $end ] && fatal "the pipeline did not join the consumer group in 40 s: $(tail -3 "$plog")"
	progress "waiting for the pipeline to join the consumer group ..."
	sleep 0.2
done
say "supervisord: $(ctl status 2>&1 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')"
say "$(grep '^kcat-in: assigned' "$plog" | tail -1) (consumer group event-processor-demo)"

# --- feeding ---------------------------------------------------------------------------
committed() { # the offsets kcat-in reported committed, summed over its partitions
	grep '^{"prog":"kcat-in","stats":' "$plog" 2> /dev/null | tail -1 |
		grep -o '"committed":-\{0,1\}[0-9]*' | awk -F: '$2 > 0 { n += $2 } END { print n + 0 }'
}
# "table 36 | queues A 11 B 9 C 7 D 9 | retry 0 | dlq 4"
brief() {
	"$root/scripts/status.sh" --brief 2> /dev/null |
		sed -E 's/table pismo/table/; s/\| Client_A\.fifo/| queues A/; s/ \| Client_([B-D])\.fifo/ \1/g; s/\.fifo//g'
}

src=$work/source.txt
: > "$src"
start file-source "$root/scripts/file-source.sh" --bin "$bin" -b "$boot" -t stream_producer "$src"
feeder_pid=$START_PID
say "feeding $nlines lines at $rate a second: scripts/file-source.sh follows a file the demo appends them to"
t_feed=$EPOCHREALTIME
n=0
pause=$(awk -v r="$rate" 'BEGIN { printf "%.3f", 1 / r }')
while IFS= read -r line || [ -n "$line" ]; do
	printf '%s\n' "$line" >> "$src"
	[[ $line =~ ^[[:space:]]*$ ]] || n=$((n + 1))
	if [ $((n % rate)) = 0 ] || [ $n = "$nlines" ]; then
		progress "fed $n/$nlines | committed $(committed) | $(brief)"
	fi
	sleep "$pause"
done < "$events"

# --- waiting for the end -------------------------------------------------------------------
end=$((SECONDS + timeout))
done=0
while :; do
	c=$(committed)
	b=$(brief)
	progress "fed $nlines/$nlines | committed $c | $b"
	if [ "$c" -ge "$nlines" ] && [[ $b == *"| retry 0 |"* ]]; then
		done=1
		break
	fi
	[ $SECONDS -ge $end ] && break
	sleep 0.5
done
busy=$(awk -v a="$t_feed" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
if [ $done = 1 ]; then
	say "all $nlines offsets committed and retry.fifo empty, $busy s after the first line was fed"
else
	say "not done after $timeout s (--timeout): the summary shows what is where"
fi

# --- stopping the feeder and the programs, then the summary -------------------------------
stop_pid "$feeder_pid" 10
feeder_pid=
say "stopping ep-pipeline and ep-retry (supervisorctl stop: kcat-in drains and commits, retry finishes what it holds)"
ctl stop event-processor:* 2>&1 | sed 's/^/         /'
# With --keep, what landed where is kept too (the queues are emptied into
# DIR/landed/ once counted: everything stops next anyway).
drain=()
[ -n "$keep" ] && drain=(--drain "$work/landed")
"$root/scripts/status.sh" --json --dlq "${drain[@]}" > "$work/status.json" 2> "$logs/status.log" ||
	say "scripts/status.sh failed: $(tail -1 "$logs/status.log")"
echo
node "$root/scripts/node/demo-summary.mjs" --events "$events" --status "$work/status.json" \
	--pipeline-log "$plog" --retry-log "$rlog" --front-stats "$work/front.stats" \
	--fail-writes "$fail_writes" --busy-s "$busy" --name "${events#"$root"/}"
echo
if [ -n "$keep" ]; then
	say "stopping supervisord and the stand-ins; configuration and logs kept in $work"
else
	say "stopping supervisord and the stand-ins"
fi
cleanup
say "done: everything the demo started has stopped"
[ $done = 1 ] && exit 0
exit 1
