#!/usr/bin/env bash
# Issue 12: answers from DynamoDB and SQS are outside the trust boundary.
# A request-level error (a proxy's 302 or 404, a missing table, access
# denied, retry.fifo missing) is never a verdict on the records: persist,
# route and retry back off and retry, then stop with exit 69 (refused, not
# AWS answering) or 78 (a table or queue missing) and one line, marking no
# record, writing no outcome and sending nothing to the DLQ. An answer over
# the body cap (32 MiB) fails its request, which is retried. A server's
# message with a newline and an ESC in it reaches stderr escaped, on one
# line. A huge ApproximateReceiveCount sends the message to the DLQ (past
# the last attempt) instead of wrapping round. Local hygiene: no endpoint
# password in any message; a credentials file that is a FIFO or a device is
# refused at once; plain http to a host that is not loopback gets one
# warning.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-route.sh

FAST=(--base-delay 250ms --max-delay 1s --wait-time 1)
EV3=$T/ev3
"$GEN" -n 3 --seed 24 > "$EV3"
with_src "$EV3" > "$EV3.src"
# the same events as persist marks them when DynamoDB fails: for retry.fifo
awk '{ sub(/}$/, ",\"_error\":{\"stage\":\"persist\",\"code\":\"throttled\",\"reason\":\"x\",\"retryable\":true}}"); print }' \
	"$EV3.src" > "$EV3.marked"
ESC=$(printf '\033')
lines() { grep -c '' "$1"; }
queues_empty() { # every queue holds nothing: visible + in flight + delayed
	local q n=0
	for q in "${QUEUES[@]}"; do n=$((n + $(sqs_count "$q"))); done
	[ "$n" = 0 ]
}

# --- local hygiene: no stand-ins needed ---------------------------------------------------
AWS_ENDPOINT_URL_SQS='http://admin:Pa55w0rd@127.0.0.1:1/?q=1' "$ROUTE" < /dev/null 2> "$T/ui1.err"
is "$?" 78 "an endpoint with a password and a query: exit 78"
unlike "$(cat "$T/ui1.err")" 'Pa55w0rd' "... the password is not printed"
like "$(cat "$T/ui1.err")" 'http://\*\*\*@127.0.0.1:1/\?q=1' "... the URL is quoted without its user information"
AWS_ENDPOINT_URL_DYNAMODB='ftp://admin:Pa55/w0rd@db.example/' "$PERSIST" < /dev/null 2> "$T/ui2.err"
is "$?" 78 "an ftp endpoint with a password: exit 78"
unlike "$(cat "$T/ui2.err")" 'Pa55|w0rd' "... no part of the password is printed"

mkfifo "$T/creds.fifo"
with_timeout 10 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$T/creds.fifo" \
	"$PERSIST" < /dev/null 2> "$T/fifo.err"
is "$?" 78 "AWS_SHARED_CREDENTIALS_FILE naming a FIFO: exit 78 at once (not read for ever)"
is "$(lines "$T/fifo.err")" 1 "... one line"
like "$(cat "$T/fifo.err")" 'creds.fifo: a FIFO, not a regular file' "... saying what it is"
with_timeout 10 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE=/dev/zero \
	"$RETRY" 2> "$T/dev.err"
is "$?" 78 "AWS_SHARED_CREDENTIALS_FILE naming a device: exit 78"
like "$(cat "$T/dev.err")" '/dev/zero: a device, not a regular file' "... saying what it is"

AWS_ENDPOINT_URL_DYNAMODB=http://dynamodb.example.invalid:8000 AWS_SESSION_TOKEN='TOKEN/plain+http==' "$PERSIST" \
	< /dev/null 2> "$T/plain.err"
is "$?" 0 "plain http to a host that is not loopback: allowed"
is "$(grep -c 'not loopback' "$T/plain.err")" 1 "... with one warning line"
like "$(cat "$T/plain.err")" 'http://dynamodb.example.invalid:8000 .*the signature is safe, the session token is not' \
	"... that says what is at risk"
