#!/usr/bin/env bash
# route against fauxqs (a real SQS stand-in on a free loopback port) and
# dynalite: 10,000 generated events with 1% invalid through
# validate | persist | route put each valid event in its client's queue once,
# the body being the event without its "_" members, every invalid record in
# the DLQ with its reason, nothing in retry.fifo, one outcome line per record
# in input order; the same input again adds nothing; the default group
# policy keeps each client's events in input order; Failed entries inside a
# 200 are sent again one by one (or, out of attempts, go to retry.fifo);
# SQS unreachable: route holds its input and writes no outcome until SQS is
# back; SIGTERM drains; usage errors; the secret never shows on stderr.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-route.sh

# --- usage ---------------------------------------------------------------------
"$ROUTE" --help > "$T/help" 2> "$T/help.err"
is "$?" 0 "--help: exit 0"
like "$(head -1 "$T/help")" '^usage: route ' "--help: usage on stdout"
like "$(cat "$T/help")" '--group-by POLICY' "--help: the options are listed"
is "$("$ROUTE" --version)" "route (event-processor) 0.1.0" "--version"
"$ROUTE" --no-such-option < /dev/null > "$T/bad.out" 2> "$T/bad.err"
is "$?" 64 "an unknown option: exit 64"
is "$(wc -c < "$T/bad.out")" 0 "an unknown option: nothing on stdout"
"$ROUTE" --group-by queue < /dev/null 2> "$T/bad2.err"
is "$?" 64 "--group-by queue: exit 64"
like "$(cat "$T/bad2.err")" "--group-by: 'queue' is not client or uid" "--group-by queue: said why"
"$ROUTE" --batch-size 11 < /dev/null 2> /dev/null
is "$?" 64 "--batch-size 11 (over SQS's 10): exit 64"
"$ROUTE" --dlq dlq.fifo.x < /dev/null 2> /dev/null
is "$?" 64 "--dlq with a name SQS would refuse: exit 64"
env -u AWS_REGION "$ROUTE" < /dev/null 2> "$T/noregion.err"
is "$?" 78 "no region: exit 78 (bad configuration)"

ok start_standins "dynalite and fauxqs started, table and six queues provisioned"

# --- queues of last resort missing; an input that cannot be opened ---------------------
echo '{"uid":"u-69","context":"integrações","event_type":"INSERT","client":"Client_A","created_at":"2024-01-01T00:00:00Z"}' > "$T/one"
"$ROUTE" --dlq no_such_dlq.fifo < "$T/one" > "$T/nodlq.out" 2> "$T/nodlq.err"
is "$?" 78 "the DLQ does not exist: exit 78 (configuration) before reading anything"
like "$(cat "$T/nodlq.err")" '^route: SQS queue no_such_dlq.fifo does not exist \(QueueDoesNotExist\)' "the DLQ does not exist: said on stderr"
is "$(wc -c < "$T/nodlq.out")" 0 "the DLQ does not exist: no outcome"
"$ROUTE" "$T/no-such-file" "$T/one" > "$T/nofile.out" 2> "$T/nofile.err"
is "$?" 66 "an input file that cannot be opened: exit 66"
like "$(cat "$T/nofile.out")" '"uid":"u-69".*"_out":\{"queue":"Client_A.fifo"' "the other inputs are still read and routed"
sqs_receive_all Client_A.fifo 0 > /dev/null

# --- 10,000 events, 1% invalid: validate | persist | route ------------------------
# Bulk with --group-by uid: fauxqs hands out one message per group per
# receive, so a queue of one group (the default policy) would take a receive
# and a delete per message to drain (the default is checked below, on fewer).
N=10000
"$GEN" -n $N --invalid 1 --seed 30 --broken-list "$T/broken" > "$T/gen"
with_src "$T/gen" > "$T/events"
"$VALIDATE" < "$T/events" 2> "$T/v.err" | "$PERSIST" 2> "$T/p.err" | tee "$T/persisted" |
	"$ROUTE" --group-by uid > "$T/out" 2> "$T/r.err"
