#!/usr/bin/env bash
# retry against fauxqs and dynalite: events that persist could not store
# (DynamoDB down) reach retry.fifo through route in an envelope with their
# attempt count and error; with DynamoDB back, retry --exit-when-empty
# stores and delivers them all and empties retry.fifo; with DynamoDB kept
# down, each event reaches the DLQ after 5 attempts with its 5 errors, the
# backoff growing from one attempt to the next; one event that keeps failing
# does not hold up the others; a message that is not an envelope goes to the
# DLQ; kill -9 between the send and the delete: the message comes back and
# the event is delivered once; --ready-fd; SIGTERM; usage errors; the
# secret never shows on stderr.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-route.sh

DEAD=http://127.0.0.1:1 # nothing listens on port 1
FAST=(--base-delay 250ms --max-delay 1s --wait-time 1)

# --- usage ---------------------------------------------------------------------
"$RETRY" --help > "$T/help" 2> /dev/null
is "$?" 0 "--help: exit 0"
like "$(head -1 "$T/help")" '^usage: retry ' "--help: usage on stdout"
is "$("$RETRY" --version)" "retry (event-processor) 0.1.0" "--version"
"$RETRY" --no-such-option > "$T/bad.out" 2> "$T/bad.err"
is "$?" 64 "an unknown option: exit 64"
"$RETRY" --once --exit-when-empty 2> "$T/bad2.err"
is "$?" 64 "--once with --exit-when-empty: exit 64"
"$RETRY" --base-delay 2s --max-delay 1s 2> /dev/null
is "$?" 64 "--max-delay shorter than --base-delay: exit 64"
"$RETRY" --base-delay 2x 2> "$T/bad3.err"
is "$?" 64 "--base-delay 2x: exit 64"
like "$(cat "$T/bad3.err")" '"level":"error".*is not a duration|is not a duration' "--base-delay 2x: said why"
"$RETRY" --ready-fd 9 9>&- 2> /dev/null
is "$?" 64 "--ready-fd naming a closed descriptor: exit 64"
"$RETRY" extra-argument 2> /dev/null
is "$?" 64 "an argument: exit 64"

ok start_standins "dynalite and fauxqs started, table and six queues provisioned"

# fail_store FILE: FILE's events through persist (DynamoDB unreachable, one
# attempt) and route; persist's records in FILE.persisted, the outcomes in
# FILE.out, the exit statuses in FS_STATUS.
fail_store() {
	AWS_ENDPOINT_URL_DYNAMODB=$DEAD AWS_MAX_ATTEMPTS=1 "$PERSIST" < "$1" 2> "$1.p.err" |
		tee "$1.persisted" | "$ROUTE" > "$1.out" 2> "$1.r.err"
	FS_STATUS="${PIPESTATUS[0]} ${PIPESTATUS[2]}"
}
delivered() { # the messages in the four client queues
	local n=0 q
	for q in Client_A.fifo Client_B.fifo Client_C.fifo Client_D.fifo; do n=$((n + $(sqs_count "$q"))); done
	echo "$n"
}

# --- DynamoDB down: events reach retry.fifo with their attempt and error -------------
"$GEN" -n 30 --seed 40 > "$T/env.in"
fail_store "$T/env.in"
is "$FS_STATUS" "0 0" "DynamoDB down: persist | route exit 0"
is "$(grep -c '"_out":{"queue":"retry.fifo"' "$T/env.in.out")" 30 "DynamoDB down: every outcome is retry.fifo"
drain_all "$T/q1"
route_check "$T/env.in.persisted" "$T/env.in.out" "$T/q1" > "$T/c1"
is "$(jget "$T/c1" order_errors)/$(jget "$T/c1" wrong_queue)" "0/0" "one outcome per record, in input order"
is "$(jget "$T/c1" retry.missing)/$(jget "$T/c1" retry.extra)/$(jget "$T/c1" retry.bad)" "0/0/0" \
	"retry.fifo holds each event once: {\"event\":<the event>,\"attempts\":1,\"errors\":[one]}"
like "$(head -1 "$T/q1/retry.fifo")" \
	'"attempts":1,"errors":\[\{"attempt":1,"stage":"persist","code":"connection","reason":"DynamoDB BatchWriteItem: [^"]*Couldn.t connect[^"]*\(after 1 attempt\)","retryable":true\}\]\}$' \
	"the envelope's error: attempt 1, persist's code and reason"
is "$(cat "$T/q1"/Client_* "$T/q1/dlq.fifo" | wc -l)" 0 "nothing reached a client's queue or the DLQ"

