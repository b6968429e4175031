#!/usr/bin/env bash
# bench/e2e.sh — the whole looped pipeline against the local stand-ins:
# how many events a second, and how long one event takes from the producer
# to its client's queue when the stream is quiet.
#
# Starts kafka-mock (4 partitions), dynalite and fauxqs (scripts/
# dynamodb-local, scripts/sqs-local, provisioned by scripts/provision.sh),
# then
#   throughput  20,000 seed-like events (1% broken) produced into a topic of
#               their own (lz4), then scripts/pipeline.sh -e (kcat-in --acks
#               | validate | persist | route, default settings) in a fresh
#               group, timed from kcat-in's assignment (the group join, about
#               3 s on the mock, is left out) until every outcome is back and
#               committed and the pipeline has exited; events/s, median of
#               the runs, each on a topic of its own (new uids: the table
#               and the queues' deduplication see new events every run);
#   latency     the pipeline running (not -e), 50 events produced one at a
#               time, one every 200 ms, through one kafka-produce (one line
#               each, sent at once); a reader long-polls the four client
#               queues (tests/tools/aws.mjs sqs-drain, 20 s polls, deleting
#               as it goes) and stamps each message as it arrives: the time
#               from writing the line to kafka-produce until the event is
#               read from its client's queue; p50, p90, p99 and max.
# Targets: p99 latency < linger + 50 ms = 70 ms (persist's and route's
# linger is 20 ms). The throughput has no target here; it is printed with
# route's batches and persist's request latencies.
#
# Environment: BUILD (default build), BENCH_RUNS (throughput runs, default
# 3), BENCH_EVENTS (default 20000), BENCH_LATENCY_EVENTS (default 50),
# BENCH_LATENCY_GAP_MS (default 200), BENCH_KIN_X (extra options for kcat-in
# in the latency run, default "-X fetch.wait.max.ms=10": the mock answers a
# fetch only when fetch.wait.max.ms has passed, even when a message arrives
# meanwhile, where a real broker answers at once (fetch.min.bytes=1); with
# librdkafka's default of 500 ms the mock alone adds up to half a second;
# BENCH_KIN_X= measures that). Results also
# go to bench/out/e2e.json. Exit: 0 when it ran (a MISS included), 1 when it
# could not run or a run lost events.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.bash
source bench/lib.bash

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
N=${BENCH_EVENTS:-20000}
NL=${BENCH_LATENCY_EVENTS:-50}
GAP=${BENCH_LATENCY_GAP_MS:-200}
read -ra KIN_X <<< "${BENCH_KIN_X--X fetch.wait.max.ms=10}"
TARGET_MS=70
GEN=$BUILD/bin/gen-events
MOCK=$BUILD/bin/kafka-mock
PRODUCE=$BUILD/bin/kafka-produce
OUT=bench/out
export BUILD

whole_numbers RUNS N NL GAP
[ "$RUNS" -ge 1 ] && [ "$N" -ge 100 ] && [ "$NL" -ge 2 ] || die "BENCH_RUNS >= 1, BENCH_EVENTS >= 100, BENCH_LATENCY_EVENTS >= 2"
need_built "$GEN" "$MOCK" "$PRODUCE" "$BUILD"/bin/{kcat-in,validate,persist,route}
command -v node > /dev/null || die "node is not installed (scripts/install-deps.sh)"
[ -d scripts/node/node_modules ] || die "the stand-ins are not installed (scripts/install-deps.sh)"
mkdir -p "$OUT"

# Hermetic AWS settings: the stand-ins only.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_MAX_ATTEMPTS AWS_RETRY_MODE \
	http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench/local/stand-ins AWS_REGION=us-east-1
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
export LC_ALL=C