is "${PIPESTATUS[*]}" "0 0 0 0" "validate | persist | route: exit 0"
INVALID=$(grep -c '"_error"' "$T/persisted")
VALID=$((N - INVALID))
ok test "$INVALID" -gt 50 -a "$INVALID" -lt 200 "about 1% of the events are invalid ($INVALID)"
is "$(grep -n '"_error"' "$T/persisted" | cut -d: -f1)" "$(cut -d' ' -f1 "$T/broken")" "the invalid ones are exactly the lines the generator broke"
is "$(ddb_count pismo)" "$VALID" "the $VALID valid events are stored"
drain_all "$T/q1"
route_check "$T/persisted" "$T/out" "$T/q1" > "$T/c1"
is "$(jget "$T/c1" out)" "$N" "one outcome line per input record"
is "$(jget "$T/c1" order_errors)" 0 "outcomes in input order: each the record as it came plus \"_out\" as its last member"
is "$(jget "$T/c1" no_message_id)" 0 "each outcome names the queue and the message_id SQS gave"
is "$(jget "$T/c1" wrong_queue)" 0 "each outcome's queue is where the record belongs"
is "$(jget "$T/c1" client.missing)" 0 "every valid event is in its client's queue"
is "$(jget "$T/c1" client.duplicated)" 0 "once"
is "$(jget "$T/c1" client.extra)" 0 "and nothing else is there (no event in another client's queue)"
is "$(jget "$T/c1" client.body_mismatch)" 0 "each message body is the input event, member for member"
is "$(jget "$T/c1" client.meta_in_body)" 0 "no \"_\" member (\"_src\") reaches a client's queue"
is "$(jget "$T/c1" in_queue.dlq.fifo)" "$INVALID" "the $INVALID invalid records are in dlq.fifo"
is "$(jget "$T/c1" dlq.missing)/$(jget "$T/c1" dlq.extra)" "0/0" "dlq.fifo holds exactly the invalid records, as they came"
is "$(jget "$T/c1" dlq.no_reason)" 0 "each with its \"_error\" reason"
like "$(grep -m1 '"code":"schema"' "$T/q1/dlq.fifo")" '"_error":\{"stage":"validate","code":"schema","reason":"/[a-z_]+: ' "a DLQ message says what validate found wrong"
is "$(jget "$T/c1" in_queue.retry.fifo)" 0 "retry.fifo is empty"
SUM=0
for q in Client_A.fifo Client_B.fifo Client_C.fifo Client_D.fifo; do SUM=$((SUM + $(jget "$T/c1" "in_queue.$q"))); done
is "$SUM" "$VALID" "the client queues hold $VALID messages in all"
is "$(stat_of "$T/r.err" final records_in)/$(stat_of "$T/r.err" final records_out)" "$N/$N" "final stats: records in and out"
is "$(stat_of "$T/r.err" final to_client)/$(stat_of "$T/r.err" final to_dlq)/$(stat_of "$T/r.err" final to_retry)" \
	"$VALID/$INVALID/0" "final stats: to_client, to_dlq, to_retry"
# (how full the batches are depends on how fast the pipe brings records in)
ok awk -v m="$(stat_of "$T/r.err" final mean_batch)" 'BEGIN { exit !(m >= 5 && m <= 10) }' \
	"final stats: batches of 5 to 10 messages, mean $(stat_of "$T/r.err" final mean_batch)"
diag "10k events through route: $(grep '"stats":"final"' "$T/r.err")"

# --- the same input again, within the dedup window: nothing new --------------------
"$ROUTE" --group-by uid < "$T/persisted" > "$T/out2" 2> "$T/r2.err"
is "$?" 0 "the same records again: exit 0"
is "$(wc -l < "$T/out2")" "$N" "the same records again: an outcome for each"
is "$(rjs uids "$T/out2" _out.queue | sort | uniq -c | sort -k2 | tr -s ' ')" \
	"$(rjs uids "$T/out" _out.queue | sort | uniq -c | sort -k2 | tr -s ' ')" "the same records again: the same destinations"
drain_all "$T/q2"
is "$(cat "$T/q2"/* | wc -l)" 0 "the same records again: no queue holds anything new (deduplicated by SQS)"

