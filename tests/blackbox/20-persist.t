#!/usr/bin/env bash
# persist against dynalite (a real DynamoDB stand-in on a free loopback
# port): 10,000 generated events with 1% invalid through validate | persist
# store exactly the valid ones, every attribute right, output = input records
# in order; the same input again changes nothing; duplicate uids (later
# wins); a lone event is not held back; a kept connection closed by the
# server while idle; lines that are not events; dynalite killed
# mid-stream (failed writes come out marked retryable, none missing, the rest
# stored); SIGTERM drains; the secret never shows on stderr.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-persist.sh

N=10000
"$GEN" -n $N --invalid 1 --seed 7 --broken-list "$T/broken" > "$T/events"

# --- a fresh dynalite, provisioned ------------------------------------------
start_dynalite MAIN
ok provision "$MAIN_URL" "table pismo provisioned"
export AWS_ENDPOINT_URL_DYNAMODB=$MAIN_URL

# --- 10,000 events, 1% invalid: validate | persist ---------------------------
"$VALIDATE" < "$T/events" 2> "$T/v.err" | tee "$T/validated" | "$PERSIST" > "$T/out" 2> "$T/p.err"
is "${PIPESTATUS[*]}" "0 0 0" "validate | persist: exit 0"
INVALID=$(grep -c '"_error"' "$T/validated")
VALID=$((N - INVALID))
ok test "$INVALID" -gt 50 -a "$INVALID" -lt 200 "about 1% of the events are invalid ($INVALID)"
is "$(grep -n '"_error"' "$T/validated" | cut -d: -f1)" "$(cut -d' ' -f1 "$T/broken")" "the invalid ones are exactly the lines the generator broke"
ok cmp -s "$T/validated" "$T/out" "every record out in input order, byte for byte (stored and invalid alike)"
scan_items "$MAIN_URL" > "$T/items"
check "$T/validated" "$T/out" "$T/items" > "$T/check"
is "$(jget "$T/check" items)" "$VALID" "exactly the $VALID valid events are stored"
is "$(jget "$T/check" bad_items)" 0 "every stored item matches its event: UUID, Context, EventType, Client, CreatedAt, nothing else"
is "$(jget "$T/check" unstored)" 0 "every unmarked record's item is in the table"
is "$(jget "$T/check" passed)" "$INVALID" "records marked by validate pass untouched and are not stored"
is "$(jget "$T/check" marked)" 0 "persist marked nothing"
is "$(stat_of "$T/p.err" final stored)" "$VALID" "final stats: stored"
is "$(stat_of "$T/p.err" final records_out)" "$N" "final stats: records out"
is "$(stat_of "$T/p.err" final passed)" "$INVALID" "final stats: passed through"
like "$(stat_of "$T/p.err" final mean_batch)" '^2[0-5]\.' "final stats: batches of about 25 ($(stat_of "$T/p.err" final mean_batch))"
like "$(stat_of "$T/p.err" final latency_ms)" '"p50":[0-9.]+,"p99":[0-9.]+' "final stats: latency p50/p99"
diag "10k events: $(grep '"stats":"final"' "$T/p.err")"
CreatedAtSample=$(sed -n 1p "$T/events" | jstr created_at)
like "$(grep -F "$(sed -n 1p "$T/events" | jstr uid)" "$T/items")" "\"CreatedAt\":\\{\"S\":\"${CreatedAtSample//./\\.}\"\\}" "CreatedAt is the event's own text, fractional digits and offset kept"

# --- the same input again: one item per event, nothing changes ----------------
"$PERSIST" -q < "$T/validated" > "$T/out2" 2> "$T/p2.err"
is "$?" 0 "the same input again: exit 0"
ok cmp -s "$T/validated" "$T/out2" "the same records out again"
scan_items "$MAIN_URL" > "$T/items2"
is "$(wc -l < "$T/items2")" "$VALID" "still $VALID items"
ok cmp -s <(sort "$T/items") <(sort "$T/items2") "the table is unchanged"
is "$(cat "$T/p2.err")" "" "--quiet: nothing on stderr"

# --- duplicate uids: later wins, in one batch and across batches ---------------
ev() { printf '{"uid":"%s","context":"integrações","event_type":"%s","client":"Client_C","created_at":"%s","_src":{"n":%d}}\n' "$@"; }
{
	ev dup-a INSERT 2024-01-01T00:00:00Z 1
	ev dup-b INSERT 2024-01-01T00:00:00Z 2
	ev dup-a UPDATE 2024-01-01T00:00:01Z 3
	ev dup-a DELETE 2024-01-01T00:00:02Z 4
} > "$T/dup1"
"$PERSIST" -q < "$T/dup1" > "$T/dup1.out"
ok cmp -s "$T/dup1" "$T/dup1.out" "duplicate uids in one batch: every record out, unchanged"
like "$(get_item "$MAIN_URL" dup-a)" '"EventType":\{"S":"DELETE"\}.*"CreatedAt":\{"S":"2024-01-01T00:00:02Z"\}' "duplicate uids in one batch: the later event wins"
for i in $(seq 1 300); do ev "dup-x$((i % 7))" INSERT "2024-01-01T00:00:00.$(printf %04d $i)Z" "$i"; done > "$T/dup2"
"$PERSIST" -q -b 2 -i 8 -l 0 < "$T/dup2" > "$T/dup2.out"
ok cmp -s "$T/dup2" "$T/dup2.out" "300 writes of 7 uids in batches of 2, 8 in flight: every record out in order"
last_ok=0
for k in 0 1 2 3 4 5 6; do
	want=$(grep "\"dup-x$k\"" "$T/dup2" | tail -1 | jstr created_at)
	[[ "$(get_item "$MAIN_URL" "dup-x$k")" == *"\"CreatedAt\":{\"S\":\"$want\"}"* ]] && last_ok=$((last_ok + 1))
