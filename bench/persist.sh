#!/usr/bin/env bash
# bench/persist.sh — does batching pay, and how close is persist to a plain
# batched client? (issue 3)
#
# Generates 50,000 valid seed-like events once into bench/out/, then, in the
# same invocation, against dynalite (scripts/dynamodb-local on a free port, a
# fresh one with a freshly provisioned table for every run, so that runs are
# comparable), times
#   persist (defaults)   build/bin/persist < events > /dev/null
#   persist one-by-one   build/bin/persist --batch-size 1 --inflight 1: one
#                        request of one item at a time (the baseline)
#   direct client        node bench/node/ddb-batch-write.mjs: BatchWriteItem
#                        of 25 items, 8 in flight, kept-alive connections,
#                        SigV4 — what the endpoint gives a plain batched writer
# and both persist runs again behind tests/tools/http-front.mjs --delay-ms 5
# (5 ms added to every request, a region's round trip). The batched runs are
# repeated (alternating) and the median taken; the one-by-one baselines run
# once on the first 5,000 events (2,000 behind the front), as a rate does not
# depend on the count and 50,000 single writes would take minutes.
# Prints events/s and HTTP requests per stored event (persist's final stats
# line: requests / stored) for each, the ratios, persist's events/s as a
# percentage of the direct client's, and persist's peak RSS for 10,000 and
# 100,000 events. Each target gets a PASS or MISS line:
#   requests per stored event at load          <= 0.045
#   batched / one-by-one behind the 5 ms front >= 20x
#   persist / direct client, without the front >= 80%
# Exit 0 when it ran (whatever the figures), 1 when something broke (a tool
# failed, or the table does not hold what persist said it stored).
#
# Times: persist's are wall clock around the process (start-up and reading
# included); the direct client's is from its first request to its last answer
# (its start-up and JSON parsing left out: strict on persist).
#
# Environment: BUILD (default build), BENCH_RUNS (runs of each batched case,
# default 3), BENCH_EVENTS (default 50000), BENCH_BASE_EVENTS (default 5000),
# BENCH_BASE_FRONT_EVENTS (default 2000), BENCH_DELAY_MS (default 5),
# BENCH_DIRECT_INFLIGHT (default 8). Needs node and the stand-ins' npm
# packages (scripts/install-deps.sh), /usr/bin/time for the peak RSS.
# Results also go to bench/out/persist.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=lib.bash
source bench/lib.bash

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
N=${BENCH_EVENTS:-50000}
BASE_N=${BENCH_BASE_EVENTS:-5000}
BASE_FRONT_N=${BENCH_BASE_FRONT_EVENTS:-2000}
DELAY=${BENCH_DELAY_MS:-5}
DIRECT_INFLIGHT=${BENCH_DIRECT_INFLIGHT:-8}
RSS_SMALL=10000 RSS_LARGE=100000
SEED=42
P=$BUILD/bin/persist
GEN=$BUILD/bin/gen-events
OUT=bench/out

whole_numbers RUNS N BASE_N BASE_FRONT_N DELAY DIRECT_INFLIGHT
check_batched_counts
[ -x "$P" ] && [ -x "$GEN" ] || die "$P or $GEN is missing: run make all (make bench does)"
command -v node > /dev/null || die "node is not installed (scripts/install-deps.sh)"
[ -d scripts/node/node_modules/dynalite ] || die "dynalite is not installed (scripts/install-deps.sh)"
timer=$(find_timer)
mkdir -p "$OUT"

# Stand-ins, fronts, the clean-up at exit (every process started is stopped)
# and a hermetic AWS environment (fake keys, us-east-1): the tests' library.
tests_lib

# The inputs, once: regenerated only when the generator changes.
input() { # COUNT: prints the file's name
	local f=$OUT/events-$1-inv0-seed$SEED.ndjson
	if [ ! -s "$f" ] || [ "$GEN" -nt "$f" ]; then
		"$GEN" -n "$1" --invalid 0 --seed $SEED > "$f.tmp" && mv "$f.tmp" "$f" || die "gen-events failed"
	fi
	echo "$f"
}
events=$(input "$N")
small=$(input $RSS_SMALL)
large=$(input $RSS_LARGE)
head -n "$BASE_N" "$events" > "$T/base.ndjson"
head -n "$BASE_FRONT_N" "$events" > "$T/base-front.ndjson"
bytes=$(stat -c %s "$events")