unlike "$(cat "$T/plain.err")" 'TOKEN/plain' "... and never the token itself"
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 "$PERSIST" < /dev/null 2> "$T/loop.err"
is "$(grep -c 'not loopback' "$T/loop.err")" 0 "plain http to loopback: no warning"

ok start_standins "dynalite and fauxqs started, table and six queues provisioned"

# --- persist: request-level errors stop it, mark nothing -------------------------------------
# persist_front NAME FRONT-OPTIONS…: 3 events through persist -q behind a
# front; sets RC, OUT, ERR, REQ (the front's requests)
persist_front() {
	local name=$1 f
	shift
	f=$(start_front "$DDB_URL" --quiet "$@")
	AWS_MAX_ATTEMPTS=3 AWS_ENDPOINT_URL_DYNAMODB=$f with_timeout 30 "$PERSIST" -q < "$EV3.src" \
		> "$T/$name.out" 2> "$T/$name.err"
	RC=$?
	OUT=$T/$name.out ERR=$T/$name.err
	# the front counts a request once its answer is out, and may not have
	# written the count yet when persist has already exited: read it until
	# it holds still
	local prev=
	REQ=$(front_stat "$f" requests)
	while [ "$REQ" != "$prev" ]; do
		prev=$REQ
		sleep 0.3
		REQ=$(front_stat "$f" requests)
	done
	FRONT=$f
}
persist_front p302 --status 1 --status-answer '302:'
is "$RC" 69 "persist, a proxy's 302: exit 69"
is "$(wc -c < "$OUT")" 0 "persist, 302: no record written out (none marked retryable:false)"
is "$(lines "$ERR")" 1 "persist, 302: one line on stderr"
like "$(cat "$ERR")" 'HTTP 302.*not an answer of DynamoDB.*after 3 attempts' "persist, 302: it says what answered, after backing off and retrying"
is "$REQ" 3 "persist, 302: retried (3 requests, AWS_MAX_ATTEMPTS)"

persist_front p404 --status 1 --status-answer '404:<html><body>Not Found</body></html>'
is "$RC" 69 "persist, a proxy's 404 page: exit 69"
is "$(wc -c < "$OUT")" 0 "persist, 404: no record written out"
is "$REQ" 3 "persist, 404: retried (3 requests)"

persist_front pbig --big-body first:1
is "$RC" 0 "persist, a 33 MiB answer: exit 0"
is "$(grep -c '"_error"' "$OUT")/$(lines "$OUT")" "0/3" "persist, 33 MiB answer: the 3 records stored, unmarked"
is "$REQ/$(front_stat "$FRONT" big_body)" "2/1" "persist, 33 MiB answer: that request failed and was retried once"

F=$(start_front "$DDB_URL" --quiet)
AWS_ENDPOINT_URL_DYNAMODB=$F "$PERSIST" -q -t no_such_table < "$EV3.src" > "$T/nt.out" 2> "$T/nt.err"
is "$?" 78 "persist, a table that does not exist: exit 78 (configuration)"
is "$(wc -c < "$T/nt.out")" 0 "persist, missing table: no record written out"
is "$(lines "$T/nt.err")" 1 "persist, missing table: one line"
like "$(cat "$T/nt.err")" 'DynamoDB table no_such_table does not exist.*ResourceNotFoundException' "persist, missing table: said so"
is "$(front_stat "$F" requests)" 1 "persist, missing table: not retried"