# --- DynamoDB back: retry stores and delivers them all ----------------------------------
"$GEN" -n 200 --seed 41 > "$T/up.in"
fail_store "$T/up.in"
is "$(sqs_count retry.fifo)" 200 "200 events in retry.fifo"
BEFORE=$(ddb_count pismo)
URL=$(sqs_url retry.fifo)
aws_call sqs SendMessage "{\"QueueUrl\":\"$URL\",\"MessageBody\":\"not an envelope\",\"MessageGroupId\":\"g\",\"MessageDeduplicationId\":\"bad-1\"}" > /dev/null
# an event whose client has no queue: no retry can cure that. retry checks
# every event against the schema first (32-retry-trust.t), so this run's
# schema also allows Client_E, whose queue does not exist.
sed 's/"Client_D"]/"Client_D", "Client_E"]/' schema/event.schema.json > "$T/schema-e.json"
NOQ='{"event":{"uid":"no-queue-1","context":"integrações","event_type":"INSERT","client":"Client_E","created_at":"2024-01-01T00:00:00Z"},"attempts":1,"errors":[{"attempt":1,"stage":"persist","code":"throttled","reason":"x","retryable":true}]}'
aws_call sqs SendMessage "$(node -e 'console.log(JSON.stringify({QueueUrl: process.argv[1], MessageBody: process.argv[2], MessageGroupId: "no-queue-1", MessageDeduplicationId: "no-queue-1:1"}))' "$URL" "$NOQ")" > /dev/null
with_timeout 60 "$RETRY" -v --exit-when-empty --schema "$T/schema-e.json" "${FAST[@]}" 2> "$T/up.err"
is "$?" 0 "retry --exit-when-empty: exit 0 once retry.fifo is empty"
# (and the one with no queue: the item is written before the send, as in the pipeline)
is "$(ddb_count pismo)" "$((BEFORE + 201))" "all 200 events stored"
# Counted by the queue's attributes before any receive: a message received
# and not deleted is in flight, which a ReceiveMessage cannot see.
is "$(sqs_count retry.fifo)" 0 "retry.fifo is empty: nothing visible, in flight or delayed"
drain_all "$T/q2"
CLIENT_MSGS=$(cat "$T/q2"/Client_* | wc -l)
is "$CLIENT_MSGS" 200 "200 messages in the client queues"
rjs delivered "$T/up.in" "$T/q2" > "$T/c2"
is "$(cat "$T/c2")" '{"missing":0,"duplicated":0,"extra":0,"body_mismatch":0}' \
	"each event in its client's queue, once, the body the event itself"
is "$(wc -l < "$T/q2/dlq.fifo")" 2 "the DLQ holds two messages: the one that was not an envelope, the event with no queue"
like "$(grep _raw "$T/q2/dlq.fifo")" '^\{"_raw":"not an envelope","_error":\{"stage":"retry","code":"bad_message","reason":"[^"]+","retryable":false\}\}$' \
	"the one that was not an envelope is there as it came, with why"
like "$(grep no-queue-1 "$T/q2/dlq.fifo")" '"attempts":2,"errors":\[\{"attempt":1,"stage":"persist","code":"throttled","reason":"x","retryable":true\},\{"attempt":2,"stage":"route","code":"no_queue","reason":"[^"]*Client_E.fifo[^"]*","retryable":false\}\]\}$' \
	"a client with no queue: to the DLQ at its first attempt here, not retried (attempts 2, the error no_queue)"
is "$(stat_of "$T/up.err" final succeeded)/$(stat_of "$T/up.err" final attempts)/$(stat_of "$T/up.err" final failed)" "200/201/0" \
	"final stats: 201 attempts, 200 succeeded, none failed to be retried"
is "$(stat_of "$T/up.err" final deferred)" 201 "final stats: each event waited its first backoff (deferred) before its attempt"
is "$(grep -c '"msg":"event [^ ]*: stored and sent to Client_[A-D].fifo at attempt 2"' "$T/up.err")" 200 \
	"-v: each event stored and sent at attempt 2 (the pipeline's was 1)"
is "$(stat_of "$T/up.err" final bad_messages)" 1 "final stats: bad_messages 1"

# --- DynamoDB kept down: 5 attempts, then the DLQ with every error ---------------------
"$GEN" -n 5 --seed 42 > "$T/down.in"
fail_store "$T/down.in"
BEFORE=$(ddb_count pismo)
AWS_ENDPOINT_URL_DYNAMODB=$DEAD AWS_MAX_ATTEMPTS=1 with_timeout 60 "$RETRY" -v --exit-when-empty \
	--base-delay 500ms --max-delay 4s --wait-time 1 2> "$T/down.err"