W=$(mktemp -d "${TMPDIR:-/tmp}/bench-e2e.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT

# start NAME CMD…: a server that prints its address first; sets ADDR
start() {
	local name=$1 i
	shift
	"$@" > "$W/$name.out" 2> "$W/$name.err" &
	PIDS+=($!)
	for ((i = 0; i < 600; i++)); do
		[ -s "$W/$name.out" ] && break
		kill -0 "${PIDS[-1]}" 2> /dev/null || die "$name did not start: $(tail -3 "$W/$name.err")"
		sleep 0.05
	done
	ADDR=$(head -1 "$W/$name.out")
	[ -n "$ADDR" ] || die "$name did not start in 30 s"
}
topics=(lat)
for ((i = 1; i <= RUNS; i++)); do topics+=("tput$i"); done
start kafka-mock "$MOCK" -p 4 -t "$(IFS=,; echo "${topics[*]}")"
BOOT=$ADDR
start dynamodb scripts/dynamodb-local
export AWS_ENDPOINT_URL_DYNAMODB=$ADDR
start sqs scripts/sqs-local
export AWS_ENDPOINT_URL_SQS=$ADDR
scripts/provision.sh > "$W/provision.out" 2>&1 || die "provision.sh: $(tail -3 "$W/provision.out")"

X=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)
final() { # PROG KEY FILE: a member of PROG's final stats line in FILE
	grep "\"prog\":\"$1\",\"stats\":\"final\"" "$3" | tail -1 | cut -d' ' -f2- |
		perl -MJSON::PP -ne '$v = decode_json($_); $v = $v->{$_} for split /\./, "'"$2"'"; print $v'
}

# --- throughput ------------------------------------------------------------------
declare -a tt
for ((i = 1; i <= RUNS; i++)); do
	"$GEN" -n "$N" --invalid 1 --seed $((600 + i)) > "$W/events"
	"$PRODUCE" -b "$BOOT" -t "tput$i" -z lz4 -k uid < "$W/events" || die "kafka-produce failed"
	scripts/pipeline.sh -- -b "$BOOT" -t "tput$i" -G "bench-e2e-$i" "${X[@]}" -e 2> >(stamp > "$W/tput$i.err") ||
		die "the pipeline failed: $(grep -v '"stats"' "$W/tput$i.err" | tail -3)"
	t1=$(now_us)
	sleep 0.2
	acks=$(final kcat-in acks "$W/tput$i.err")
	[ "$acks" = "$N" ] || die "run $i: $acks outcomes of $N events"
	t0=$(grep -m1 'kcat-in: assigned' "$W/tput$i.err" | cut -d' ' -f1)
	tt+=($((t1 - t0)))
	say "run $i: $N events in $(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", t / 1e6 }') s"
done
mt=$(median "${tt[@]}")
bt=$(minimum "${tt[@]}")
last=$W/tput$RUNS.err
persist_p50=$(final persist latency_ms.p50 "$last") persist_p99=$(final persist latency_ms.p99 "$last")
route_p50=$(final route latency_ms.p50 "$last") route_p99=$(final route latency_ms.p99 "$last")
route_batch=$(final route mean_batch "$last") persist_batch=$(final persist mean_batch "$last")

# --- latency -------------------------------------------------------------------------
# The client queues still hold the throughput runs' messages: empty them, so
# that the reader below sees only the latency run's events.
for q in Client_A Client_B Client_C Client_D dlq; do
	url=$(node tests/tools/aws.mjs sqs-url "$q.fifo")
	node tests/tools/aws.mjs call sqs PurgeQueue "{\"QueueUrl\":\"$url\"}" > /dev/null ||
		die "PurgeQueue $q.fifo failed"
done
"$GEN" -n "$NL" --seed 700 > "$W/lat.events"
perl -MJSON::PP -ne 'print decode_json($_)->{uid}, "\n"' "$W/lat.events" > "$W/lat.uids"
mkfifo "$W/lat.fifo"
scripts/pipeline.sh -- -b "$BOOT" -t lat -G bench-e2e-lat "${X[@]}" "${KIN_X[@]}" 2> "$W/lat.err" &
PIPE_PID=$!
PIDS+=("$PIPE_PID")
for ((i = 0; i < 600; i++)); do grep -qs 'kcat-in: assigned' "$W/lat.err" && break; sleep 0.05; done
grep -qs 'kcat-in: assigned' "$W/lat.err" || die "the latency pipeline got no assignment in 30 s"
for q in Client_A Client_B Client_C Client_D; do
	node tests/tools/aws.mjs sqs-drain "$q.fifo" 20 2> /dev/null | stamp > "$W/lat.recv.$q" &
	PIDS+=($!)