done
is "$last_ok" 7 "across batches in flight: the last write of each uid wins"

# --- a lone event is not held back ------------------------------------------
# No --stats-interval here: its wake-up would flush the batch whatever the
# linger timer does. A first event warms up (start-up, the connection to
# dynalite); the second one's delay is measured from the write to the line
# out, in milliseconds.
mkfifo "$T/lone.in"
"$PERSIST" < "$T/lone.in" > "$T/lone.out" 2> "$T/lone.err" &
LPID=$!
exec 7> "$T/lone.in"
ev lone-1 INSERT 2024-01-01T00:00:00Z 1 >&7
ok wait_for 10 at_least "$T/lone.out" 1 "a first lone event comes out, input still open"
LT0=${EPOCHREALTIME/./}
ev lone-2 INSERT 2024-01-01T00:00:00Z 2 >&7
wait_for 2 at_least "$T/lone.out" 2
LMS=$(((${EPOCHREALTIME/./} - LT0) / 1000))
# (a sanitizer build is slower: 1 s there, still far below the 2 s wait)
case $BUILD in */san) LMAX=1000 ;; *) LMAX=500 ;; esac
ok test "$LMS" -lt "$LMAX" "the next lone event comes out within the linger (${LMS} ms; linger 20 ms)"
exec 7>&-
wait "$LPID"
is "$?" 0 "then end of input: exit 0"
ok cmp -s "$T/lone.out" <(ev lone-1 INSERT 2024-01-01T00:00:00Z 1; ev lone-2 INSERT 2024-01-01T00:00:00Z 2) "the lone records, unchanged"
mkfifo "$T/idle.in"
"$PERSIST" --stats-interval 1 < "$T/idle.in" > "$T/idle1.out" 2> "$T/idle1.err" &
LPID=$!
exec 7> "$T/idle.in"
ev idle-stats INSERT 2024-01-01T00:00:00Z 1 >&7
idle_stats() { grep '"stats":"periodic"' "$T/idle1.err" | tail -1 | grep -q '"records_in":1,"records_out":1,"stored":1'; }
ok wait_for 10 idle_stats "--stats-interval 1: periodic stats while idle (input still open)"
exec 7>&-
wait "$LPID"
is "$?" 0 "--stats-interval 1: exit 0 at end of input"

# --- a kept connection that dynalite closed while idle (after 5 s) ---------------
{ ev idle-1 INSERT 2024-01-01T00:00:00Z 1; sleep 5.5; ev idle-2 INSERT 2024-01-01T00:00:00Z 2; } |
	"$PERSIST" > "$T/idle.out" 2> "$T/idle.err"
is "$?" 0 "a pause longer than dynalite's keep-alive: exit 0"
is "$(grep -c '"_error"' "$T/idle.out")" 0 "the request after the pause is not lost to the closed connection"
is "$(stat_of "$T/idle.err" final retries)" 0 "no backoff retry was needed for it"
like "$(get_item "$MAIN_URL" idle-2)" '"UUID":\{"S":"idle-2"\}' "the record after the pause is stored"

# --- lines that are not events ---------------------------------------------
{
	ev long-before INSERT 2024-01-01T00:00:00Z 1
	# over persist's limit: 1 MiB + 2 × 64 KiB of headroom (docs/records.md)
	head -c $((1024 * 1024 + 2 * 65536 + 10)) /dev/zero | tr '\0' 'x'; echo
	echo '{"uid":"","context":"integrações","event_type":"INSERT","client":"Client_C","created_at":"x"}'
	echo '{"uid":"no-client","context":"integrações","event_type":"INSERT","created_at":"x"}'
	echo '[1,2]'
	ev long-after INSERT 2024-01-01T00:00:00Z 2
} > "$T/odd"
"$PERSIST" -q < "$T/odd" > "$T/odd.out"
is "$?" 0 "odd lines: exit 0"
is "$(wc -l < "$T/odd.out")" 6 "odd lines: six records out"
is "$(sed -n 1p "$T/odd.out")" "$(sed -n 1p "$T/odd")" "the record before a 1 MiB line: stored, unchanged"
is "$(sed -n 6p "$T/odd.out")" "$(sed -n 6p "$T/odd")" "the record after it: stored, unchanged"
like "$(sed -n 2p "$T/odd.out")" '"_raw_truncated":true,"_error":\{"stage":"persist","code":"too_long".*"retryable":false' "a line over the limit: marked too_long"
like "$(sed -n 3p "$T/odd.out")" '"_error":\{"stage":"persist","code":"missing_field","reason":"uid: empty.*"retryable":false' "an empty uid: marked"
like "$(sed -n 4p "$T/odd.out")" '"reason":"client: missing' "a missing field: marked with its name"
like "$(sed -n 5p "$T/odd.out")" '^\{"_raw":"\[1,2\]","_error":\{"stage":"persist","code":"not_object"' "not an object: marked, text under _raw"
like "$(get_item "$MAIN_URL" long-after)" '"UUID":\{"S":"long-after"\}' "records around odd lines are stored"