# AccessDenied, with a message that tries to forge a log line and paint the terminal
DENIED='400:{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"User is not authorized\npersist: FORGED LINE \u001b[31mred\u001b[0m"}'
persist_front pdenied --status 1 --status-answer "$DENIED"
is "$RC" 69 "persist, AccessDeniedException: exit 69"
is "$(wc -c < "$OUT")" 0 "persist, access denied: no record written out"
is "$(lines "$ERR")" 1 "persist, access denied: the server's newline does not make a second line"
is "$(grep -c "$ESC" "$ERR")" 0 "persist, access denied: no raw ESC reaches stderr"
like "$(cat "$ERR")" 'User is not authorized\\x0apersist: FORGED LINE \\x1b\[31mred\\x1b\[0m' \
	"persist, access denied: the message is there, escaped"

# --- route: the same, for SQS ----------------------------------------------------------------
# route_front NAME INPUT FRONT-OPTIONS…: route -q behind a front; sets RC,
# OUT, ERR, SENDS (SendMessageBatch requests the front saw)
route_front() {
	local name=$1 input=$2 f
	shift 2
	f=$(start_front "$SQS_URL" --quiet "$@")
	AWS_MAX_ATTEMPTS=2 AWS_ENDPOINT_URL_SQS=$f with_timeout 30 "$ROUTE" -q < "$input" \
		> "$T/$name.out" 2> "$T/$name.err"
	RC=$?
	OUT=$T/$name.out ERR=$T/$name.err
	SENDS=$(front_stat "$f" ops.SendMessageBatch)
}
# the 3 events are for 3 clients: 3 batches; the first six sends answered
# 404: both attempts of each batch
route_front r404 "$EV3.src" --ops SendMessageBatch --status first:6 --status-answer '404:<html>Not Found</html>'
is "$RC" 69 "route, a 404 page for SendMessageBatch: exit 69"
is "$(wc -c < "$OUT")" 0 "route, 404: no outcome line (nothing acknowledged)"
like "$(head -1 "$ERR")" 'SQS SendMessageBatch: HTTP 404.*not an answer of SQS.*after 2 attempts' "route, 404: said on the first line"
ok test "$SENDS" -ge 2 -a "$SENDS" -le 6 "route, 404: $SENDS sends for 3 batches, retried, not split into per-record verdicts"
ok queues_empty "route, 404: nothing in any queue (no DLQ flood)"

route_front r302 "$EV3.src" --ops SendMessageBatch --status first:1 --status-answer '302:'
is "$RC" 0 "route, one 302 then SQS: exit 0"
is "$(grep -c '"_out":{"queue":"Client_' "$OUT")" 3 "route, one 302: the 3 events reach their queues"
is "$(sqs_count dlq.fifo)" 0 "route, one 302: nothing in the DLQ"
drain_all "$T/qr302"

NOQ='400:{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}'
route_front rnoq "$EV3.marked" --ops SendMessageBatch --status 1 --status-answer "$NOQ"
is "$RC" 78 "route, retry.fifo answers QueueDoesNotExist: exit 78 (configuration)"
is "$(wc -c < "$OUT")" 0 "route, retry.fifo missing: no outcome line"
like "$(head -1 "$ERR")" 'QueueDoesNotExist' "route, retry.fifo missing: said why"
ok queues_empty "route, retry.fifo missing: nothing sent anywhere (no DLQ flood)"

"$ROUTE" -q --retry-queue no_such_retry.fifo < "$EV3.marked" > "$T/nr.out" 2> "$T/nr.err"
is "$?" 78 "route, --retry-queue naming no queue: exit 78 before reading anything"
is "$(wc -c < "$T/nr.out")" 0 "route, --retry-queue naming no queue: no outcome"

ADEN='403:{"__type":"com.amazonaws.sqs#AccessDenied","message":"Access to the resource is denied.\u001b]0;pwned\u0007"}'
route_front rden "$EV3.src" --ops SendMessageBatch --status 1 --status-answer "$ADEN"
is "$RC" 69 "route, AccessDenied: exit 69"
is "$(wc -c < "$OUT")" 0 "route, AccessDenied: no outcome"
is "$(grep -c "$ESC" "$ERR")" 0 "route, AccessDenied: no raw ESC on stderr"
ok queues_empty "route, AccessDenied: nothing in any queue"