done
"$PRODUCE" -b "$BOOT" -t lat -k uid < "$W/lat.fifo" 2> "$W/lat.produce.err" &
PIDS+=($!)
exec 3> "$W/lat.fifo"
sleep 1 # the producer's connection and the first long polls
gap_s=$(awk -v g="$GAP" 'BEGIN { printf "%.3f", g / 1000 }')
# the time is taken just before the line is written, with no process started
# in between
while IFS= read -r line && IFS= read -r uid <&4; do
	t=$EPOCHREALTIME
	printf '%s\n' "$line" >&3
	echo "${t/./} $uid" >> "$W/lat.sent"
	sleep "$gap_s"
done < "$W/lat.events" 4< "$W/lat.uids"
exec 3>&-
for ((i = 0; i < 200; i++)); do
	[ "$(cat "$W"/lat.recv.* | wc -l)" -ge "$NL" ] && break
	sleep 0.05
done
cat "$W"/lat.recv.* | perl -MJSON::PP -ne '($t, $b) = split / /, $_, 2; print "$t ", decode_json($b)->{uid}, "\n"' |
	sort -k2 > "$W/lat.got"
sort -k2 "$W/lat.sent" > "$W/lat.sent.s"
join -1 2 -2 2 "$W/lat.sent.s" "$W/lat.got" | awk '{ printf "%.3f\n", ($3 - $2) / 1000 }' | sort -n > "$W/lat.ms"
got=$(wc -l < "$W/lat.ms")
[ "$got" = "$NL" ] || die "latency: $got of $NL events reached their queue within 10 s of the last"
pct() { awk -v p="$1" '{ a[NR] = $1 } END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print a[i] }' "$W/lat.ms"; }
p50=$(pct 50) p90=$(pct 90) p99=$(pct 99) pmax=$(tail -1 "$W/lat.ms")
verdict=$(awk -v p="$p99" -v t="$TARGET_MS" 'BEGIN { print (p < t) ? "PASS" : "MISS" }')

awk -v n="$N" -v runs="$RUNS" -v mt="$mt" -v bt="$bt" -v nl="$NL" -v gap="$GAP" \
	-v p50="$p50" -v p90="$p90" -v p99="$p99" -v pmax="$pmax" -v target="$TARGET_MS" -v verdict="$verdict" \
	-v pp50="$persist_p50" -v pp99="$persist_p99" -v rp50="$route_p50" -v rp99="$route_p99" \
	-v rb="$route_batch" -v pb="$persist_batch" -v kx="${KIN_X[*]:-}" \
	-v cpu="$(cpu_model)" -v cores="$(nproc)" "$BENCH_AWK"'
BEGIN {
	printf "the looped pipeline (kcat-in --acks | validate | persist | route) on kafka-mock, dynalite, fauxqs\n"
	printf "%s, %d cores, everything on this machine\n\n", cpu, cores
	printf "throughput: %s events (1%% broken) per run, %d runs, from assignment to exit\n", comma(n), runs
	printf "  median %.2f s (best %.2f s): %s events/s (best %s)\n", mt / 1e6, bt / 1e6, comma(n / (mt / 1e6)), comma(n / (bt / 1e6))
	printf "  last run: persist %.1f items/request, request p50 %.1f ms p99 %.1f ms; route %.1f messages/request, p50 %.1f ms p99 %.1f ms\n\n", pb, pp50, pp99, rb, rp50, rp99
	printf "latency: %d events, one every %d ms, produce -> client queue%s\n", nl, gap, kx != "" ? " (kcat-in " kx ")" : ""
	printf "  p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", p50, p90, p99, pmax
	printf "target p99 < linger 20 ms + 50 ms = %d ms: %s\n", target, verdict
}'

cat > "$OUT/e2e.json" << EOF
{"bench":"e2e","events":$N,"runs":$RUNS,"median_us":$mt,"best_us":$bt,"events_per_s":$((N * 1000000 / mt)),
 "latency":{"events":$NL,"gap_ms":$GAP,"p50_ms":$p50,"p90_ms":$p90,"p99_ms":$p99,"max_ms":$pmax,"target_p99_ms":$TARGET_MS,"verdict":"$verdict"}}
EOF
