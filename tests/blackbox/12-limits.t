#!/usr/bin/env bash
# The limits between stages (docs/records.md, "Limits and headroom"): kcat-in
# writes records of at most 1 MiB; each later stage reads 64 KiB more than
# the one before, more than any stage appends, so a record near the limit is
# never "too long" further down. A schema-invalid event just under 1 MiB
# with kcat-in's _src goes validate | persist | route and comes out with its
# _src (so its offset is acknowledged); it reaches the DLQ whole when SQS's
# 1 MiB holds it, else reduced to its uid, its reason and _src. A line over
# every limit still carries its _src to the end. Marking a record that was
# already marked does not re-print it (numbers stay as written).
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-route.sh

# big UID CLIENT TOTAL OFFSET: an event of TOTAL bytes with kcat-in's _src
big() {
	local head tail pad
	head=$(printf '{"uid":"%s","context":"monitoramento","event_type":"INSERT","client":"%s","created_at":"2024-09-10T04:17:09Z","pad":"' "$1" "$2")
	tail=$(printf '","_src":{"topic":"stream_producer","partition":3,"offset":%d}}' "$4")
	pad=$(($3 - ${#head} - ${#tail}))
	{ printf '%s' "$head"; head -c "$pad" /dev/zero | tr '\0' 'x'; printf '%s\n' "$tail"; }
}

ok start_standins "dynalite and fauxqs started, table and six queues provisioned"

# --- headroom: the limits each tool reads by default ------------------------------
like "$("$VALIDATE" --help)" 'default 1114112' "validate reads 1 MiB + 64 KiB"
like "$("$PERSIST" --help)" 'default 1179648' "persist reads 1 MiB + 128 KiB"
like "$("$ROUTE" --help)" 'default 1245184' "route reads 1 MiB + 192 KiB"

# --- an invalid event of exactly 1 MiB (kcat-in's limit) and one of 900 kB -----------
{
	big near-limit Client_Z 1048576 7
	big whole-dlq Client_Z 900000 8
	big valid-one Client_A 2000 9
} > "$T/in"
is "$(sed -n 1p "$T/in" | wc -c)" 1048577 "the first record is 1 MiB (and a newline)"
"$VALIDATE" < "$T/in" 2> "$T/v.err" | tee "$T/validated" | "$PERSIST" 2> "$T/p.err" | tee "$T/persisted" |
	"$ROUTE" > "$T/out" 2> "$T/r.err"
is "${PIPESTATUS[*]}" "0 0 0 0 0" "validate | persist | route: exit 0"
is "$(wc -l < "$T/out")" 3 "three outcomes"
is "$(sed -n 1p "$T/persisted" | jstr _error.stage)" validate "persist passes the marked 1 MiB record on (not too_long)"
is "$(sed -n 1p "$T/out" | jstr _src.offset)" 7 "the 1 MiB event's outcome carries its _src"
is "$(sed -n 1p "$T/out" | jstr _out.queue)" dlq.fifo "the 1 MiB event went to the DLQ"
is "$(sed -n 1p "$T/out" | jstr _error.code)" schema "its outcome keeps validate's reason"
is "$(sed -n 1p "$T/out" | cut -c1-200)" "$(sed -n 1p "$T/in" | cut -c1-200)" "its outcome keeps its text"
is "$(sed -n 2p "$T/out" | jstr _src.offset)/$(sed -n 2p "$T/out" | jstr _out.queue)" 8/dlq.fifo \
	"the 900 kB event: outcome with _src, to the DLQ"
is "$(sed -n 3p "$T/out" | jstr _out.queue)" Client_A.fifo "the valid event around them: its client's queue"
drain_all "$T/q"
is "$(wc -l < "$T/q/dlq.fifo")" 2 "two messages in the DLQ"
grep '"near-limit"' "$T/q/dlq.fifo" > "$T/dlq1"
grep '"whole-dlq"' "$T/q/dlq.fifo" > "$T/dlq2"
is "$(jstr uid < "$T/dlq1")" near-limit "the reduced DLQ message names the event's uid"
is "$(jstr _src.offset < "$T/dlq1")" 7 "the reduced DLQ message carries _src"
is "$(jstr _error.code < "$T/dlq1")" schema "the reduced DLQ message carries the event's reason"
like "$(jstr _error.reason < "$T/dlq1")" "Client_Z" "… the reason a person reads"
is "$(jstr _raw_truncated < "$T/dlq1")" true "… and says it was cut"
is "$(cat "$T/dlq2")" "$(sed -n 2p "$T/validated")" "the 900 kB event reaches the DLQ whole"

# --- a line over every limit still carries _src to the end ------------------------------
big too-long Client_A 1400000 11 > "$T/long"
"$VALIDATE" < "$T/long" 2> /dev/null | "$PERSIST" 2> /dev/null | "$ROUTE" > "$T/long.out" 2> "$T/long.err"
is "${PIPESTATUS[*]}" "0 0 0" "a 1.4 MB line: exit 0"
is "$(jstr _error.code < "$T/long.out")" too_long "a 1.4 MB line: too_long"
is "$(jstr _src.offset < "$T/long.out")" 11 "a 1.4 MB line: its _src reaches the outcome"
"$ROUTE" < "$T/long" > "$T/long2.out" 2> /dev/null
is "$(jstr _src.offset < "$T/long2.out")" 11 "a 1.4 MB line straight into route: its _src in the outcome"
drain_all "$T/q2"
is "$(grep -c '"offset":11' "$T/q2/dlq.fifo")" 1 "… and in the DLQ message (once: deduplicated by its _src)"

# --- marking a marked record again does not re-print it ---------------------------------
# persist marked it retryable, but in its retry envelope it is over SQS's
# 1 MiB: route marks it again (too_large) and sends it to the DLQ.
big re-marked Client_A 1060000 12 |
	sed 's/"pad":/"n":1E14,"m":[1.50,-0],"pad":/; s/,"_src":/,"_error":{"stage":"persist","code":"throttled","retryable":true},"_src":/' > "$T/remark"
"$ROUTE" < "$T/remark" > "$T/remark.out" 2> /dev/null
is "$(jstr _error.stage < "$T/remark.out")/$(jstr _error.code < "$T/remark.out")" route/too_large \
	"re-marked by route: too large for retry.fifo"
like "$(cut -c1-200 "$T/remark.out")" '"n":1E14,"m":\[1\.50,-0\],"pad":"xxx' "… its numbers as written, not re-printed"
is "$(($(wc -c < "$T/remark.out") - $(wc -c < "$T/remark")))" "$(($(grep -o '"_error":{[^}]*}' "$T/remark.out" | wc -c) - $(grep -o '"_error":{[^}]*}' "$T/remark" | wc -c) + $(grep -o ',"_out":{[^}]*}' "$T/remark.out" | wc -c) - 1))" \
	"… it grew by the new _error and _out only"
like "$(cat "$T/remark.out")" '"_src":\{"topic":"stream_producer","partition":3,"offset":12\},"_out":\{"queue":"dlq.fifo"' \
	"… _src kept, then _out"

done_testing