# A fresh dynalite with a fresh table; sets DDB_URL, DDB_PID.
fresh_dynamodb() {
	start_dynamodb || die "dynamodb-local did not start"
	"$ROOT/scripts/provision.sh" --table-only > "$T/provision.out" 2> "$T/provision.err" ||
		die "provision.sh failed: $(cat "$T/provision.err")"
}
stop_all() {
	[ -n "${FRONT_PID:-}" ] && { stop_pid "$FRONT_PID" || true; }
	stop_pid "$DDB_PID" || true
	FRONT_PID=
}

# run_persist FRONT CHECK INPUT [PERSIST OPTIONS…]: one timed run on a fresh
# dynalite, through a front adding $DELAY ms when FRONT is 1; when CHECK is 1,
# the table must hold as many items as persist stored. Sets RUN_US, RUN_REQ,
# RUN_N (stored) and RUN_RSS (peak RSS in kB, 0 without /usr/bin/time).
run_persist() {
	local front=$1 check=$2 in=$3 endpoint t0 t1 rc=0 rss=0 lines req stored
	shift 3
	fresh_dynamodb
	endpoint=$DDB_URL
	if [ "$front" = 1 ]; then
		start_front "$DDB_URL" --delay-ms "$DELAY" --quiet > /dev/null || die "http-front did not start"
		endpoint=$FRONT_URL
	fi
	local cmd=("$P" "$@")
	[ -n "$timer" ] && cmd=("$timer" -f '%M' -o "$T/time" "${cmd[@]}")
	t0=$(date +%s%N)
	AWS_ENDPOINT_URL_DYNAMODB=$endpoint "${cmd[@]}" < "$in" > "$T/persist.out" 2> "$T/persist.err" || rc=$?
	t1=$(date +%s%N)
	[ $rc = 0 ] || die "persist${*:+ $*} exited $rc: $(grep -v '"stats"' "$T/persist.err" | tail -3)"
	[ -n "$timer" ] && rss=$(tail -1 "$T/time")
	lines=$(wc -l < "$in")
	req=$(stat_of "$T/persist.err" requests)
	stored=$(stat_of "$T/persist.err" stored)
	[ -n "$req" ] && [ -n "$stored" ] || die "persist${*:+ $*}: no final stats line on stderr"
	[ "$(wc -l < "$T/persist.out")" = "$lines" ] || die "persist${*:+ $*}: $lines records in, $(wc -l < "$T/persist.out") out"
	[ "$stored" = "$lines" ] || die "persist${*:+ $*}: stored $stored of $lines valid events: $(tail -3 "$T/persist.err")"
	if [ "$check" = 1 ]; then
		local count
		count=$(ddb_count pismo) || die "could not count the table"
		[ "$count" = "$stored" ] || die "persist${*:+ $*}: said it stored $stored, the table holds $count"
	fi
	stop_all
	RUN_US=$(((t1 - t0) / 1000)) RUN_REQ=$req RUN_N=$stored RUN_RSS=$rss
}

# run_direct INPUT: the direct client on a fresh dynalite; sets RUN_US and
# RUN_REQ.
run_direct() {
	local line s
	fresh_dynamodb
	line=$(node bench/node/ddb-batch-write.mjs --inflight "$DIRECT_INFLIGHT" "$1") || die "the direct client failed"
	stop_all
	s=$(grep -o '"write_s":[0-9.]*' <<< "$line" | cut -d: -f2)
	[ "$(grep -o '"stored":[0-9]*' <<< "$line" | cut -d: -f2)" = "$(wc -l < "$1")" ] ||
		die "the direct client did not store every event: $line"
	RUN_US=$(awk -v s="$s" 'BEGIN { printf "%d", s * 1e6 }')
	RUN_REQ=$(grep -o '"requests":[0-9]*' <<< "$line" | cut -d: -f2)
}

# --- timed runs: the batched cases alternating, then the baselines -------------
for ((i = 0; i < RUNS; i++)); do
	run_persist 0 $((i == 0)) "$events"
	record_run 0
	run_direct "$events"
	record_run 1
	run_persist 1 0 "$events"
	record_run 2
