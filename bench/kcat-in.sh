#!/usr/bin/env bash
# bench/kcat-in.sh — how fast is kcat-in, with its acks looped back, against
# kcat reading the same topic?
#
# Starts kafka-mock (4 partitions), produces 200,000 seed-like events into it
# once (lz4, so that they all stay within the mock's ~5 MB per partition),
# then, in the same invocation and alternating run by run, each in a consumer
# group of its own (so each reads the whole topic), times
#   kcat-in   kcat-in -G G -e --acks FIFO | cat > FIFO   (every record's
#             outcome comes back through a trivial echo stage, offsets stored
#             as they return, all committed before it exits)
#   kcat      kcat -G G -e stream_producer | wc -l
# from the moment each reports its assignment (the group join, about 3 s on
# the mock, is left out) until it exits; both get the same librdkafka
# settings (-X fetch.wait.max.ms=100 queued.min.messages=1000000, kcat-in's
# own default). Both include the mock's end-of-log wait (a fetch that finds
# nothing is answered after fetch.wait.max.ms). Prints messages/s for both
# (median of the runs), the ratio, and PASS/MISS against the target
# (kcat-in >= 0.9x kcat). Checks every run: kcat wrote every message,
# kcat-in got every outcome back and committed the end of every partition.
#
# Environment: BUILD (default build), BENCH_RUNS (runs of each, default 5),
# BENCH_MESSAGES (default 200000). Results also go to bench/out/kcat-in.json.
# Exit: 0 when it ran (a MISS included), 1 when it could not run or a run
# lost messages.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.bash
source bench/lib.bash

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-5}
N=${BENCH_MESSAGES:-200000}
TARGET=0.9
KIN=$BUILD/bin/kcat-in
GEN=$BUILD/bin/gen-events
MOCK=$BUILD/bin/kafka-mock
OUT=bench/out

whole_numbers RUNS N
[ "$RUNS" -ge 1 ] && [ "$N" -ge 1000 ] || die "BENCH_RUNS must be >= 1 and BENCH_MESSAGES >= 1000"
[ -x "$KIN" ] && [ -x "$GEN" ] && [ -x "$MOCK" ] || die "$KIN, $GEN or $MOCK is missing: run make all (make bench does)"
command -v kcat > /dev/null || die "kcat is not installed (scripts/install-deps.sh)"
mkdir -p "$OUT"

W=$(mktemp -d "${TMPDIR:-/tmp}/bench-kcat-in.XXXXXX")
MOCK_PID=
cleanup() {
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2> /dev/null && wait "$MOCK_PID" 2> /dev/null
	rm -rf "$W"
}
trap cleanup EXIT

"$MOCK" -p 4 > "$W/mock.out" 2> "$W/mock.err" &
MOCK_PID=$!
for ((i = 0; i < 200; i++)); do [ -s "$W/mock.out" ] && break; sleep 0.05; done
BOOT=$(head -1 "$W/mock.out")
[ -n "$BOOT" ] || die "kafka-mock did not start: $(cat "$W/mock.err")"

"$GEN" -n "$N" --seed 43 | awk '{ print NR "\t" $0 }' | kcat -P -b "$BOOT" -t stream_producer -K '\t' -z lz4
bytes=$(kcat -C -b "$BOOT" -t stream_producer -e -q -f '%p %o %S\n' > "$W/truth" && awk '{ s += $3 } END { print s }' "$W/truth")
have=$(wc -l < "$W/truth")
[ "$have" = "$N" ] || die "the mock kept $have of $N messages (its ~5 MB per partition cap)"
ENDS=$(awk '{ if ($2 + 1 > e[$1]) e[$1] = $2 + 1 } END { for (p = 0; p < 4; p++) printf "%s%d:%d", p ? " " : "", p, e[p] }' "$W/truth")

X=(-X fetch.wait.max.ms=100 -X queued.min.messages=1000000 -X session.timeout.ms=6000 -X heartbeat.interval.ms=500)

