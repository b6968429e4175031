#!/usr/bin/env bash
# bench/soak.sh — a soak: a million events through the whole looped pipeline
# and the retry daemon against the local stand-ins. Does memory or the number
# of open files grow with the count, does the throughput hold from the first
# tenth to the last, how much of the CPU do the stand-ins take, and did every
# event get where it belongs?
#
# Starts kafka-mock (4 partitions, topic "soak"), dynalite and fauxqs
# (tests/lib.sh: start_standins, which provisions the table and the six
# queues), then scripts/pipeline.sh (kcat-in --acks FIFO | validate | persist
# | route > FIFO, default settings, kcat-in --stats-interval 1) and the retry
# daemon (defaults), and produces BENCH_SOAK_EVENTS seed-like events (1%
# broken, so the DLQ path is used) into the topic WHILE the pipeline consumes.
#
# Why produce while consuming, and how: the mock keeps at most 5 MiB of
# stored message sets (or 100,000 of them) per partition and silently drops
# the oldest beyond that (rdkafka_mock.c: max_size, max_cnt), so a million
# events (about 180 MB) cannot be produced up front, lz4 or not (tried:
# 600,000 up front with lz4, the pipeline got 282,470 and the rest was
# gone; uncompressed it keeps fewer still). One
# kafka-produce (-k uid, -z lz4) reads the events from a FIFO; this script
# writes them into it in chunks of BENCH_SOAK_CHUNK (10,000), and only while
# no more than BENCH_SOAK_WINDOW (60,000) events are produced but not yet
# acknowledged (kcat-in's "acks", outcome lines back from route, from its
# stats line every second). What kcat-in has fetched is at least what was
# acknowledged, so at most 60,000 events (about 14 MB uncompressed, spread
# over 4 partitions by the uid key: about 3.6 MB each, half that with lz4,
# and at most 60,000 message sets) sit in the mock unread: under both caps
# with room to spare, whatever the pipeline's speed. The window is a few
# seconds of the pipeline's throughput, so the pipeline never waits for the
# producer: the rate measured is the pipeline's. It also bounds what kcat-in
# has fetched ahead, so kcat-in's memory does not depend on the count.
#
# Sampled from /proc every BENCH_SOAK_SAMPLE_S (1) seconds, by this script's
# own loop (shell builtins only, no process started per sample): RSS (the
# resident pages of /proc/PID/statm, which is VmRSS, read as one short line),
# the number of open descriptors (/proc/PID/fd) and CPU time (utime + stime
# of /proc/PID/stat) of kcat-in, validate, persist, route, retry, the mock,
# dynalite's and fauxqs's node processes, and kafka-produce (the load).
# Prints RSS and descriptors of each at start (after warm-up: 5% of the
# events acknowledged), middle (50%) and end (100%, before stopping), and
# "GROWTH" for a process whose RSS grew more than 10% from middle to end or
# whose descriptor count grew at all, else "flat"; CPU seconds of each over
# the run; events/s over the run (kcat-in's assignment to the last outcome,
# the group join left out, as in bench/e2e.sh) and in each tenth of it (the
# times an outcome count was crossed, interpolated between kcat-in's stats
# lines); each process's CPU ms per 1,000 events in each tenth (does it get
# slower as the data grows?); the stand-ins' share of the CPU used by the
# pipeline, retry and the stand-ins (the load generator left out, shown on
# its own line).
# The stand-ins keep every item and message in memory: their RSS grows with
# the count by design (that is data, not a leak of ours).
#
# Then stops the pipeline (SIGTERM: it drains and commits) and retry, and
# checks the work was done: items in the table (a COUNT Scan, following
# LastEvaluatedKey: tests/tools/aws.mjs ddb-count) = the valid events;
# messages in the four client queues + the DLQ = the events (more is
# duplicates: reported, not a failure); retry.fifo empty; kcat-in's
# committed offsets = the end of every partition, which add up to the events.
#
# Environment: BUILD (default build), BENCH_SOAK_EVENTS (default 1000000;
# try 50000 first), BENCH_SOAK_CHUNK (10000), BENCH_SOAK_WINDOW (60000),
# BENCH_SOAK_SAMPLE_S (1), BENCH_SOAK_STALL_S (give up when no outcome came
# back for this long, default 180), BENCH_SOAK_SEED (900). About 180 MB of
# temporary files per million events. Results also go to bench/out/soak.json.
# Exit: 0 when it ran and nothing was lost (GROWTH included: it is a figure),
# 1 when it could not run, a process failed, or events were lost.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.bash
source bench/lib.bash