is "$?" 0 "DynamoDB kept down: retry --exit-when-empty exits 0 once every event is in the DLQ"
is "$(sqs_count retry.fifo)" 0 "retry.fifo is empty: nothing visible, in flight or delayed"
is "$(sqs_count dlq.fifo)" 5 "the DLQ holds 5 messages"
drain_all "$T/q3"
is "$(wc -l < "$T/q3/dlq.fifo")" 5 "the 5 events are in the DLQ"
is "$(cat "$T/q3"/Client_* | wc -l)" 0 "no client queue got anything"
is "$(ddb_count pismo)" "$BEFORE" "nothing stored"
is "$(rjs uids "$T/q3/dlq.fifo" event.uid | sort)" "$(rjs uids "$T/down.in" | sort)" "the DLQ messages are those events"
cat > "$T/dlqcheck.js" <<'EOF'
// each DLQ message: {"event","attempts":5,"errors":[5, attempt 1..5, persist's connection error]}
const fs = require('fs');
const ev = new Map(fs.readFileSync(process.argv[3], 'utf8').trim().split('\n').map((l) => [JSON.parse(l).uid, l]));
let bad = 0;
for (const l of fs.readFileSync(process.argv[2], 'utf8').trim().split('\n')) {
	const o = JSON.parse(l);
	const okErrs = o.errors.length === 5 && o.errors.every((e, i) => e.attempt === i + 1 && e.stage === 'persist' &&
		e.code === 'connection' && e.retryable === true && /Couldn.t connect/.test(e.reason));
	if (Object.keys(o).join() !== 'event,attempts,errors' || o.attempts !== 5 || !okErrs ||
		JSON.stringify(o.event) !== ev.get(o.event.uid)) bad++;
}
console.log(bad);
EOF
is "$(node "$T/dlqcheck.js" "$T/q3/dlq.fifo" "$T/down.in")" 0 \
	"each: the event as it came, attempts 5, the 5 errors in order (attempt 1 the pipeline's, 2-5 retry's)"
is "$(stat_of "$T/down.err" final attempts)/$(stat_of "$T/down.err" final failed)/$(stat_of "$T/down.err" final to_dlq)" "20/15/5" \
	"final stats: 4 attempts each here, 3 failures backed off each, 5 to the DLQ"
# The backoff of each event, from the -v lines "attempt K of 5 failed: …; next in S s":
# with --base-delay 500ms the ceilings are 1, 2 and 4 s after attempts 2, 3, 4.
cat > "$T/delays.js" <<'EOF'
const fs = require('fs');
const d = new Map();
for (const l of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
	const m = /"msg":"event ([^:]+): attempt (\d) of 5 failed: .*; next in (\d+) s"/.exec(l);
	if (m) (d.get(m[1]) || d.set(m[1], []).get(m[1]))[Number(m[2])] = Number(m[3]);
}
let grows = 0;
const seqs = [];
for (const [, s] of d) {
	seqs.push(`${s[2]},${s[3]},${s[4]}`);
	if (s[2] <= s[3] && s[3] <= s[4] && s[4] > s[2] && s[2] >= 1 && s[4] <= 4) grows++;
}
console.log(`${d.size} ${grows} ${seqs.join(' ')}`);
EOF
read -r NSEQ GROWS SEQS <<< "$(node "$T/delays.js" "$T/down.err")"
is "$NSEQ/$GROWS" "5/5" "for each event the backoff grows from attempt to attempt, within the ceilings (s: $SEQS)"
is "$(grep -c '"msg":"event [^ ]*: to dlq.fifo after 5 attempts"' "$T/down.err")" 5 "each event's move to the DLQ is said"