# --- retry ---------------------------------------------------------------------------------------
"$RETRY" --queue no_such_retry.fifo 2> "$T/yq.err"
is "$?" 78 "retry, retry.fifo missing: exit 78"
like "$(cat "$T/yq.err")" 'no_such_retry.fifo does not exist' "retry, retry.fifo missing: said so"

F=$(start_front "$SQS_URL" --quiet --ops ReceiveMessage --status 1 --status-answer '404:Not Found')
AWS_MAX_ATTEMPTS=2 AWS_ENDPOINT_URL_SQS=$F with_timeout 30 "$RETRY" -q "${FAST[@]}" 2> "$T/y404.err"
is "$?" 69 "retry, ReceiveMessage answered by a 404 page: exit 69 (not a receive loop for ever)"
is "$(lines "$T/y404.err")" 1 "retry, 404: one line"
like "$(cat "$T/y404.err")" 'ReceiveMessage: HTTP 404' "retry, 404: said why"

URL=$(sqs_url retry.fifo)
put_envelope() { # UID
	local body="{\"event\":{\"uid\":\"$1\",\"context\":\"integrações\",\"event_type\":\"INSERT\",\"client\":\"Client_C\",\"created_at\":\"2024-01-01T00:00:00Z\"},\"attempts\":1,\"errors\":[{\"attempt\":1,\"stage\":\"persist\",\"code\":\"throttled\",\"reason\":\"x\",\"retryable\":true}]}"
	aws_call sqs SendMessage "$(node -e 'console.log(JSON.stringify({QueueUrl: process.argv[1], MessageBody: process.argv[2], MessageGroupId: process.argv[3], MessageDeduplicationId: process.argv[3] + ":1"}))' "$URL" "$body" "$1")" > /dev/null
}

# A table that does not exist: stop, the message stays in retry.fifo (and
# comes back after the visibility timeout, 1 s here)
put_envelope no-table-1
with_timeout 30 "$RETRY" -q -t no_such_table --exit-when-empty --visibility-timeout 1 "${FAST[@]}" \
	2> "$T/ynt.err"
is "$?" 78 "retry, a table that does not exist: exit 78"
like "$(cat "$T/ynt.err")" 'DynamoDB table no_such_table does not exist' "retry, missing table: said so"
is "$(sqs_count dlq.fifo)" 0 "retry, missing table: the event is not sent to the DLQ"
is "$(sqs_count retry.fifo)" 1 "retry, missing table: it stays in retry.fifo"
drain_all "$T/ynt.q" 3
is "$(wc -l < "$T/ynt.q/retry.fifo")" 1 "retry, missing table: it comes back for the next retry"

# ApproximateReceiveCount 2^32 + 1: the attempt number is past the last, not 1
put_envelope huge-count-1
F=$(start_front "$SQS_URL" --quiet --receive-count 4294967297)
AWS_ENDPOINT_URL_SQS=$F with_timeout 30 "$RETRY" --exit-when-empty "${FAST[@]}" 2> "$T/yc.err"
is "$?" 0 "retry, ApproximateReceiveCount 4294967297: exit 0"
ok test "$(front_stat "$F" receive_count)" -ge 1 "retry, the front did rewrite the count"
drain_all "$T/yc.q"
is "$(wc -l < "$T/yc.q/Client_C.fifo")" 0 "retry, huge count: no new attempt (nothing sent to the client)"
is "$(wc -l < "$T/yc.q/dlq.fifo")" 1 "retry, huge count: to the DLQ, past the last attempt"
like "$(cat "$T/yc.q/dlq.fifo")" '"uid":"huge-count-1".*"attempts":5' "retry, huge count: counted as the 5 attempts allowed"

ok no_secret "$T"/*.err "no secret on any stderr"
done_testing