# --- dynalite killed mid-stream -------------------------------------------
# A store on disk, so what was written before the kill can be checked after.
start_dynalite KILL --path "$T/store"
provision "$KILL_URL" >/dev/null
# 5,000 valid events, 250 every 0.1 s: the kill lands mid-stream.
grep -v '"_error"' "$T/validated" | head -5000 > "$T/k.in"
AWS_ENDPOINT_URL_DYNAMODB=$KILL_URL AWS_MAX_ATTEMPTS=3 "$PERSIST" --backoff-base-ms 20 \
	< <(trickle "$T/k.in" 250 0.1) > "$T/k.out" 2> "$T/k.err" &
PPID_=$!
wait_for 10 at_least "$T/k.out" 1000
{ kill -9 "$KILL_PID"; wait "$KILL_PID"; } 2> /dev/null # abruptly: no goodbye to its clients
wait "$PPID_"
is "$?" 0 "dynalite killed mid-stream: persist still exits 0"
is "$(wc -l < "$T/k.out")" 5000 "every record comes out, none missing"
ok cmp -s <(strip_error "$T/k.out") "$T/k.in" "in input order, each record's own text kept"
KMARKED=$(grep -c '"_error"' "$T/k.out")
ok test "$KMARKED" -gt 0 -a "$KMARKED" -lt 5000 "some records could not be stored ($KMARKED), some were"
is "$(grep '"_error"' "$T/k.out" | grep -vc '"stage":"persist","code":"connection",.*"retryable":true}}$')" 0 "each failed write is marked retryable, code connection"
like "$(head -1 "$T/k.err")" 'persist: DynamoDB BatchWriteItem: .*after 3 attempts' "the failure is said on stderr"
ok test "$(grep -c 'DynamoDB BatchWriteItem' "$T/k.err")" -lt 5 "an outage is reported once, not once per batch"
# Back up on the same store: every unmarked record was really stored.
start_dynalite KILL --path "$T/store"
scan_items "$KILL_URL" > "$T/k.items"
check "$T/k.in" "$T/k.out" "$T/k.items" > "$T/k.check"
is "$(jget "$T/k.check" unstored)" 0 "every record that came out unmarked is in the table"
is "$(jget "$T/k.check" bad_items)" 0 "and its item is right"
stop_pid "$KILL_PID"

# --- SIGTERM mid-stream: finish what was taken, exit 0 ----------------------
# A table of its own: the main one already holds these records from the
# first run, where a persist that stored nothing would find them.
start_dynalite SIGT
provision "$SIGT_URL" > /dev/null
is "$(AWS_ENDPOINT_URL_DYNAMODB=$SIGT_URL ddb_count pismo)" 0 "SIGTERM: a fresh, empty table"
AWS_ENDPOINT_URL_DYNAMODB=$SIGT_URL "$PERSIST" -q < <(trickle "$T/k.in" 100 0.1) > "$T/t.out" 2> "$T/t.err" &
TPID=$!
wait_for 10 at_least "$T/t.out" 300
kill -TERM "$TPID"
wait "$TPID"
is "$?" 0 "SIGTERM: exit 0"
TN=$(wc -l < "$T/t.out")
ok test "$TN" -ge 300 -a "$TN" -lt 5000 "SIGTERM: stopped reading early ($TN records out)"
ok cmp -s "$T/t.out" <(head -n "$TN" "$T/k.in") "SIGTERM: what came out is the input's head, in order, unmarked"
scan_items "$SIGT_URL" > "$T/t.items"
check <(head -n "$TN" "$T/k.in") "$T/t.out" "$T/t.items" > "$T/t.check"
is "$(jget "$T/t.check" unstored)" 0 "SIGTERM: every record out was stored first"
is "$(jget "$T/t.check" items)/$(jget "$T/t.check" bad_items)" "$TN/0" "SIGTERM: the table holds exactly those $TN, each item right"
stop_pid "$SIGT_PID"

# --- the secret never shows --------------------------------------------------
ok no_secret "$T"/*.err "the secret key appears in no stderr"
done_testing