BUILD=${BUILD:-build}
N=${BENCH_SOAK_EVENTS:-1000000}
CHUNK=${BENCH_SOAK_CHUNK:-10000}
WINDOW=${BENCH_SOAK_WINDOW:-60000}
SAMPLE_S=${BENCH_SOAK_SAMPLE_S:-1}
STALL_S=${BENCH_SOAK_STALL_S:-180}
SEED=${BENCH_SOAK_SEED:-900}
OUT=bench/out
TOPIC=soak

whole_numbers N CHUNK WINDOW SAMPLE_S STALL_S SEED
[ "$N" -ge 1000 ] && [ "$CHUNK" -ge 100 ] && [ "$WINDOW" -ge $((2 * CHUNK)) ] && [ "$SAMPLE_S" -ge 1 ] ||
	die "BENCH_SOAK_EVENTS >= 1000, BENCH_SOAK_CHUNK >= 100, BENCH_SOAK_WINDOW >= 2 chunks, BENCH_SOAK_SAMPLE_S >= 1"
need_built "$BUILD"/bin/{gen-events,kafka-mock,kafka-produce,kcat-in,validate,persist,route,retry}
command -v node > /dev/null || die "node is not installed (scripts/install-deps.sh)"
command -v kcat > /dev/null || die "kcat is not installed (scripts/install-deps.sh)"
[ -d scripts/node/node_modules/fauxqs ] && [ -d scripts/node/node_modules/dynalite ] ||
	die "fauxqs or dynalite is not installed (scripts/install-deps.sh)"
mkdir -p "$OUT"
BUILD=$(cd "$BUILD" && pwd)

# Stand-ins, the clean-up at exit (every process started is stopped, even if
# this shell is killed: the library's watchdog), a hermetic AWS environment,
# and the end-to-end helpers (e2e_kafka, descendants, kin_stat, committed_of,
# E2E_X).
tests_lib e2e

# set_now: NOW, the time in µs since the epoch, without the subshell that
# now_us needs: sample() runs every second for the whole soak.
set_now() { NOW=${EPOCHREALTIME/./}; }
CLK_TCK=$(getconf CLK_TCK)
PAGE_KB=$(($(getconf PAGESIZE) / 1024))
mem_avail_mb() { awk '$1 == "MemAvailable:" { printf "%d", $2 / 1024 }' /proc/meminfo; }
MEM0=$(mem_avail_mb)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)

# --- the stand-ins and the events ----------------------------------------------------
e2e_kafka -p 4 -t "$TOPIC" || die "kafka-mock did not start"
start_standins || die "dynalite, fauxqs or provision.sh failed"
"$GEN" -n "$N" --invalid 1 --seed "$SEED" > "$T/events" || die "gen-events failed"
VALID=$("$VALIDATE" --rejects /dev/null < "$T/events" 2> /dev/null | wc -l)
say "$N events ($VALID valid), kafka $BOOT, dynamodb $DDB_URL, sqs $SQS_URL"

# --- the pipeline, retry, the producer ---------------------------------------------
scripts/pipeline.sh -- -b "$BOOT" -t "$TOPIC" -G soak "${E2E_X[@]}" --stats-interval 1 \
	2> >(stamp > "$T/pipe.err") &
