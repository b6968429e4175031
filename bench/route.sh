#!/usr/bin/env bash
# bench/route.sh — does route's batching pay? (issue 4)
#
# Makes route's input once: 20,000 generated events (1% broken) through
# validate | persist into a dynalite (scripts/dynamodb-local, stopped right
# after), kept in a temporary file: about 99% stored events for the four
# clients' queues, the rest marked invalid for the DLQ. Then, in the same
# invocation, against fauxqs (scripts/sqs-local on a free port; a fresh one
# with freshly provisioned queues for every run, as the queues deduplicate by
# uid and would drop a replay), times only route:
#   route (defaults)     build/bin/route < input > /dev/null
#   route one-by-one     build/bin/route --batch-size 1 --inflight 1: one
#                        SendMessage-sized request at a time (the baseline)
# each straight to fauxqs and behind tests/tools/http-front.mjs --delay-ms 5
# (5 ms added to every request, a region's round trip). The batched runs are
# repeated (alternating) and the median taken; the one-by-one baselines run
# once on the first 3,000 records (2,000 behind the front): a rate does not
# depend on the count. Prints events/s and HTTP requests per routed event
# (route's final stats line: requests / to_client) for each, and the ratios,
# with a PASS or MISS line per target:
#   requests per routed event at load            <= 0.11
#   batched / one-by-one behind the 5 ms front   >= 10x
# Exit 0 when it ran (whatever the figures), 1 when something broke (a tool
# failed, a record was not routed, or the client queues do not hold what
# route said it sent).
#
# Environment: BUILD (default build), BENCH_RUNS (runs of each batched case,
# default 3), BENCH_EVENTS (default 20000), BENCH_BASE_EVENTS (default 3000),
# BENCH_BASE_FRONT_EVENTS (default 2000), BENCH_DELAY_MS (default 5). Needs
# node and the stand-ins' npm packages (scripts/install-deps.sh). Results also
# go to bench/out/route.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=lib.bash
source bench/lib.bash

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
N=${BENCH_EVENTS:-20000}
BASE_N=${BENCH_BASE_EVENTS:-3000}
BASE_FRONT_N=${BENCH_BASE_FRONT_EVENTS:-2000}
DELAY=${BENCH_DELAY_MS:-5}
INVALID=1
SEED=42
R=$BUILD/bin/route
GEN=$BUILD/bin/gen-events
OUT=bench/out
CLIENTS=(Client_A.fifo Client_B.fifo Client_C.fifo Client_D.fifo)

whole_numbers RUNS N BASE_N BASE_FRONT_N DELAY
check_batched_counts
need_built "$BUILD"/bin/{route,validate,persist,gen-events}
command -v node > /dev/null || die "node is not installed (scripts/install-deps.sh)"
[ -d scripts/node/node_modules/fauxqs ] && [ -d scripts/node/node_modules/dynalite ] ||
	die "fauxqs or dynalite is not installed (scripts/install-deps.sh)"
mkdir -p "$OUT"

# Stand-ins, fronts, the clean-up at exit (every process started is stopped)
# and a hermetic AWS environment (fake keys, us-east-1): the tests' library.
tests_lib

# --- route's input, once ------------------------------------------------------------
start_dynamodb || die "dynamodb-local did not start"
scripts/provision.sh --table-only > "$T/provision.out" 2> "$T/provision.err" ||
	die "provision.sh failed: $(cat "$T/provision.err")"
rc=0
"$GEN" -n "$N" --invalid $INVALID --seed $SEED | "$BUILD/bin/validate" 2> "$T/validate.err" |
	"$BUILD/bin/persist" > "$T/input.ndjson" 2> "$T/persist.err" || rc=$?
[ $rc = 0 ] || die "gen-events | validate | persist failed ($rc): $(tail -3 "$T/persist.err")"
stop_pid "$DDB_PID" || true
[ "$(wc -l < "$T/input.ndjson")" = "$N" ] || die "persist wrote $(wc -l < "$T/input.ndjson") records of $N"
stored=$(stat_of "$T/persist.err" stored)
head -n "$BASE_N" "$T/input.ndjson" > "$T/base.ndjson"
head -n "$BASE_FRONT_N" "$T/input.ndjson" > "$T/base-front.ndjson"
bytes=$(stat -c %s "$T/input.ndjson")