# --- the default policy: one ordered lane per client queue --------------------------
"$GEN" -n 400 --seed 31 > "$T/ord.in"
"$ROUTE" < "$T/ord.in" > "$T/ord.out" 2> "$T/ord.err"
is "$?" 0 "400 events, default --group-by client: exit 0"
A_URL=$(sqs_url Client_A.fifo)
aws_call sqs ReceiveMessage "{\"QueueUrl\":\"$A_URL\",\"MaxNumberOfMessages\":10,\"VisibilityTimeout\":0,\"AttributeNames\":[\"All\"]}" > "$T/peek"
FIRST_A=$(grep -m1 '"client":"Client_A"' "$T/ord.in" | jstr uid)
is "$(jget "$T/peek" Messages.0.Attributes.MessageGroupId)" Client_A "default policy: MessageGroupId is the client"
is "$(jget "$T/peek" Messages.0.Attributes.MessageDeduplicationId)" "$FIRST_A" "MessageDeduplicationId is the uid (the first event of Client_A first)"
drain_all "$T/q3"
route_check "$T/ord.in" "$T/ord.out" "$T/q3" > "$T/c3"
is "$(jget "$T/c3" client.missing)/$(jget "$T/c3" client.duplicated)/$(jget "$T/c3" client.extra)" "0/0/0" \
	"default policy: every event in its client's queue once"
is "$(client_order "$T/ord.in" "$T/q3")" \
	'{"Client_A.fifo":true,"Client_B.fifo":true,"Client_C.fifo":true,"Client_D.fifo":true}' \
	"default policy: each client queue holds its events in input order"

# --- records route itself cannot deliver: to the DLQ, marked by route -------------------
"$GEN" -n 3 --seed 36 > "$T/nq.in"
{
	echo '{"uid":"to-no-queue","context":"integrações","event_type":"INSERT","client":"Client_E","created_at":"2024-01-01T00:00:00Z"}'
	echo '{"context":"integrações","event_type":"INSERT","client":"Client_A","created_at":"2024-01-01T00:00:00Z"}'
} >> "$T/nq.in"
"$ROUTE" < "$T/nq.in" > "$T/nq.out" 2> "$T/nq.err"
is "$?" 0 "a client whose queue does not exist, an event without uid: exit 0"
like "$(sed -n 4p "$T/nq.out")" '"client":"Client_E","created_at":"[^"]*","_error":\{"stage":"route","code":"no_queue","reason":"[^"]*QueueDoesNotExist[^"]*","retryable":false\},"_out":\{"queue":"dlq.fifo",' \
	"no queue for the client: to the DLQ, marked no_queue with SQS's answer"
like "$(sed -n 5p "$T/nq.out")" '"_error":\{"stage":"route","code":"missing_field","reason":"uid: [^"]*","retryable":false\},"_out":\{"queue":"dlq.fifo",' \
	"no uid: to the DLQ, marked missing_field"
drain_all "$T/qnq"
is "$(cat "$T/qnq"/Client_* | wc -l)/$(wc -l < "$T/qnq/dlq.fifo")" "3/2" "the 3 others delivered, the 2 in the DLQ"
is "$(sort "$T/qnq/dlq.fifo")" "$(sed -n '4,5p' "$T/nq.out" | sed 's/,"_out":{[^}]*}}$/}/' | sort)" \
	"the DLQ messages are the records with route's mark (no \"_out\")"

# --- Failed entries inside an HTTP 200 ------------------------------------------------
start_front "$SQS_URL" --quiet --sqs-failed 0.3 --seed 5 > /dev/null
F=$FRONT_URL
"$GEN" -n 1000 --seed 32 > "$T/failed.in"
AWS_ENDPOINT_URL_SQS=$F "$ROUTE" --group-by uid --max-attempts 10 --backoff-base-ms 5 \
	< "$T/failed.in" > "$T/failed.out" 2> "$T/failed.err"
is "$?" 0 "30% of the batches with Failed entries: exit 0"
FAILED=$(front_stat "$F" sqs_failed_entries)
ok test "$FAILED" -gt 20 "the front failed entries ($FAILED, in $(front_stat "$F" sqs_failed) answers)"
stop_front "$F"
drain_all "$T/q4"
route_check "$T/failed.in" "$T/failed.out" "$T/q4" > "$T/c4"
is "$(jget "$T/c4" order_errors)/$(jget "$T/c4" wrong_queue)" "0/0" "Failed entries: outcomes in order, each to its client's queue"
is "$(jget "$T/c4" client.missing)/$(jget "$T/c4" client.duplicated)/$(jget "$T/c4" client.extra)" "0/0/0" \
	"Failed entries: every event delivered, once"