PIPE_PID=$!
echo "$PIPE_PID" >> "$T/.pids"
bg_start retry "$BUILD/bin/retry"
RETRY_PID=$BG_PID
mkfifo "$T/produce.fifo"
"$PRODUCE" -b "$BOOT" -t "$TOPIC" -k uid -z lz4 < "$T/produce.fifo" > "$T/produce.out" 2> "$T/produce.err" &
PROD_PID=$!
echo "$PROD_PID" >> "$T/.pids"
exec {PW}> "$T/produce.fifo" {EV}< "$T/events" {SE}< "$T/pipe.err"

# --- watching ----------------------------------------------------------------------------
NAMES=(kcat-in validate persist route retry kafka-mock dynalite fauxqs kafka-produce)
declare -A PIDOF=([retry]=$RETRY_PID [kafka-mock]=$MOCK_PID [dynalite]=$DDB_PID [fauxqs]=$SQS_PID
	[kafka-produce]=$PROD_PID)
declare -A WATCH=([pipeline]=$PIPE_PID [retry]=$RETRY_PID [kafka-produce]=$PROD_PID [kafka-mock]=$MOCK_PID
	[dynalite]=$DDB_PID [fauxqs]=$SQS_PID)

# sample LABEL: a line per process into $T/samples:
#   LABEL T_US ACKS NAME PID RSS_KB FDS CPU_TICKS   (-1: the process is gone)
sample() {
	local name pid _r res st rss fds ticks f try
	local -a fd
	set_now
	shopt -s nullglob
	for name in "${NAMES[@]}"; do
		pid=${PIDOF[$name]:-0} rss=-1 fds=-1 ticks=-1
		# statm's resident pages are VmRSS; one short line, read at once
		for ((try = 0; try < 3; try++)); do
			res='' f=()
			{
				read -r _r res _r < "/proc/$pid/statm"
				fd=("/proc/$pid/fd/"*)
				read -r st < "/proc/$pid/stat"
				read -ra f <<< "${st##*) }"
				[ -n "$res" ] && [ ${#f[@]} -gt 12 ] &&
					rss=$((res * PAGE_KB)) fds=${#fd[@]} ticks=$((f[11] + f[12]))
			} 2> /dev/null && break
			[ -d "/proc/$pid" ] || break
		done
		echo "$1 $NOW $ACKS $name $pid $rss $fds $ticks"
	done >> "$T/samples"
	shopt -u nullglob
	NEXT_SAMPLE=$((SECONDS + SAMPLE_S))
}

# poll_stats: reads what came on the pipeline's stderr since the last call:
# kcat-in's assignment (T_ASSIGN) and stats lines (ACKS; "T_US ACKS" into
# $T/series).
PARTIAL=
poll_stats() {
	local l
	while :; do
		l=
		if IFS= read -r -u "$SE" l; then
			l=$PARTIAL$l PARTIAL=
			if [[ $l == *'"prog":"kcat-in","stats":"periodic"'* && $l =~ \"acks\":([0-9]+) ]]; then
				ACKS=${BASH_REMATCH[1]}
				echo "${l%% *} $ACKS" >> "$T/series"
			elif [ -z "$T_ASSIGN" ] && [[ $l == *'kcat-in: assigned'* ]]; then
				T_ASSIGN=${l%% *}
			fi
		else
			PARTIAL+=$l
			return 0
		fi
	done
}

alive() { kill -0 "$1" 2> /dev/null && [ "$(ps -o stat= -p "$1" 2> /dev/null)" != Z ]; }

ACKS=0 T_ASSIGN='' PRODUCED=0 NEXT_SAMPLE=0 LAST_ACKS=-1 LAST_PROGRESS=$SECONDS
START_AT=$(((N * 5 + 99) / 100)) MID_AT=$(((N + 1) / 2))
phase=assign
while :; do
	poll_stats
	# Keep at most WINDOW events produced and not yet acknowledged.
	while [ "$PRODUCED" -lt "$N" ] && [ $((PRODUCED - ACKS)) -le $((WINDOW - CHUNK)) ]; do
		c=$CHUNK
		[ $((N - PRODUCED)) -lt "$c" ] && c=$((N - PRODUCED))
		head -n "$c" <&"$EV" >&"$PW" || die "writing to kafka-produce failed: $(tail -3 "$T/produce.err")"
		PRODUCED=$((PRODUCED + c))
	done
	if [ $phase = assign ] && [ -n "$T_ASSIGN" ]; then
		for s in kcat-in validate persist route; do
			PIDOF[$s]=$(stage_pid "$PIPE_PID" "$s")
			[ -n "${PIDOF[$s]}" ] || die "no $s process under the pipeline"
		done
		sample assign
		phase=start
	fi
	if [ $phase = start ] && [ "$ACKS" -ge "$START_AT" ]; then sample start; phase=mid
	elif [ $phase = mid ] && [ "$ACKS" -ge "$MID_AT" ]; then sample mid; phase=end
	elif [ $phase = end ] && [ "$ACKS" -ge "$N" ]; then sample end; break
	elif [ $phase != assign ] && [ $SECONDS -ge $NEXT_SAMPLE ]; then sample tick
	fi
	if [ "$ACKS" != "$LAST_ACKS" ]; then
		LAST_ACKS=$ACKS LAST_PROGRESS=$SECONDS
	elif [ $((SECONDS - LAST_PROGRESS)) -ge "$STALL_S" ]; then
		die "no outcome came back for $STALL_S s ($ACKS of $N, $PRODUCED produced): $(grep -v '"stats"' "$T/pipe.err" | tail -3)"
	fi
	for p in pipeline retry kafka-produce kafka-mock dynalite fauxqs; do
		alive "${WATCH[$p]}" || die "$p exited early: $(grep -v '"stats"' "$T/pipe.err" | tail -3)"
	done
	sleep 0.2
done
say "all $N outcomes back; stopping"

# --- stopping: the pipeline drains and commits, retry stops, the producer ends ---------
kill -TERM "$PIPE_PID"
for ((i = 0; i < 1200; i++)); do alive "$PIPE_PID" || break; sleep 0.05; done
pipe_rc=0
wait "$PIPE_PID" || pipe_rc=$?
exec {PW}>&-
prod_rc=0
wait "$PROD_PID" || prod_rc=$?
# retry lets the long poll in flight finish (up to --wait-time, 20 s:
# docs/retry.md) before it exits: more than stop_pid's 5 s.
kill -TERM "$RETRY_PID"
for ((i = 0; i < 600; i++)); do alive "$RETRY_PID" || break; sleep 0.05; done
retry_rc=0
wait "$RETRY_PID" || retry_rc=$?
sleep 0.2 # the stamp process writes the last lines
cut -d' ' -f2- "$T/pipe.err" > "$T/pipe.plain"
[ "$pipe_rc" = 0 ] || die "the pipeline exited $pipe_rc: $(grep -v '"stats"' "$T/pipe.plain" | tail -3)"
[ "$prod_rc" = 0 ] || die "kafka-produce exited $prod_rc: $(tail -3 "$T/produce.err")"
[ "$retry_rc" = 0 ] || die "retry exited $retry_rc: $(tail -3 "$T/retry.err")"

# --- was the work done? -------------------------------------------------------------------
final_of() { grep "\"prog\":\"$1\",\"stats\":\"final\"" "$T/pipe.plain" | tail -1 | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }
kin_acks=$(kin_stat "$T/pipe.plain" acks)
kin_out=$(kin_stat "$T/pipe.plain" outstanding)
committed=$(committed_of "$T/pipe.plain")
ends=$(with_timeout 60 kcat -C -b "$BOOT" -t "$TOPIC" -o -1 -e -q -f '%p %o\n' 2> /dev/null |
	awk '{ e[$1] = $2 + 1 } END { for (p = 0; p < 4; p++) printf "%s%d:%d", p ? " " : "", p, e[p] }')
ends_sum=$(tr ' ' '\n' <<< "$ends" | awk -F: '{ s += $2 } END { print s + 0 }')
t=$SECONDS
items=$(ddb_count pismo) || die "the COUNT Scan of the table failed"
count_s=$((SECONDS - t))
declare -A QN
qsum=0
for q in "${CLIENTS[@]}" dlq retry; do
	QN[$q]=$(sqs_count "$q.fifo") || die "could not count $q.fifo"
	[ "$q" = retry ] || qsum=$((qsum + QN[$q]))
done
to_client=$(final_of route to_client) to_dlq=$(final_of route to_dlq) to_retry=$(final_of route to_retry)

lost=()
[ "$ends_sum" = "$N" ] || lost+=("the topic's partitions end at $ends: $ends_sum messages, not $N")
[ "$committed" = "$ends" ] || lost+=("committed offsets $committed, partition ends $ends")
[ "$items" -ge "$VALID" ] || lost+=("the table holds $items items of $VALID valid events")
[ "$qsum" -ge "$N" ] || lost+=("the client queues and the DLQ hold $qsum messages of $N events")
[ "${QN[retry]}" = 0 ] || lost+=("retry.fifo still holds ${QN[retry]} messages")
dups=$((qsum - N))
[ "$dups" -gt 0 ] || dups=0

# --- the report ---------------------------------------------------------------------------------
# crossing times of 0, N/10 … N outcomes: T_ASSIGN for 0, then interpolated
# between kcat-in's stats lines
{ echo "$T_ASSIGN 0"; cat "$T/series"; } > "$T/series.all"
awk -v n="$N" -v ta="$T_ASSIGN" -v mem0="$MEM0" -v memend="$(mem_avail_mb)" -v load0="$LOAD0" -v load1="$(cut -d' ' -f1 /proc/loadavg)" -v tck="$CLK_TCK" \
	-v cpu="$(cpu_model)" -v cores="$(nproc)" \
	-v node="$(node --version)" -v valid="$VALID" -v items="$items" -v count_s="$count_s" \
	-v qa="${QN[Client_A]}" -v qb="${QN[Client_B]}" -v qc="${QN[Client_C]}" -v qd="${QN[Client_D]}" \
	-v qdlq="${QN[dlq]}" -v qretry="${QN[retry]}" -v qsum="$qsum" -v dups="$dups" \
	-v committed="$committed" -v ends="$ends" -v kacks="$kin_acks" -v kout="$kin_out" \
	-v toc="$to_client" -v tod="$to_dlq" -v tor="$to_retry" -v lost="${#lost[@]}" \
	-v chunk="$CHUNK" -v window="$WINDOW" -v json="$T/soak.json" "$BENCH_AWK"'
# an RSS column: "-" for a process that was gone
function rss_mb(kb) { return kb < 0 ? "-" : sprintf("%.1f", kb / 1024) }
function num(v) { return v < 0 ? "null" : v }
FNR == NR { st[ns] = $1; sa[ns] = $2; ns++; next }
{ # samples: LABEL T_US ACKS NAME PID RSS FDS TICKS
	if (!($4 in seen)) { seen[$4] = 1; order[np++] = $4 }
	pidof[$4] = $5
	if ($6 >= 0) { k = cnt[$4]++; sacks[$4, k] = $3; stk[$4, k] = $8 }
	if ($1 != "tick") { rss[$1, $4] = $6; fds[$1, $4] = $7; tk[$1, $4] = $8; at[$1] = $2; ack[$1] = $3 }
	if ($6 > peak[$4]) peak[$4] = $6
}
function cross(a,   i) { # the time the outcome count reached a
	for (i = 1; i < ns; i++) if (sa[i] >= a) {
		if (sa[i] == sa[i - 1]) return st[i]
		return st[i - 1] + (a - sa[i - 1]) * (st[i] - st[i - 1]) / (sa[i] - sa[i - 1])
	}
	return -1
}
END {
	tend = cross(n); el = (tend - ta) / 1e6
	for (k = 0; k <= 10; k++) tt[k] = cross(n * k / 10)
	tt[0] = ta
	printf "soak: %s events (%s valid, 1%% broken) through kcat-in --acks | validate | persist | route,\n", comma(n), comma(valid)
	printf "with the retry daemon, on kafka-mock (4 partitions), dynalite and fauxqs (node %s)\n", node
	printf "%s, %d cores (shared: noisy; load average %s before, %s after); MemAvailable %s MB before, %s MB after\n",
		cpu, cores, load0, load1, comma(mem0), comma(memend)
	printf "produced while consumed: chunks of %s, at most %s produced and not yet acknowledged (lz4)\n\n", comma(chunk), comma(window)
	printf "throughput: %s events in %.1f s (kcat-in assigned -> last outcome back): %s events/s\n", comma(n), el, comma(n / el)
	printf "per tenth (events/s):"
	mn = 1e18; mx = 0
	for (k = 1; k <= 10; k++) {
		r[k] = (n / 10) / ((tt[k] - tt[k - 1]) / 1e6)
		printf " %s", comma(r[k])
		if (r[k] < mn) mn = r[k]; if (r[k] > mx) mx = r[k]
	}
	printf "\n  slowest/fastest tenth %.2f, last/second tenth %.2f\n\n", mn / mx, r[10] / r[2]
	printf "%-13s %7s | %-29s | %-15s | %-13s | %s\n", "", "", "RSS MB", "open fds", "CPU, the run", "RSS and fds,"
	printf "%-13s %7s | %6s %6s %6s %8s | %4s %4s %5s | %6s %6s | %s\n", "process", "pid", "5%", "50%", "100%", "(peak)", "5%", "50%", "100%", "s", "%core", "100% vs 50%"
	for (i = 0; i < np; i++) {
		p = order[i]
		c = (tk["end", p] - tk["assign", p]) / tck
		if (tk["end", p] < 0 || tk["assign", p] < 0) c = -1
		g = (rss["mid", p] > 0) ? (rss["end", p] - rss["mid", p]) / rss["mid", p] : 0
		verdict = (g > 0.10 || fds["end", p] > fds["mid", p]) ? "GROWTH" : "flat"
		if (rss["end", p] < 0) verdict = "gone"
		printf "%-13s %7s | %6s %6s %6s %8s | %4s %4s %5s | %6.1f %6.1f | %-6s (RSS %+.1f%%, fds %+d)\n", p, pidof[p],
			rss_mb(rss["start", p]), rss_mb(rss["mid", p]), rss_mb(rss["end", p]), "(" rss_mb(peak[p]) ")",
			fds["start", p], fds["mid", p], fds["end", p], c, 100 * c / el, verdict, 100 * g, fds["end", p] - fds["mid", p]
		cs[p] = c; gr[p] = g; vd[p] = verdict
		if (p == "kafka-mock" || p == "dynalite" || p == "fauxqs") sb += c
		if (p != "kafka-produce") tot += c
	}
	printf "\nCPU ms per 1,000 events, by tenth of the run (does a process get slower as the data grows?)\n"
	for (i = 0; i < np; i++) {
		p = order[i]
		if (cs[p] < 0.5) continue
		printf "%-13s", p
		for (k = 1; k <= 10; k++) {
			lo = -1; hi = -1
			for (j = 0; j < cnt[p]; j++) {
				if (lo < 0 && sacks[p, j] >= n * (k - 1) / 10) lo = j
				if (hi < 0 && sacks[p, j] >= n * k / 10) hi = j
			}
			if (k == 1) lo = 0
			cpk[p, k] = (lo >= 0 && hi > lo && sacks[p, hi] > sacks[p, lo]) ? 1e6 * (stk[p, hi] - stk[p, lo]) / tck / (sacks[p, hi] - sacks[p, lo]) : -1
			printf " %6s", cpk[p, k] < 0 ? "-" : sprintf("%.1f", cpk[p, k])
		}
		printf "\n"
	}
	printf "\nCPU over the run: pipeline + retry + stand-ins %.1f s (%.0f%% of %d cores), of which the stand-ins %.1f s: %.0f%%\n",
		tot, 100 * tot / el / cores, cores, sb, 100 * sb / tot
	printf "  (kafka-mock %.1f s, dynalite %.1f s, fauxqs %.1f s; the load generator kafka-produce %.1f s, not counted)\n\n",
		cs["kafka-mock"], cs["dynalite"], cs["fauxqs"], cs["kafka-produce"]
	printf "work done:\n"
	printf "  table pismo: %s items (COUNT Scan, %d s), valid events %s\n", comma(items), count_s, comma(valid)
	printf "  client queues A %s, B %s, C %s, D %s + DLQ %s = %s messages, events %s%s; retry.fifo %s\n",
		comma(qa), comma(qb), comma(qc), comma(qd), comma(qdlq), comma(qsum), comma(n), (dups > 0 ? " (" comma(dups) " duplicates)" : ""), comma(qretry)
	printf "  route: %s to clients, %s to the DLQ, %s to retry; kcat-in: %s outcomes back, %s outstanding\n", comma(toc), comma(tod), comma(tor), comma(kacks), kout
	printf "  committed offsets %s, partition ends %s\n", committed, ends
	printf "%s\n", lost ? "LOST: see below" : "nothing lost"

	printf "{\"bench\":\"soak\",\"events\":%d,\"valid\":%d,\"chunk\":%d,\"window\":%d,\"elapsed_s\":%.3f,\"events_per_s\":%d,\n", n, valid, chunk, window, el, n / el > json
	printf " \"tenths_events_per_s\":[" > json
	for (k = 1; k <= 10; k++) printf "%s%d", (k > 1 ? "," : ""), r[k] > json
	printf "],\"slowest_over_fastest\":%.3f,\n \"processes\":{", mn / mx > json
	for (i = 0; i < np; i++) {
		p = order[i]
		printf "%s\n  \"%s\":{\"rss_kb\":{\"start\":%s,\"mid\":%s,\"end\":%s,\"peak\":%s},\"fds\":{\"start\":%s,\"mid\":%s,\"end\":%s},\"cpu_s\":%.2f,\"rss_end_vs_mid\":%.4f,\"verdict\":\"%s\"}",
			i ? "," : "", p, num(rss["start", p]), num(rss["mid", p]), num(rss["end", p]), peak[p] + 0,
			num(fds["start", p]), num(fds["mid", p]), num(fds["end", p]), cs[p], gr[p], vd[p] > json
	}
	printf "},\n \"cpu_s\":{\"pipeline_retry_standins\":%.2f,\"standins\":%.2f,\"standins_share\":%.4f,\"load_generator\":%.2f},\n", tot, sb, sb / tot, cs["kafka-produce"] > json
	printf " \"checks\":{\"table_items\":%d,\"client_queues\":[%d,%d,%d,%d],\"dlq\":%d,\"retry\":%d,\"queued_total\":%d,\"duplicates\":%d,\"committed\":\"%s\",\"ends\":\"%s\",\"lost\":%s},\n", items, qa, qb, qc, qd, qdlq, qretry, qsum, dups, committed, ends, lost ? "true" : "false" > json
	printf " \"mem_available_mb\":{\"before\":%d,\"after\":%d},\"load_average\":{\"before\":%s,\"after\":%s}}\n", mem0, memend, load0, load1 > json
}' "$T/series.all" "$T/samples" || die "the report failed"
cp "$T/soak.json" "$OUT/soak.json"

if [ ${#lost[@]} -gt 0 ]; then
	printf 'bench/soak: LOST: %s\n' "${lost[@]}" >&2
	exit 1
fi