done
medians
mp=${CASE_US[0]} qp=${CASE_REQ[0]} sp=${CASE_N[0]} rssp=${CASE_RSS[0]}
md=${CASE_US[1]} qd=${CASE_REQ[1]}
mpf=${CASE_US[2]} qpf=${CASE_REQ[2]} spf=${CASE_N[2]} rsspf=${CASE_RSS[2]}
run_persist 0 0 "$T/base.ndjson" --batch-size 1 --inflight 1
tb=$RUN_US qb=$RUN_REQ sb=$RUN_N rb=$RUN_RSS
run_persist 1 0 "$T/base-front.ndjson" --batch-size 1 --inflight 1
tbf=$RUN_US qbf=$RUN_REQ sbf=$RUN_N rbf=$RUN_RSS
run_persist 0 0 "$small"
rss_small=$RUN_RSS
run_persist 0 0 "$large"
rss_large=$RUN_RSS

awk -v n="$N" -v bytes="$bytes" -v runs="$RUNS" -v delay="$DELAY" -v di="$DIRECT_INFLIGHT" \
	-v mp="$mp" -v mpf="$mpf" -v md="$md" -v tb="$tb" -v tbf="$tbf" -v bn="$BASE_N" -v bfn="$BASE_FRONT_N" \
	-v qp="$qp" -v sp="$sp" -v qpf="$qpf" -v spf="$spf" -v qd="$qd" -v qb="$qb" -v sb="$sb" -v qbf="$qbf" -v sbf="$sbf" \
	-v rssp="$rssp" -v rsspf="$rsspf" -v rb="$rb" -v rbf="$rbf" -v rs="$rss_small" -v rl="$rss_large" -v ns=$RSS_SMALL -v nl=$RSS_LARGE \
	-v dyn="$(node -p 'require("./scripts/node/node_modules/dynalite/package.json").version')" -v node="$(node --version)" \
	-v cpu="$(cpu_model)" -v cores="$(nproc)" "$BENCH_AWK"'
BEGIN {
	printf "persist vs one write at a time: %s events (%.1f MB, all valid), dynalite %s on 127.0.0.1\n", comma(n), bytes / 1e6, dyn
	printf "a fresh dynalite and table per run; %s, %d cores (shared: noisy); node %s\n", cpu, cores, node
	runs_note(runs, bn, bfn, "events")
	table_head("events", "req/stored", 1)
	printf "straight to dynalite\n"
	row("  persist (defaults: -b 25 -i 4)", n, mp, qp, sp, mb(rssp))
	row("  persist --batch-size 1 --inflight 1", bn, tb, qb, sb, mb(rb))
	row("  direct client (node, 25 x " di ")", n, md, qd, n, "-")
	front_heading(delay)
	row("  persist (defaults)", n, mpf, qpf, spf, mb(rsspf))
	row("  persist --batch-size 1 --inflight 1", bfn, tbf, qbf, sbf, mb(rbf))
	ep = n / (mp / 1e6); eb = bn / (tb / 1e6); epf = n / (mpf / 1e6); ebf = bfn / (tbf / 1e6); ed = n / (md / 1e6)
	rq = (qp / sp > qpf / spf) ? qp / sp : qpf / spf
	batching("dynalite", delay, ep / eb, epf / ebf, 20)
	target_line(sprintf("  %-46s %8.0f%%", "persist / direct client, straight to dynalite", 100 * ep / ed), "target >= 80%", ep / ed >= 0.8)
	per_request("stored", rq, 0.045)
	target_lines()
	printf "persist peak RSS: %s for %s events, %s for %s (%.2fx for %dx the input)\n", mb(rs), comma(ns), mb(rl), comma(nl), (rs > 0 ? rl / rs : 0), nl / ns
}'

# The same, for machines.
cat > "$OUT/persist.json" << EOF
{"bench":"persist","events":$N,"runs":$RUNS,"delay_ms":$DELAY,
 "persist":{"median_us":$mp,"requests":$qp,"stored":$sp,"peak_rss_kb":$rssp},
 "persist_front":{"median_us":$mpf,"requests":$qpf,"stored":$spf,"peak_rss_kb":$rsspf},
 "one_by_one":{"events":$BASE_N,"us":$tb,"requests":$qb,"stored":$sb},
 "one_by_one_front":{"events":$BASE_FRONT_N,"us":$tbf,"requests":$qbf,"stored":$sbf},
 "direct":{"median_us":$md,"requests":$qd,"inflight":$DIRECT_INFLIGHT},
 "peak_rss_kb":{"$RSS_SMALL":$rss_small,"$RSS_LARGE":$rss_large}}
EOF
exit 0