is "$(stat_of "$T/failed.err" final failed_entries)" "$FAILED" "final stats: failed_entries counts each Failed entry"
ok test "$(stat_of "$T/failed.err" final resends)" -gt 0 "final stats: requests made again ($(stat_of "$T/failed.err" final resends))"
# Entries sent = batches x mean_batch: the 1000 events once each, plus one
# more send for each Failed entry, and nothing else (only the failed entries
# are sent again, not their whole batch).
SENT=$(node -e 'console.log(Math.round(process.argv[1] * process.argv[2]))' \
	"$(stat_of "$T/failed.err" final batches)" "$(stat_of "$T/failed.err" final mean_batch)")
ok test $((SENT - 1000 - FAILED)) -ge -1 -a $((SENT - 1000 - FAILED)) -le 1 \
	"only the Failed entries are sent again ($SENT entries sent for 1000 events and $FAILED failures)"

# Out of attempts: the event goes to retry.fifo, marked by route.
start_front "$SQS_URL" --quiet --sqs-failed 0.5 --seed 6 > /dev/null
F=$FRONT_URL
"$GEN" -n 100 --seed 33 > "$T/failed1.in"
AWS_ENDPOINT_URL_SQS=$F "$ROUTE" --group-by uid --max-attempts 1 --backoff-base-ms 5 \
	< "$T/failed1.in" > "$T/failed1.out" 2> "$T/failed1.err"
is "$?" 0 "--max-attempts 1 with Failed entries: exit 0"
stop_front "$F"
drain_all "$T/q5"
route_check "$T/failed1.in" "$T/failed1.out" "$T/q5" > "$T/c5"
TO_RETRY=$(grep -c '"_out":{"queue":"retry.fifo"' "$T/failed1.out")
ok test "$TO_RETRY" -gt 0 "--max-attempts 1: the entries that failed went to retry.fifo ($TO_RETRY)"
is "$(jget "$T/c5" order_errors)/$(jget "$T/c5" wrong_queue)" "0/0" "--max-attempts 1: outcomes in order, the others to their client's queue"
is "$(jget "$T/c5" retry.missing)/$(jget "$T/c5" retry.extra)/$(jget "$T/c5" retry.bad)" "0/0/0" \
	"retry.fifo holds each of them once: {\"event\",\"attempts\":1,\"errors\":[one]}"
is "$(jget "$T/c5" client.missing)/$(jget "$T/c5" client.extra)" "0/0" "the rest are in their client's queues"
is "$(grep '"_out":{"queue":"retry.fifo"' "$T/failed1.out" | grep -vc '"_error":{"stage":"route","code":"send_failed","reason":"SQS SendMessageBatch to Client_[A-D].fifo: InternalError: [^"]*(after retries)","retryable":true},"_out"')" 0 \
	"their outcome carries route's own mark: send_failed, the SQS error, retryable"
like "$(head -1 "$T/q5/retry.fifo")" '"errors":\[\{"attempt":1,"stage":"route","code":"send_failed","reason":"SQS SendMessageBatch to Client_' \
	"the retry envelope's error is route's, attempt 1"

