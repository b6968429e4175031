#!/usr/bin/env bash
# persist when DynamoDB misbehaves, through tests/tools/http-front.mjs in
# front of dynalite: throttling, 5xx, UnprocessedItems, truncated and reset
# answers, a hung request — retried and stored, output in input order; and
# when the retries run out — every record marked retryable with the reason.
# Refusals are not retried: a missing table stops persist (exit 78, nothing
# marked); a key of the wrong type splits the batch so each item gets its own
# verdict. Latency: several requests in flight hide it.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-persist.sh

start_dynalite MAIN
ok provision "$MAIN_URL" "table pismo provisioned"

# front OPTIONS...: an http-front before dynalite; sets F_URL.
front() {
	start_front "$MAIN_URL" --quiet "$@" > /dev/null
	F_URL=$FRONT_URL
}

# faulty NAME SEED FRONT-OPTIONS... -- PERSIST-OPTIONS...: 1000 new events
# through a front with those faults; checks everything came out in order
# and was stored. Sets OUT, ERR, CHECK.
faulty() {
	local name=$1 seed=$2; shift 2
	local fopts=() popts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do fopts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	popts=("$@")
	"$GEN" -n 1000 --seed "$seed" > "$T/$name.in"
	front "${fopts[@]}"
	AWS_ENDPOINT_URL_DYNAMODB=$F_URL "$PERSIST" --backoff-base-ms 5 "${popts[@]}" \
		< "$T/$name.in" > "$T/$name.out" 2> "$T/$name.err"
	RC=$?
	stop_front "$F_URL"
	OUT=$T/$name.out ERR=$T/$name.err STATS=$F_URL
	scan_items "$MAIN_URL" > "$T/$name.items"
	check "$T/$name.in" "$OUT" "$T/$name.items" > "$T/$name.check"
	CHECK=$T/$name.check
}
all_stored() { # DESC
	is "$RC" 0 "$1: exit 0"
	ok cmp -s "$T/$name.in" "$OUT" "$1: every record out, in input order, unmarked"
	is "$(jget "$CHECK" unstored)" 0 "$1: every record stored"
	is "$(jget "$CHECK" bad_items)" 0 "$1: every item right"
}

# --- faults that retries cure -----------------------------------------------
name=throttle
faulty throttle 101 --throttle 0.3 --ops BatchWriteItem -- --max-attempts 12 -i 8
all_stored "30% throttled"
ok test "$(front_stat "$STATS" throttle)" -gt 5 "30% throttled: the front did throttle ($(front_stat "$STATS" throttle) times)"
is "$(stat_of "$ERR" final throttled)" "$(front_stat "$STATS" throttle)" "30% throttled: each throttling answer counted"
ok test "$(stat_of "$ERR" final retries)" -ge "$(front_stat "$STATS" throttle)" "30% throttled: each one retried"

name=e5xx
faulty e5xx 102 --error5xx 0.3 -- --max-attempts 12 -i 8
all_stored "30% HTTP 500/502/503"
ok test "$(front_stat "$STATS" error5xx)" -gt 5 "5xx: the front did fail requests ($(front_stat "$STATS" error5xx))"

name=unproc
faulty unproc 103 --unprocessed 0.5 -- --max-attempts 12 -i 8
all_stored "half the batches partly unprocessed"
ok test "$(front_stat "$STATS" unprocessed_items)" -gt 20 "unprocessed: the front held items back ($(front_stat "$STATS" unprocessed_items))"
is "$(stat_of "$ERR" final unprocessed)" "$(front_stat "$STATS" unprocessed_items)" "unprocessed: each held-back item sent again"

name=mixed
faulty mixed 104 --throttle 0.1 --error5xx 0.1 --unprocessed 0.2 --truncate 0.05 --reset 0.05 -- \
	--max-attempts 15 -i 8 -b 10
all_stored "throttling, 5xx, unprocessed, truncated and reset answers together, 8 in flight"
ok test "$(( $(front_stat "$STATS" truncate) + $(front_stat "$STATS" reset) ))" -gt 0 "mixed: some answers were cut off"
diag "mixed faults: $(grep '"stats":"final"' "$ERR")"

name=hang
faulty hang 105 --hang first:1 -- --request-timeout 500 -i 2
all_stored "a request that is never answered"
ok test "$(stat_of "$ERR" final retries)" -ge 1 "hang: timed out and sent again"

# --- faults that outlast the retries -------------------------------------------
marked_all() { # DESC CODE REASON
	is "$RC" 0 "$1: exit 0"
	is "$(jget "$CHECK" marked)" 1000 "$1: every record marked"
	is "$(jget "$CHECK" order_errors)" 0 "$1: in input order, each record's own text kept"
	is "$(grep -c "\"_error\":{\"stage\":\"persist\",\"code\":\"$2\",\"reason\":\"[^\"]*$3[^\"]*\",\"retryable\":true}}\$" "$OUT")" 1000 \
		"$1: marked code $2, retryable, with the reason"
	is "$(jget "$CHECK" items)" "$(jget "$T/hang.check" items)" "$1: nothing new stored"
}
name=throttle_all
faulty throttle_all 201 --throttle 1 -- --max-attempts 3
marked_all "always throttled" throttled "ProvisionedThroughputExceededException.*after 3 attempts"
is "$(front_stat "$STATS" requests)" $((40 * 3)) "always throttled: 3 attempts per batch, no more"
like "$(head -1 "$ERR")" '^persist: DynamoDB BatchWriteItem: HTTP 400 ProvisionedThroughputExceededException' "always throttled: said on stderr"