# --- one event that keeps failing does not hold up the others -------------------------
"$GEN" -n 11 --seed 43 > "$T/poison.in"
POISON=$(tail -1 "$T/poison.in" | jstr uid)
head -10 "$T/poison.in" > "$T/poison.others"
fail_store "$T/poison.in"
start_poison PF "$DDB_URL" "$POISON"
bg_start poison-retry env AWS_ENDPOINT_URL_DYNAMODB="$PF_URL" AWS_MAX_ATTEMPTS=1 "$RETRY" -v "${FAST[@]}"
RPID=$BG_PID
all_others() { [ "$(delivered)" -ge 10 ]; }
ok wait_for 30 all_others "the 10 other events are delivered"
HITS=$(tail -1 "$T/PF.hits")
ok test "${HITS:-0}" -lt 4 "meanwhile the failing event is still being retried (failed writes so far: ${HITS:-0})"
only_poison_left() { [ "$(sqs_count retry.fifo)" -eq 1 ]; } # the others' deletes may still be on their way
ok wait_for 10 only_poison_left "and is the only message left in retry.fifo"
in_dlq() { [ "$(sqs_count dlq.fifo)" -ge 1 ] && [ "$(sqs_count retry.fifo)" -eq 0 ]; }
ok wait_for 40 in_dlq "then, after its last attempt, it is in the DLQ and retry.fifo is empty"
stop_pid "$RPID"
is "$?" 0 "SIGTERM: retry exits 0"
drain_all "$T/q4"
is "$(rjs uids "$T/q4/dlq.fifo" event.uid)" "$POISON" "the DLQ message is the failing event"
like "$(cat "$T/q4/dlq.fifo")" '"attempts":5,"errors":\[\{"attempt":1,"stage":"persist","code":"connection",.*\{"attempt":5,"stage":"persist","code":"server_error","reason":"DynamoDB BatchWriteItem: HTTP 500' \
	"with its 5 errors: the pipeline's, then DynamoDB's HTTP 500"
is "$(tail -1 "$T/PF.hits")" 4 "its write was tried 4 times here (attempts 2 to 5)"
is "$(cat "$T/q4"/Client_* | rjs uids /dev/stdin | sort)" "$(rjs uids "$T/poison.others" | sort)" \
	"the client queues hold the 10 others, once each, and not the failing one"
stop_pid "$PF_PID"

# --- kill -9 between the send and the delete: back again, delivered once ------------------
"$GEN" -n 1 --seed 44 > "$T/k9.in"
K9=$(jstr uid < "$T/k9.in")
K9Q=$(jstr client < "$T/k9.in").fifo
fail_store "$T/k9.in"
start_front "$SQS_URL" --quiet --hang 1 --ops DeleteMessage > /dev/null
F=$FRONT_URL
bg_start k9-retry env AWS_ENDPOINT_URL_SQS="$F" "$RETRY" -v "${FAST[@]}" --visibility-timeout 2
KPID=$BG_PID
delete_hung() { [ "$(front_stat "$F" hang 2> /dev/null)" -ge 1 ] 2> /dev/null; }
ok wait_for 30 delete_hung "retry stored and sent the event, then its DeleteMessage hangs"
kill -KILL "$KPID"
wait "$KPID" 2> /dev/null
is "$(sqs_count "$K9Q")" 1 "kill -9: the event was sent to $K9Q"
is "$(sqs_count retry.fifo)" 1 "kill -9: its message is still in retry.fifo"
stop_front "$F"
with_timeout 60 "$RETRY" -v --exit-when-empty "${FAST[@]}" 2> "$T/k9.err"
is "$?" 0 "a new retry: exit 0 once retry.fifo is empty"
like "$(cat "$T/k9.err")" "\"msg\":\"event $K9: stored and sent to $K9Q at attempt 3\"" \
	"the message came back and was handled again (attempt 3: the lost one counted)"
is "$(sqs_count retry.fifo)/$(sqs_count dlq.fifo)" 0/0 "retry.fifo and the DLQ are empty: nothing visible, in flight or delayed"
drain_all "$T/q5"
is "$(cat "$T/q5/$K9Q")" "$(cat "$T/k9.in")" "$K9Q holds the event once (the second send deduplicated by uid)"
is "$(cat "$T/q5"/* | wc -l)" 1 "and nothing else is anywhere"

# --- --ready-fd and SIGTERM -----------------------------------------------------------------
# (a short long poll: on SIGTERM the receive in flight is let finish)
"$RETRY" --ready-fd 3 --wait-time 2 3> "$T/ready" 2> "$T/ready.err" &
RDPID=$!
echo "$RDPID" >> "$T/.pids"
ok wait_for 20 test -s "$T/ready" "--ready-fd 3: readiness written once polling"
is "$(od -An -c "$T/ready" | tr -d ' ')" '\n' "--ready-fd: a newline"
like "$(cat "$T/ready.err")" '"level":"info","msg":"polling retry.fifo"' "the log says it is polling"
kill -TERM "$RDPID"
wait "$RDPID"
is "$?" 0 "SIGTERM during a long poll: exit 0 once it ended"
like "$(tail -1 "$T/ready.err")" '^\{"prog":"retry","stats":"final",' "a final stats line"

# --- the secret never shows ---------------------------------------------------------
ok no_secret "$T"/*.err "the secret key appears in no stderr"
done_testing
