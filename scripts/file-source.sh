#!/usr/bin/env bash
# file-source.sh — the seed's Kafka Connect FileStreamSource as a script:
# follows a file (tail -F: it may not exist yet, and may be rotated or
# truncated) and produces each line, as it is appended, as one message to
# the topic. The producer is the project's kafka-produce, which sends each
# line as soon as it is complete; kcat -P (1.7.1) would hold lines back
# until a kilobyte has gathered, so it is only the fallback.
# SIGTERM/SIGINT/SIGHUP stop following; what was read is still delivered
# (the producer flushes at end of input), then it exits 0.
set -uo pipefail

prog=file-source.sh
usage() {
	cat <<EOF
usage: $prog [-b brokers] [-t topic] [-k field] [-z codec] [-X prop=value]… [--from-end]
                      [--bin DIR] FILE

Follows FILE and produces every line appended to it as one message, in real
time, like Kafka Connect's FileStreamSource.

  -b, --brokers LIST  bootstrap brokers (default \$KAFKA_BROKERS, else localhost:9092)
  -t, --topic NAME    topic (default \$KAFKA_TOPIC, else stream_producer)
  -k, --key FIELD     key each message by the value of a top-level string member
                      of the line (e.g. client: one partition, so one order, per
                      client; uid: spread evenly); a line without it gets an
                      empty key. Default: no key (the partitioner spreads batches).
  -z, --compress C    compression codec (default lz4; none to turn off)
  -X PROP=VALUE       librdkafka property for the producer; repeatable
      --from-end      only lines appended from now on (default: from the first
                      line of the file, so a restart sends the file again — the
                      pipeline's effects are idempotent: same uid, same item)
      --bin DIR       where kafka-produce is (default \$BUILD/bin when BUILD is
                      set, else this script's folder or ../build/bin beside it,
                      else the PATH;
                      without it, kcat -P, which sends lines in 1 KiB batches)
  -h, --help          this text

Exit: 0 after a signal, once what was read is delivered; 64 usage; 69 no
producer found; otherwise the producer's status (69: messages not delivered).
EOF
}

warn() { echo "$prog: $*" >&2; }

brokers=${KAFKA_BROKERS:-localhost:9092}
topic=${KAFKA_TOPIC:-stream_producer}
key=
codec=lz4
start=+1
props=()
bindir=
while [ $# -gt 0 ]; do
	case $1 in
	-b | --brokers) [ $# -ge 2 ] || { usage >&2; exit 64; }; brokers=$2; shift 2 ;;
	-t | --topic) [ $# -ge 2 ] || { usage >&2; exit 64; }; topic=$2; shift 2 ;;
	-k | --key) [ $# -ge 2 ] || { usage >&2; exit 64; }; key=$2; shift 2 ;;
	-z | --compress) [ $# -ge 2 ] || { usage >&2; exit 64; }; codec=$2; shift 2 ;;
	-X) [ $# -ge 2 ] || { usage >&2; exit 64; }; props+=(-X "$2"); shift 2 ;;
	--from-end) start=0; shift ;;
	--bin) [ $# -ge 2 ] || { usage >&2; exit 64; }; bindir=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) warn "unknown option: $1"; usage >&2; exit 64 ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || { usage >&2; exit 64; }
file=$1
if [ -n "$key" ] && ! [[ $key =~ ^[A-Za-z0-9_]+$ ]]; then
	warn "--key: '$key' is not a plain member name"
	exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$bindir" ]; then
	if [ -n "${BUILD:-}" ]; then
		bindir=$BUILD/bin
	elif [ -x "$here/kafka-produce" ]; then
		bindir=$here # installed beside the tools
	elif [ -x "$here/../build/bin/kafka-produce" ]; then
		bindir=$here/../build/bin
	fi
fi
[ -n "$bindir" ] && PATH=$bindir:$PATH

if command -v kafka-produce > /dev/null; then
	keyer=(cat)
	producer=(kafka-produce -b "$brokers" -t "$topic" "${props[@]}")
	[ "$codec" != none ] && producer+=(-z "$codec")
	[ -n "$key" ] && producer+=(-k "$key")
elif command -v kcat > /dev/null; then
	warn "kafka-produce not found: using kcat -P, which sends lines in 1 KiB batches"
	producer=(kcat -P -b "$brokers" -t "$topic" "${props[@]}")
	[ "$codec" != none ] && producer+=(-z "$codec")
	if [ -n "$key" ]; then
		# "value<TAB>line": kcat splits the key off at the first tab.
		# Lines without the member get an empty key, so a tab in the line
		# itself is never taken for the delimiter.
		keyer=(sed -u -E "s/^(.*\"$key\"[[:space:]]*:[[:space:]]*\"([^\"\\\\]*)\".*)\$/\\2\t\\1/; t; s/^/\t/")
		producer+=(-K '\t')
	else
		keyer=(cat)
	fi
else
	warn "neither kafka-produce nor kcat found (--bin DIR)"
	exit 69
fi

# tail and the rest in a process group of their own: a ^C reaches this
# script, which stops tail only, so that the producer still sends what it
# read.
work=$(mktemp -d "${TMPDIR:-/tmp}/file-source.XXXXXX") || exit 73
trap 'rm -rf "$work"' EXIT
set -m
{
	tail -n "$start" -F "$file" &
	echo $! > "$work/tail.pid"
	wait
} | "${keyer[@]}" | { "${producer[@]}"; echo $? > "$work/producer.status"; } &
job=$!
set +m

stop() { [ -s "$work/tail.pid" ] && kill -TERM "$(cat "$work/tail.pid")" 2>/dev/null; }
trap stop TERM INT HUP
while kill -0 "$job" 2>/dev/null; do
	wait "$job"
done
[ -s "$work/producer.status" ] || { warn "the producer ended without a status"; exit 70; }
exit "$(cat "$work/producer.status")"