# run_one NAME I: one timed run; prints the microseconds from the assignment
# to the exit, or fails when the run lost something.
run_one() {
	local name=$1 g=bench-$1-$2 t1 t0 n
	case $name in
	kcat-in)
		rm -f "$W/acks"
		mkfifo "$W/acks"
		"$KIN" -b "$BOOT" -G "$g" "${X[@]}" -e --acks "$W/acks" 2> >(stamp > "$W/err.$name") |
			cat > "$W/acks"
		t1=$(now_us)
		sleep 0.1 # the stamper's last lines
		n=$(grep -o '"acks":[0-9]*' "$W/err.$name" | tail -1 | cut -d: -f2)
		local committed
		committed=$(grep '"stats":"final"' "$W/err.$name" | cut -d' ' -f2- | perl -MJSON::PP -ne '
			print join(" ", map { "$_->{partition}:$_->{committed}" }
				sort { $a->{partition} <=> $b->{partition} } @{decode_json($_)->{partitions}})')
		[ "$committed" = "$ENDS" ] || { say "kcat-in committed '$committed', not '$ENDS'"; return 1; }
		;;
	kcat)
		n=$(kcat -b "$BOOT" -G "$g" "${X[@]}" -X auto.offset.reset=earliest -e stream_producer 2> >(stamp > "$W/err.$name") | wc -l)
		t1=$(now_us)
		sleep 0.1
		;;
	esac
	[ "$n" = "$N" ] || { say "$name delivered $n of $N: $(tail -3 "$W/err.$name")"; return 1; }
	t0=$(grep -m1 -E 'assigned' "$W/err.$name" | cut -d' ' -f1)
	[ -n "$t0" ] || { say "$name reported no assignment"; return 1; }
	echo $((t1 - t0))
}

declare -a tk tc
for ((i = 0; i < RUNS; i++)); do
	t=$(run_one kcat-in "$i") || exit 1
	tk+=("$t")
	t=$(run_one kcat "$i") || exit 1
	tc+=("$t")
done

mk=$(median "${tk[@]}") mc=$(median "${tc[@]}")
bk=$(minimum "${tk[@]}") bc=$(minimum "${tc[@]}")
ratio=$(awk -v k="$mk" -v c="$mc" 'BEGIN { printf "%.3f", c / k }')
verdict=$(awk -v r="$ratio" -v t="$TARGET" 'BEGIN { print (r >= t) ? "PASS" : "MISS" }')

awk -v n="$N" -v bytes="$bytes" -v runs="$RUNS" -v mk="$mk" -v mc="$mc" -v bk="$bk" -v bc="$bc" \
	-v ratio="$ratio" -v target="$TARGET" -v verdict="$verdict" -v kcatv="$(kcat -V 2>&1 | head -1)" \
	-v cpu="$(cpu_model)" -v cores="$(nproc)" "$BENCH_AWK"'
BEGIN {
	printf "kcat-in (acks looped through cat) vs kcat -G -e: %s messages (%.0f MB, lz4) in 4 partitions of kafka-mock\n", comma(n), bytes / 1e6
	printf "%d runs each, alternating, a fresh group each run, timed from assignment to exit; %s, %d cores; %s\n\n", runs, cpu, cores, kcatv
	printf "%-34s %10s %10s %14s\n", "", "median s", "best s", "messages/s"
	printf "%-34s %10.3f %10.3f %14s\n", "kcat-in --acks (every one committed)", mk / 1e6, bk / 1e6, comma(n / (mk / 1e6))
	printf "%-34s %10.3f %10.3f %14s\n", "kcat -G -e | wc -l", mc / 1e6, bc / 1e6, comma(n / (mc / 1e6))
	printf "\nratio: kcat-in handles %.2fx the messages/s of kcat (median runs)\n", ratio
	printf "target kcat-in >= %.1fx kcat: %s\n", target, verdict
}'

cat > "$OUT/kcat-in.json" << EOF
{"bench":"kcat-in","messages":$N,"bytes":$bytes,"runs":$RUNS,
 "kcat_in":{"median_us":$mk,"best_us":$bk,"messages_per_s":$((N * 1000000 / mk))},
 "kcat":{"median_us":$mc,"best_us":$bc,"messages_per_s":$((N * 1000000 / mc))},
 "ratio":$ratio,"target":$TARGET,"verdict":"$verdict"}
EOF