name=e5xx_all
faulty e5xx_all 202 --error5xx 1 -- --max-attempts 2
marked_all "always 5xx" server_error "HTTP 50[023]"

name=unproc_all
faulty unproc_all 203 --unprocessed 1 -- --max-attempts 3 -b 1
marked_all "always unprocessed" unprocessed "unprocessed 3 times"

# --- refusals are not retried ----------------------------------------------------
"$GEN" -n 30 --seed 301 > "$T/refused.in"
AWS_ENDPOINT_URL_DYNAMODB=$MAIN_URL "$PERSIST" --table no_such_table < "$T/refused.in" > "$T/refused.out" 2> "$T/refused.err"
is "$?" 78 "a missing table: exit 78, a configuration error and not a verdict on the records"
is "$(wc -c < "$T/refused.out")" 0 "a missing table: no record marked or written out (Kafka sends them again)"
like "$(grep -v '"stats"' "$T/refused.err")" "does not exist: DynamoDB BatchWriteItem: HTTP 400 ResourceNotFoundException" \
	"a missing table: one line with AWS's __type"
is "$(stat_of "$T/refused.err" final requests)" 2 "a missing table: not retried"

AWS_ENDPOINT_URL_DYNAMODB=$MAIN_URL aws_call dynamodb CreateTable '{"TableName":"pismo_n","AttributeDefinitions":[{"AttributeName":"UUID","AttributeType":"N"}],"KeySchema":[{"AttributeName":"UUID","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}' > /dev/null
AWS_ENDPOINT_URL_DYNAMODB=$MAIN_URL "$PERSIST" --table pismo_n < "$T/refused.in" > "$T/split.out" 2> "$T/split.err"
is "$(grep -c '"code":"rejected","reason":"DynamoDB BatchWriteItem: HTTP 400 ValidationException: [^"]*","retryable":false}}$' "$T/split.out")" 30 \
	"a key of the wrong type: every record marked as refused"
is "$(stat_of "$T/split.err" final requests)" 32 "a refused batch is split: each item gets its own request and verdict"

# --- latency: requests in flight hide it ----------------------------------------------
"$GEN" -n 1000 --seed 401 > "$T/lat.in"
front --delay-ms 40
t0=$(date +%s%N)
AWS_ENDPOINT_URL_DYNAMODB=$F_URL "$PERSIST" -q -i 1 < "$T/lat.in" > "$T/lat1.out"
t1=$(date +%s%N)
AWS_ENDPOINT_URL_DYNAMODB=$F_URL "$PERSIST" -q -i 8 < "$T/lat.in" > "$T/lat8.out"
t2=$(date +%s%N)
stop_front "$F_URL"
ms1=$(( (t1 - t0) / 1000000 )) ms8=$(( (t2 - t1) / 1000000 ))
diag "1000 events, 40 ms per request: --inflight 1 took $ms1 ms, --inflight 8 took $ms8 ms"
ok test $((ms8 * 3)) -lt "$ms1" "40 ms per request: 8 in flight are more than 3 times faster than 1"
ok cmp -s "$T/lat.in" "$T/lat8.out" "8 in flight: output still in input order"

# --- SIGTERM while DynamoDB does not answer: a second one gives up -----------
front --hang 1
mkfifo "$T/hurry.in"
AWS_ENDPOINT_URL_DYNAMODB=$F_URL "$PERSIST" --request-timeout 60000 < "$T/hurry.in" \
	> "$T/hurry.out" 2> "$T/hurry.err" &
HPID=$!
exec 8> "$T/hurry.in"
head -60 "$T/lat.in" >&8
front_busy() { [ "$(front_stat "$F_URL" requests)" -ge 1 ] 2> /dev/null; }
wait_for 5 front_busy
kill -TERM "$HPID"
sleep 0.3
ok kill -0 "$HPID" "first SIGTERM: persist waits for the writes in flight"
kill -TERM "$HPID"
wait "$HPID"
is "$?" 0 "second SIGTERM: exit 0"
exec 8>&-
stop_front "$F_URL"
is "$(wc -l < "$T/hurry.out")" 60 "second SIGTERM: every record read comes out"
is "$(grep -c '"code":"interrupted","reason":"persist was stopped before DynamoDB answered","retryable":true}}$' "$T/hurry.out")" 60 \
	"second SIGTERM: records not stored are marked interrupted, retryable"

ok no_secret "$T"/*.err "the secret key appears in no stderr"
done_testing