# --- SQS unreachable: route waits, holds its input, writes no outcome early ---------------
start_front "$SQS_URL" --quiet > /dev/null
F=$FRONT_URL FPORT=${FRONT_URL##*:}
"$GEN" -n 2010 --seed 34 > "$T/down.in"
mkfifo "$T/down.fifo"
# (the backoff grows with the outage, to 20 s at most: a short outage keeps
# the test short)
AWS_ENDPOINT_URL_SQS=$F AWS_MAX_ATTEMPTS=2 "$ROUTE" --group-by uid -i 1 --backoff-base-ms 2 \
	--stats-interval 1 < "$T/down.fifo" > "$T/down.out" 2> "$T/down.err" &
DPID=$!
exec 7> "$T/down.fifo"
head -10 "$T/down.in" >&7
ok wait_for 20 at_least "$T/down.out" 10 "SQS up: the first 10 events are delivered (input still open)"
stop_front "$F"
tail -n +11 "$T/down.in" >&7 &
WPID=$!
sleep 1.5
is "$(wc -l < "$T/down.out")" 10 "SQS unreachable: no outcome is written for what was read since"
ok kill -0 "$DPID" "SQS unreachable: route keeps waiting"
ok kill -0 "$WPID" "SQS unreachable: route stopped reading, the writer is held up (back-pressure)"
HELD=$(stat_of "$T/down.err" periodic records_in)
like "$HELD" '^[0-9]+$' "SQS unreachable: route still writes its periodic stats line (records_in ${HELD:-none})"
ok test "${HELD:-999999}" -lt 500 "SQS unreachable: route took only a bounded part of the 2000 offered (records_in $HELD)"
like "$(grep -v '"stats"' "$T/down.err" | head -1)" "^route: SQS SendMessageBatch.*(Couldn't connect|Connection refused)" "the failure is said on stderr"
start_front "$SQS_URL" --quiet --port "$FPORT" > /dev/null 2>&1
ok wait_for 40 at_least "$T/down.out" 2010 "SQS back: every record gets its outcome"
wait "$WPID"
exec 7>&-
wait "$DPID"
is "$?" 0 "then end of input: exit 0"
drain_all "$T/q6"
route_check "$T/down.in" "$T/down.out" "$T/q6" > "$T/c6"
is "$(jget "$T/c6" order_errors)/$(jget "$T/c6" wrong_queue)" "0/0" "after the outage: outcomes in input order, each where the record went"
is "$(jget "$T/c6" client.missing)/$(jget "$T/c6" client.duplicated)/$(jget "$T/c6" client.extra)" "0/0/0" \
	"after the outage: every event its outcome sends to a client's queue is there, once"
is "$(jget "$T/c6" retry.missing)/$(jget "$T/c6" retry.extra)/$(jget "$T/c6" retry.bad)" "0/0/0" \
	"after the outage: those that ran out of attempts are in retry.fifo, once, in an envelope"
DOWN_RETRY=$(grep -c '"_out":{"queue":"retry.fifo"' "$T/down.out")
ok test "$DOWN_RETRY" -gt 0 "the events caught by the outage went to retry.fifo ($DOWN_RETRY), the last resort waited for"
like "$(grep -m1 '"_out":{"queue":"retry.fifo"' "$T/down.out")" '"_error":\{"stage":"route","code":"connection",' \
	"their mark says why: code connection"
diag "outage: $(grep '"stats":"final"' "$T/down.err")"

# --- SIGTERM: finish what was taken, exit 0 ------------------------------------------
start_front "$SQS_URL" --quiet --delay-ms 400 > /dev/null
F=$FRONT_URL
"$GEN" -n 60 --seed 35 > "$T/term.in"
mkfifo "$T/term.fifo"
AWS_ENDPOINT_URL_SQS=$F "$ROUTE" -b 10 < "$T/term.fifo" > "$T/term.out" 2> "$T/term.err" &
TPID=$!
exec 8> "$T/term.fifo"
cat "$T/term.in" >&8
sent_some() { [ "$(front_stat "$F" ops.SendMessageBatch 2> /dev/null)" -ge 1 ] 2> /dev/null; }
ok wait_for 20 sent_some "SIGTERM: sends are on their way (each answered after 400 ms)"
kill -TERM "$TPID"
wait "$TPID"
is "$?" 0 "SIGTERM with sends in flight, input still open: exit 0"
exec 8>&-
stop_front "$F"
TIN=$(stat_of "$T/term.err" final records_in)
is "$(wc -l < "$T/term.out")" "$TIN" "SIGTERM: an outcome for every record taken ($TIN)"
ok test "$TIN" -ge 1 "SIGTERM: records were taken"
drain_all "$T/q7"
head -n "$TIN" "$T/term.in" > "$T/term.taken"
route_check "$T/term.taken" "$T/term.out" "$T/q7" > "$T/c7"
is "$(jget "$T/c7" order_errors)/$(jget "$T/c7" client.missing)/$(jget "$T/c7" client.extra)" "0/0/0" \
	"SIGTERM: each outcome's message is in its queue, nothing else is"

# --- the secret never shows ---------------------------------------------------------
ok no_secret "$T"/*.err "the secret key appears in no stderr"
done_testing