# run_route FRONT CHECK INPUT [ROUTE OPTIONS…]: one timed run on a fresh
# fauxqs with fresh queues, through a front adding $DELAY ms when FRONT is 1;
# when CHECK is 1, the four client queues must hold what route sent them.
# Sets RUN_US, RUN_REQ and RUN_N (to_client). Not in a subshell: the
# stand-ins' output files are numbered by tests/lib.sh in this shell.
run_route() {
	local front=$1 check=$2 in=$3 endpoint t0 t1 rc=0 lines req toc
	shift 3
	start_sqs || die "sqs-local did not start"
	"$ROOT/scripts/provision.sh" --queues-only > "$T/provision.out" 2> "$T/provision.err" ||
		die "provision.sh failed: $(cat "$T/provision.err")"
	endpoint=$SQS_URL
	if [ "$front" = 1 ]; then
		start_front "$SQS_URL" --delay-ms "$DELAY" --quiet > /dev/null || die "http-front did not start"
		endpoint=$FRONT_URL
	fi
	t0=$(date +%s%N)
	AWS_ENDPOINT_URL_SQS=$endpoint "$R" "$@" < "$in" > "$T/route.out" 2> "$T/route.err" || rc=$?
	t1=$(date +%s%N)
	[ $rc = 0 ] || die "route${*:+ $*} exited $rc: $(grep -v '"stats"' "$T/route.err" | tail -3)"
	lines=$(wc -l < "$in")
	req=$(stat_of "$T/route.err" requests)
	toc=$(stat_of "$T/route.err" to_client)
	[ -n "$req" ] && [ -n "$toc" ] || die "route${*:+ $*}: no final stats line on stderr"
	[ "$(wc -l < "$T/route.out")" = "$lines" ] || die "route${*:+ $*}: $lines records in, $(wc -l < "$T/route.out") out"
	[ "$(grep -c '"_out"' "$T/route.out")" = "$lines" ] || die "route${*:+ $*}: not every record was routed: $(tail -3 "$T/route.err")"
	[ "$(stat_of "$T/route.err" to_retry)" = 0 ] || die "route${*:+ $*}: sent records to the retry queue: $(tail -3 "$T/route.err")"
	if [ "$check" = 1 ]; then
		local q c sum=0
		for q in "${CLIENTS[@]}"; do
			c=$(sqs_count "$q") || die "could not count $q"
			sum=$((sum + c))
		done
		[ "$sum" = "$toc" ] || die "route${*:+ $*}: said it sent $toc to the clients' queues, they hold $sum"
	fi
	[ "$front" = 1 ] && { stop_pid "$FRONT_PID" || true; }
	stop_pid "$SQS_PID" || true
	RUN_US=$(((t1 - t0) / 1000)) RUN_REQ=$req RUN_N=$toc
}

# --- timed runs: the batched cases alternating, then the baselines --------------
for ((i = 0; i < RUNS; i++)); do
	run_route 0 $((i == 0)) "$T/input.ndjson"
	record_run 0
	run_route 1 0 "$T/input.ndjson"
	record_run 1
done
medians
mr=${CASE_US[0]} qr=${CASE_REQ[0]} cr=${CASE_N[0]}
mrf=${CASE_US[1]} qrf=${CASE_REQ[1]} crf=${CASE_N[1]}
run_route 0 0 "$T/base.ndjson" --batch-size 1 --inflight 1
tb=$RUN_US qb=$RUN_REQ cb=$RUN_N
run_route 1 0 "$T/base-front.ndjson" --batch-size 1 --inflight 1
tbf=$RUN_US qbf=$RUN_REQ cbf=$RUN_N

awk -v n="$N" -v bytes="$bytes" -v stored="$stored" -v runs="$RUNS" -v delay="$DELAY" \
	-v mr="$mr" -v mrf="$mrf" -v tb="$tb" -v tbf="$tbf" -v bn="$BASE_N" -v bfn="$BASE_FRONT_N" \
	-v qr="$qr" -v cr="$cr" -v qrf="$qrf" -v crf="$crf" -v qb="$qb" -v cb="$cb" -v qbf="$qbf" -v cbf="$cbf" \
	-v fq="$(node -p 'require("./scripts/node/node_modules/fauxqs/package.json").version')" -v node="$(node --version)" \
	-v cpu="$(cpu_model)" -v cores="$(nproc)" "$BENCH_AWK"'
BEGIN {
	printf "route vs one message at a time: %s records (%.1f MB; validate | persist output, %s stored events,\n", comma(n), bytes / 1e6, comma(stored)
	printf "the rest marked for the DLQ), fauxqs %s on 127.0.0.1, a fresh one with fresh queues per run\n", fq
	printf "%s, %d cores (shared: noisy); node %s\n", cpu, cores, node
	runs_note(runs, bn, bfn, "records")
	table_head("records", "req/routed")
	printf "straight to fauxqs\n"
	row("  route (defaults: -b 10 -i 8)", n, mr, qr, cr)
	row("  route --batch-size 1 --inflight 1", bn, tb, qb, cb)
	front_heading(delay)
	row("  route (defaults)", n, mrf, qrf, crf)
	row("  route --batch-size 1 --inflight 1", bfn, tbf, qbf, cbf)
	er = n / (mr / 1e6); eb = bn / (tb / 1e6); erf = n / (mrf / 1e6); ebf = bfn / (tbf / 1e6)
	rq = (qr / cr > qrf / crf) ? qr / cr : qrf / crf
	batching("fauxqs", delay, er / eb, erf / ebf, 10)
	per_request("routed", rq, 0.11)
	target_lines()
	printf "(requests: every HTTP request route made, queue-URL lookups and DLQ batches included;\n"
	printf " routed events: to_client, the events sent to the clients'"'"' queues)\n"
}'

# The same, for machines.
cat > "$OUT/route.json" << EOF
{"bench":"route","records":$N,"stored":$stored,"runs":$RUNS,"delay_ms":$DELAY,
 "route":{"median_us":$mr,"requests":$qr,"to_client":$cr},
 "route_front":{"median_us":$mrf,"requests":$qrf,"to_client":$crf},
 "one_by_one":{"records":$BASE_N,"us":$tb,"requests":$qb,"to_client":$cb},
 "one_by_one_front":{"records":$BASE_FRONT_N,"us":$tbf,"requests":$qbf,"to_client":$cbf}}
EOF
exit 0
