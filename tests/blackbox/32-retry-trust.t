#!/usr/bin/env bash
# Issue 12, defence in depth: retry.fifo is a queue that anyone with send
# rights can write to, so retry checks each event against validate's schema
# (--schema, same default as validate) before it stores it. Envelopes forged
# straight into retry.fifo, an event for an unrelated application's queue
# (client "Other_App", whose queue exists) and an event with a field missing,
# go to the DLQ with {"stage":"retry","code":"schema"} and the schema's
# reason; they are never stored and never sent to any client's queue, while
# a valid envelope beside them is delivered as before. A broken or missing
# schema stops retry at start (exit 78).
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-route.sh

FAST=(--base-delay 250ms --max-delay 1s --wait-time 1)

# --- the schema option ----------------------------------------------------------------
"$RETRY" --help > "$T/help" 2> /dev/null
like "$(cat "$T/help")" '-s, --schema FILE' "--help lists --schema, as validate's"
"$RETRY" --schema "$T/no-such-schema.json" 2> "$T/noschema.err"
is "$?" 78 "a missing schema: exit 78 before anything is received"
like "$(cat "$T/noschema.err")" 'no-such-schema.json' "a missing schema: the file is named"
echo '{"type": 12}' > "$T/broken.json"
"$RETRY" --schema "$T/broken.json" 2> /dev/null
is "$?" 78 "a broken schema: exit 78"

ok start_standins "dynalite and fauxqs started, table and six queues provisioned"
# An unrelated application's queue, which a forged client name could reach.
quietly aws_call sqs CreateQueue '{"QueueName":"Other_App.fifo","Attributes":{"FifoQueue":"true","ContentBasedDeduplication":"true"}}'
ok test -n "$(sqs_url Other_App.fifo)" "Other_App.fifo exists"

URL=$(sqs_url retry.fifo)
put_envelope() { # UID EVENT-JSON: an envelope sent straight into retry.fifo
	local body="{\"event\":$2,\"attempts\":1,\"errors\":[{\"attempt\":1,\"stage\":\"persist\",\"code\":\"throttled\",\"reason\":\"forged\",\"retryable\":true}]}"
	aws_call sqs SendMessage "$(node -e 'console.log(JSON.stringify({QueueUrl: process.argv[1], MessageBody: process.argv[2], MessageGroupId: process.argv[3], MessageDeduplicationId: process.argv[3] + ":1"}))' "$URL" "$body" "$1")" > /dev/null
}
put_envelope forged-other '{"uid":"forged-other","context":"integrações","event_type":"INSERT","client":"Other_App","created_at":"2024-01-01T00:00:00Z"}'
put_envelope forged-missing '{"uid":"forged-missing","context":"integrações","event_type":"INSERT","client":"Client_A"}'
put_envelope forged-meta '{"uid":"forged-meta","context":"integrações","event_type":"INSERT","client":"Other_App","created_at":"2024-01-01T00:00:00Z","_error":{"stage":"validate"}}'
put_envelope good-1 '{"uid":"good-1","context":"integrações","event_type":"UPDATE","client":"Client_B","created_at":"2024-01-01T00:00:00.123-03:00"}'
is "$(sqs_count retry.fifo)" 4 "four envelopes in retry.fifo"

BEFORE=$(ddb_count pismo)
with_timeout 60 "$RETRY" --exit-when-empty "${FAST[@]}" 2> "$T/retry.err"
is "$?" 0 "retry --exit-when-empty: exit 0"
is "$(sqs_count retry.fifo)" 0 "retry.fifo is empty"
is "$(sqs_count Other_App.fifo)" 0 "nothing reached Other_App.fifo"
is "$(ddb_count pismo)" "$((BEFORE + 1))" "only the valid event was stored"
for u in forged-other forged-missing forged-meta; do
	ITEM=$(aws_call dynamodb GetItem "{\"TableName\":\"pismo\",\"Key\":{\"UUID\":{\"S\":\"$u\"}}}")
	unlike "$ITEM" '"Item"' "$u: not in the table"
done
drain_all "$T/q"
is "$(wc -l < "$T/q/Client_B.fifo")" 1 "the valid envelope beside them was delivered"
like "$(cat "$T/q/Client_B.fifo")" '"uid":"good-1"' "... its event, to its client's queue"
is "$(cat "$T/q/Client_A.fifo" "$T/q/Client_C.fifo" "$T/q/Client_D.fifo" | wc -l)" 0 "no other client queue got anything"
is "$(wc -l < "$T/q/dlq.fifo")" 3 "the DLQ holds the three forged envelopes"
for u in forged-other forged-missing forged-meta; do
	LINE=$(grep -F "$u" "$T/q/dlq.fifo")
	is "$(json_get _error.stage <<< "$LINE")/$(json_get _error.code <<< "$LINE")/$(json_get _error.retryable <<< "$LINE")" \
		"retry/schema/false" "$u: in the DLQ with stage retry, code schema, not retryable"
	like "$(json_get _raw <<< "$LINE")" "\"uid\":\"$u\"" "$u: the message kept as it came, under _raw"
done
like "$(json_get _error.reason < <(grep -F forged-other "$T/q/dlq.fifo"))" 'client.*Other_App.*is not one of' \
	"the reason is the schema's: the client is not one of the listed ones"
like "$(json_get _error.reason < <(grep -F forged-missing "$T/q/dlq.fifo"))" 'created_at' \
	"the reason is the schema's: created_at is missing"
like "$(cat "$T/retry.err")" 'the event is not valid' "said on stderr"
is "$(stat_of "$T/retry.err" final succeeded)/$(stat_of "$T/retry.err" final bad_messages)" "1/3" \
	"final stats: 1 succeeded, 3 refused"
ok no_secret "$T"/*.err "no secret on any stderr"
done_testing
